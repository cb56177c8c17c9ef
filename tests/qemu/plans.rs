//! The plans the suite boots: corpus cases (read as `tests/conformance.rs`
//! reads them) and seeded random plans.

use std::fs;
use std::path::{Path, PathBuf};

use pciplan::device::{
    BalloonModel, DiskBus, FsDriver, HostdevSource, ScsiModel, SerialTarget, SoundModel, UsbModel,
    VideoModel, WatchdogModel,
};
use pciplan::libvirt::{parse_caps_xml, parse_domain};
use pciplan::machine::HostPci;
use pciplan::{
    Capabilities, Controller, ControllerKind, ControllerModel, Device, DeviceAddress, DeviceKind,
    Machine, NicModel, PciAddress, Plan, VirtioModel,
};

/// One plan to boot.
pub struct Job {
    /// Name for the report.
    pub name: String,
    /// The assigned plan (host devices already replaced by stand-ins).
    pub plan: Plan,
    /// Stand-ins made (for the report).
    pub stand_ins: Vec<String>,
}

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/libvirt-9.0")
}

fn read(path: &Path) -> Result<String, String> {
    fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

/// The capability set libvirt's test harness used for a case (the rule of
/// `tests/conformance.rs`).
fn case_caps(meta: &toml::Table) -> Result<Capabilities, String> {
    let s = |k: &str| {
        meta.get(k)
            .and_then(toml::Value::as_str)
            .ok_or(format!("meta.toml: missing {k}"))
    };
    let file = || -> Result<Capabilities, String> {
        let path = corpus_dir().join(s("caps_file")?);
        parse_caps_xml(&read(&path)?).map_err(|e| format!("{}: {e}", path.display()))
    };
    match s("caps_mode")? {
        "latest" => Ok(Capabilities::from_names(file()?.names())),
        "version" => file(),
        "explicit" => {
            let names = meta
                .get("qemu_caps_flag_names")
                .and_then(toml::Value::as_array)
                .ok_or("meta.toml: missing qemu_caps_flag_names")?;
            Ok(Capabilities::from_names(
                names.iter().filter_map(toml::Value::as_str),
            ))
        }
        "none" => Ok(Capabilities::empty()),
        other => Err(format!("unknown caps_mode {other}")),
    }
}

/// A corpus case, parsed with its capabilities and assigned.
pub fn corpus_case(dir: &str) -> Result<Job, String> {
    let case = corpus_dir().join("cases").join(dir);
    let meta: toml::Table = read(&case.join("meta.toml"))?
        .parse()
        .map_err(|e| format!("meta.toml: {e}"))?;
    let caps = case_caps(&meta)?;
    let host = HostPci::from_tsv(&read(&corpus_dir().join("env/virpcimock-devices.tsv"))?)
        .map_err(|e| e.to_string())?;
    let (_, mut plan) =
        parse_domain(&read(&case.join("input.xml"))?, &caps, &host).map_err(|e| e.to_string())?;
    plan.assign().map_err(|e| format!("assign: {e}"))?;
    let stand_ins = stand_in(&mut plan);
    Ok(Job {
        name: dir.to_string(),
        plan,
        stand_ins,
    })
}

/// Replaces devices that need host resources (PCI passthrough, vhost-scsi,
/// vhost-vsock, evdev passthrough, virtiofs) by emulated devices at the same
/// address, so the topology can be booted anywhere. Returns what it did.
///
/// A passed-through host device becomes an emulated e1000 NIC, or a
/// virtio RNG on s390x, whose QEMU has no e1000.
pub fn stand_in(plan: &mut Plan) -> Vec<String> {
    let s390 = plan.machine().is_s390_ccw();
    let mut done = Vec::new();
    for i in 0..plan.devices().len() {
        let Some(d) = plan.device_mut(i) else {
            continue;
        };
        if d.address.present().is_none() {
            continue;
        }
        let before = d.to_string();
        let replacement = match &d.kind {
            DeviceKind::Hostdev(src)
            | DeviceKind::Interface {
                hostdev: Some(src), ..
            } => match src {
                // Host passthrough: an emulated conventional NIC stands in.
                HostdevSource::ScsiHost(m) => Some(DeviceKind::Rng(*m)),
                HostdevSource::Other => None,
                _ if s390 => Some(DeviceKind::Rng(VirtioModel::Default)),
                _ => Some(DeviceKind::Interface {
                    model: Some(NicModel::Known("e1000".into())),
                    hostdev: None,
                }),
            },
            DeviceKind::Vsock(m) => Some(DeviceKind::Rng(*m)),
            DeviceKind::Filesystem {
                driver: FsDriver::Virtiofs,
                model,
            } => Some(DeviceKind::Filesystem {
                driver: FsDriver::Default,
                model: *model,
            }),
            DeviceKind::Input { .. } if d.label == "passthrough" => {
                d.label = "tablet".into();
                done.push(format!("{before} -> virtio-tablet-pci"));
                None
            }
            _ => None,
        };
        if let Some(k) = replacement {
            d.kind = k;
            done.push(format!("{before} -> {}", d.kind.element()));
        }
    }
    done
}

/// The `ok` cases of the corpus for these architectures (MANIFEST.tsv
/// columns `kind`, `arch`, `selection`), whose input or output has PCI
/// devices or controllers (`selection` is `pci`).
pub fn pci_cases(arches: &[&str]) -> Vec<String> {
    let manifest = fs::read_to_string(corpus_dir().join("MANIFEST.tsv")).unwrap_or_default();
    let mut lines = manifest.lines();
    let header: Vec<&str> = lines.next().unwrap_or_default().split('\t').collect();
    let col = |name: &str| header.iter().position(|h| *h == name);
    let (Some(dir), Some(kind), Some(arch), Some(selection)) =
        (col("dir"), col("kind"), col("arch"), col("selection"))
    else {
        return Vec::new();
    };
    lines
        .filter_map(|l| {
            let c: Vec<&str> = l.split('\t').collect();
            let ok = c.get(kind) == Some(&"ok")
                && c.get(selection) == Some(&"pci")
                && c.get(arch).is_some_and(|a| arches.contains(a));
            ok.then(|| c.get(dir).map(|d| d.to_string())).flatten()
        })
        .collect()
}

/// Whether the plan has a PCI device or controller QEMU would show (an
/// addressed device, or a pSeries PHB besides the built-in one).
pub fn has_pci(plan: &Plan) -> bool {
    plan.devices().iter().any(|d| {
        d.address.present().is_some()
            || d.kind
                .controller()
                .is_some_and(|c| c.idx() > 0 && c.pci_model() == Some(ControllerModel::PciRoot))
    })
}

/// Whether the plan has a PCI controller with an address (a bridge or a
/// port), whose bus only firmware numbers.
pub fn has_bridges(plan: &Plan) -> bool {
    plan.devices().iter().any(|d| {
        d.address.present().is_some()
            && d.kind.controller().is_some_and(|c| c.pci_model().is_some())
    })
}

/// A small seeded generator (xorshift64*), so the random plans are the same
/// on every run.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }

    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    /// One of `items` (not empty).
    #[expect(clippy::expect_used, reason = "callers pass literal, non-empty lists")]
    pub fn pick<T: Clone>(&mut self, items: &[T]) -> T {
        let i = usize::try_from(self.below(items.len() as u64)).unwrap_or(0);
        items.get(i).cloned().expect("pick from a non-empty list")
    }

    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

fn virtio_model(r: &mut Rng) -> VirtioModel {
    r.pick(&[
        VirtioModel::Default,
        VirtioModel::Default,
        VirtioModel::Virtio,
        VirtioModel::Transitional,
        VirtioModel::NonTransitional,
    ])
}

fn controller(kind: ControllerKind, index: Option<u32>) -> DeviceKind {
    DeviceKind::Controller(Controller {
        kind,
        index,
        companion: false,
    })
}

/// One random device for the machine.
fn random_device(r: &mut Rng, q35: bool, pci_index: &mut u32) -> DeviceKind {
    match r.below(16) {
        0..=2 => DeviceKind::Interface {
            model: Some(r.pick(&[
                NicModel::Virtio,
                NicModel::VirtioTransitional,
                NicModel::VirtioNonTransitional,
                NicModel::E1000e,
                NicModel::Known("e1000".into()),
                NicModel::Known("rtl8139".into()),
            ])),
            hostdev: None,
        },
        3..=5 => DeviceKind::Disk {
            bus: DiskBus::Virtio,
            model: virtio_model(r),
            drive_controller: None,
        },
        6 => DeviceKind::Rng(virtio_model(r)),
        7 => controller(
            ControllerKind::Scsi(Some(r.pick(&[
                ScsiModel::Lsilogic,
                ScsiModel::VirtioScsi,
                ScsiModel::VirtioTransitional,
            ]))),
            None,
        ),
        8 => controller(
            ControllerKind::Usb(Some(r.pick(&[
                UsbModel::QemuXhci,
                UsbModel::NecXhci,
                UsbModel::Ehci,
                UsbModel::PciOhci,
            ]))),
            None,
        ),
        9 => DeviceKind::Sound(r.pick(&[SoundModel::Ich6, SoundModel::Ich9, SoundModel::Ac97])),
        10 => DeviceKind::Serial(SerialTarget::Pci),
        11 => controller(ControllerKind::VirtioSerial(virtio_model(r)), None),
        12 => DeviceKind::Filesystem {
            driver: FsDriver::Default,
            model: virtio_model(r),
        },
        _ => {
            // A PCI controller with the next index.
            *pci_index += 1;
            let model = if q35 {
                r.pick(&[
                    ControllerModel::PcieRootPort,
                    ControllerModel::PcieRootPort,
                    ControllerModel::DmiToPciBridge,
                    ControllerModel::PcieToPciBridge,
                    ControllerModel::PciBridge,
                ])
            } else {
                ControllerModel::PciBridge
            };
            DeviceKind::Controller(Controller::pci(model, *pci_index))
        }
    }
}

/// A random plan, assigned; `None` when pciplan rejects it.
pub fn random_plan(seed: u64) -> Option<Job> {
    let mut r = Rng::new(seed);
    let q35 = r.chance(50);
    let mut caps = Capabilities::qemu_8_0_x86_64();
    let mut notes = Vec::new();
    if r.chance(20) {
        caps.remove("pcie-root-port");
        notes.push("no pcie-root-port (ioh3420)");
    }
    if r.chance(20) {
        caps.remove("virtio-pci-non-transitional");
        notes.push("no virtio (non-)transitional");
    }
    if q35 && r.chance(15) {
        caps.remove("pcie-pci-bridge");
        notes.push("no pcie-pci-bridge");
    }
    let machine = if q35 { Machine::q35() } else { Machine::pc() };
    let mut plan = Plan::new(machine, caps);
    if r.chance(60) {
        plan.add_device(Device::new(DeviceKind::Video(r.pick(&[
            VideoModel::Vga,
            VideoModel::Cirrus,
            VideoModel::Qxl,
            VideoModel::Virtio,
        ]))));
    }
    if r.chance(30) {
        plan.add_device(Device::new(DeviceKind::Memballoon(BalloonModel::None)));
    }
    if r.chance(15) {
        plan.add_device(Device::new(DeviceKind::Watchdog(WatchdogModel::I6300esb)));
    }
    let mut pci_index = 0;
    let max = if r.chance(15) { 60 } else { 20 };
    let count = 1 + r.below(max);
    for _ in 0..count {
        let kind = random_device(&mut r, q35, &mut pci_index);
        let mut d = Device::new(kind);
        // Sometimes an explicit address on bus 0, now and then on a
        // function other than 0.
        if r.chance(10) && !matches!(d.kind, DeviceKind::Controller(_)) {
            let slot = 2 + u8::try_from(r.below(0x1c)).unwrap_or(0);
            let function = if r.chance(30) {
                1 + u8::try_from(r.below(7)).unwrap_or(0)
            } else {
                0
            };
            if let Ok(a) = PciAddress::from_parts(0, slot, function) {
                d = d.with_address(DeviceAddress::Pci(a));
            }
        }
        plan.add_device(d);
    }
    plan.assign().ok()?;
    let machine = if q35 { "q35" } else { "pc" };
    let name = if notes.is_empty() {
        format!("random-{seed:03} ({machine}, {count} devices)")
    } else {
        format!(
            "random-{seed:03} ({machine}, {count} devices, {})",
            notes.join(", ")
        )
    };
    Some(Job {
        name,
        plan,
        stand_ins: Vec::new(),
    })
}
