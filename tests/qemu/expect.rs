//! The PCI topology a plan should give, the one QEMU reports, and their
//! differences.
//!
//! A location is a *bus path*: the slot.function hops from the root bus to
//! the device (`[01.0, 00.0]` is slot 0 behind the bridge at 00:01.0), so
//! bus numbers (libvirt's controller indexes, the firmware's numbering) never
//! enter the comparison. Devices behind an expander bus start with the hop of
//! the expander device on bus 0. On pSeries a path also names its PHB by the
//! PHB's target index (QEMU's `index` property), since every PHB has a root
//! bus numbered 0.
//!
//! The expected vendor and device ids come from this file's own table of
//! QEMU devices, not from `pciplan::qemu`, so a wrong driver choice shows.

use std::collections::BTreeMap;
use std::fmt;

use pciplan::device::{
    BalloonModel, ControllerKind, DeviceKind, FsDriver, HostdevSource, IommuModel, MemoryModel,
    ScsiModel, SerialTarget, SoundModel, UsbModel, VideoModel, WatchdogModel,
};
use pciplan::{ControllerModel, Device, MachineFamily, NicModel, Plan, VirtioModel};
use serde_json::Value;

/// A slot.function hop.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Hop(pub u8, pub u8);

/// A bus path: the root bus (a pSeries PHB's target index; 0 elsewhere)
/// and the hops from it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Path {
    /// The PHB's target index (pSeries), else 0.
    pub root: u32,
    /// The hops.
    pub hops: Vec<Hop>,
}

impl Path {
    /// A path on root bus 0.
    pub fn on_root(hops: Vec<Hop>) -> Path {
        Path { root: 0, hops }
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.root != 0 {
            write!(f, "phb{}:", self.root)?;
        }
        if self.hops.is_empty() {
            return f.write_str("(root)");
        }
        let hops: Vec<String> = self
            .hops
            .iter()
            .map(|h| format!("{:02x}.{}", h.0, h.1))
            .collect();
        f.write_str(&hops.join("/"))
    }
}

/// What sits at a location.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Occupant {
    /// PCI vendor id.
    pub vendor: u16,
    /// PCI device id.
    pub device: u16,
    /// A description (planned device, or QEMU's qdev id).
    pub what: String,
}

/// A topology: location → occupant.
pub type Topo = BTreeMap<Path, Occupant>;

const REDHAT: u16 = 0x1b36;
const VIRTIO: u16 = 0x1af4;
const INTEL: u16 = 0x8086;

/// Vendor/device of a QEMU device model by driver name.
fn driver_ids(driver: &str) -> Option<(u16, u16)> {
    Some(match driver {
        "pcie-root-port" => (REDHAT, 0x000c),
        "ioh3420" => (INTEL, 0x3420),
        "pci-bridge" => (REDHAT, 0x0001),
        "i82801b11-bridge" => (INTEL, 0x244e),
        "pcie-pci-bridge" => (REDHAT, 0x000e),
        "x3130-upstream" => (0x104c, 0x8232),
        "xio3130-downstream" => (0x104c, 0x8233),
        "pxb" => (REDHAT, 0x0009),
        "pxb-pcie" => (REDHAT, 0x000b),
        _ => return None,
    })
}

/// A virtio device: legacy id (transitional) and modern id.
#[derive(Copy, Clone)]
struct Virtio(u16, u16);

const NET: Virtio = Virtio(0x1000, 0x1041);
const BLK: Virtio = Virtio(0x1001, 0x1042);
const BALLOON: Virtio = Virtio(0x1002, 0x1045);
const CONSOLE: Virtio = Virtio(0x1003, 0x1043);
const SCSI: Virtio = Virtio(0x1004, 0x1048);
const RNG: Virtio = Virtio(0x1005, 0x1044);
const NINEP: Virtio = Virtio(0x1009, 0x1049);

/// The id of a virtio device: `modern_bus` is QEMU's rule for the default
/// model (legacy off on a PCI Express port, on elsewhere).
fn virtio(v: Virtio, m: VirtioModel, modern_bus: bool) -> (u16, u16) {
    let modern = match m {
        VirtioModel::NonTransitional => true,
        VirtioModel::Transitional => false,
        VirtioModel::Default | VirtioModel::Virtio | VirtioModel::Invalid => modern_bus,
    };
    (VIRTIO, if modern { v.1 } else { v.0 })
}

/// The machine's own PCI devices under `-nodefaults`: the x86 chipset, the
/// GPEX host bridge of arm and riscv `virt`; none on pSeries and s390.
pub fn builtins(family: MachineFamily) -> Topo {
    let list: &[(u8, u8, u16, u16, &str)] = match family {
        MachineFamily::Q35 => &[
            (0x00, 0, INTEL, 0x29c0, "q35 host bridge"),
            (0x1f, 0, INTEL, 0x2918, "ICH9 LPC"),
            (0x1f, 2, INTEL, 0x2922, "ICH9 SATA (built in)"),
            (0x1f, 3, INTEL, 0x2930, "ICH9 SMBus"),
        ],
        MachineFamily::I440fx => &[
            (0x00, 0, INTEL, 0x1237, "i440fx host bridge"),
            (0x01, 0, INTEL, 0x7000, "PIIX3 ISA"),
            (0x01, 1, INTEL, 0x7010, "PIIX3 IDE (built in)"),
            (0x01, 3, INTEL, 0x7113, "PIIX4 ACPI"),
        ],
        MachineFamily::ArmVirt | MachineFamily::RiscvVirt => {
            &[(0x00, 0, REDHAT, 0x0008, "GPEX host bridge")]
        }
        _ => &[],
    };
    list.iter()
        .map(|&(s, f, vendor, device, what)| {
            (
                Path::on_root(vec![Hop(s, f)]),
                Occupant {
                    vendor,
                    device,
                    what: what.to_string(),
                },
            )
        })
        .collect()
}

/// The bus path of the bus with this number (a controller index).
///
/// QEMU's `pxb` (not `pxb-pcie`) puts a `pci-bridge` of its own at slot 0
/// of its root bus and plugs the devices given `bus=` the expander behind
/// that bridge, so the bus of a pci-expander-bus is one hop deeper.
fn bus_path(plan: &Plan, bus: u8) -> Result<Path, String> {
    let mut hops = Vec::new();
    let mut cur = bus;
    for _ in 0..=256 {
        let root = if cur == 0 { Some(0) } else { phb(plan, cur) };
        if let Some(root) = root {
            hops.reverse();
            return Ok(Path { root, hops });
        }
        let d = plan
            .devices()
            .iter()
            .find(|d| {
                d.kind
                    .controller()
                    .is_some_and(|c| c.pci_model().is_some() && c.idx() == u32::from(cur))
            })
            .ok_or(format!("bus {cur} has no PCI controller"))?;
        let a = d
            .address
            .present()
            .ok_or(format!("controller of bus {cur} has no address"))?;
        if is_pxb(d) {
            hops.push(PXB_BRIDGE);
        }
        hops.push(Hop(a.slot().as_u8(), a.function().as_u8()));
        cur = a.bus();
    }
    Err(format!("bus {bus}: controller chain has a cycle"))
}

/// The target index of the pSeries PHB that is controller `index`.
fn phb(plan: &Plan, index: u8) -> Option<u32> {
    if !plan.machine().is_pseries() {
        return None;
    }
    let c = plan.pci_controller(u32::from(index))?;
    let ControllerKind::Pci(p) = &c.kind else {
        return None;
    };
    (p.model == Some(ControllerModel::PciRoot))
        .then_some(p.target.index.unwrap_or(u32::from(index)))
}

/// Where QEMU puts the internal bridge of a `pxb`, on the expander's bus.
const PXB_BRIDGE: Hop = Hop(0, 0);

fn is_pxb(d: &Device) -> bool {
    d.kind
        .controller()
        .and_then(|c| c.pci_model())
        .is_some_and(|m| m == ControllerModel::PciExpanderBus)
}

/// The QEMU device name of a PCI controller in this plan.
fn controller_driver(plan: &Plan, d: &Device) -> Option<String> {
    let c = d.kind.controller()?;
    let ControllerKind::Pci(p) = &c.kind else {
        return None;
    };
    let model = p.model?;
    p.model_name
        .as_deref()
        .or_else(|| model.default_model_name(plan.caps()))
        .map(str::to_string)
}

/// Vendor/device the device should show; `Err` for kinds this table lacks.
fn ids(plan: &Plan, d: &Device, modern_bus: bool) -> Result<(u16, u16), String> {
    let v = |t: Virtio, m: VirtioModel| virtio(t, m, modern_bus);
    Ok(match &d.kind {
        DeviceKind::Controller(c) => match &c.kind {
            ControllerKind::Pci(_) => {
                let driver = controller_driver(plan, d).ok_or("PCI controller without model")?;
                driver_ids(&driver).ok_or(format!("no ids for {driver}"))?
            }
            ControllerKind::Ide => (INTEL, 0x7010),
            ControllerKind::Sata => (INTEL, 0x2922),
            ControllerKind::Usb(m) => match m.unwrap_or(UsbModel::Piix3Uhci) {
                UsbModel::Piix3Uhci => (INTEL, 0x7020),
                UsbModel::Piix4Uhci => (INTEL, 0x7112),
                UsbModel::Ehci => (INTEL, 0x24cd),
                UsbModel::Ich9Ehci1 => (INTEL, 0x293a),
                UsbModel::Ich9Uhci1 => (INTEL, 0x2934),
                UsbModel::Ich9Uhci2 => (INTEL, 0x2935),
                UsbModel::Ich9Uhci3 => (INTEL, 0x2936),
                UsbModel::Vt82c686bUhci => (0x1106, 0x3038),
                UsbModel::PciOhci => (0x106b, 0x003f),
                UsbModel::NecXhci => (0x1033, 0x0194),
                UsbModel::QemuXhci => (REDHAT, 0x000d),
                m => return Err(format!("no ids for USB {m:?}")),
            },
            ControllerKind::Scsi(m) => match m {
                None | Some(ScsiModel::Auto | ScsiModel::Lsilogic) => (0x1000, 0x0012),
                Some(ScsiModel::VirtioScsi) => v(SCSI, VirtioModel::Default),
                Some(ScsiModel::VirtioTransitional) => v(SCSI, VirtioModel::Transitional),
                Some(ScsiModel::VirtioNonTransitional) => v(SCSI, VirtioModel::NonTransitional),
                Some(ScsiModel::Lsisas1068) => (0x1000, 0x0054),
                Some(ScsiModel::Lsisas1078) => (0x1000, 0x0060),
                Some(ScsiModel::Vmpvscsi) => (0x15ad, 0x07c0),
                Some(ScsiModel::Am53c974 | ScsiModel::Dc390) => (0x1022, 0x2020),
                Some(m) => return Err(format!("no ids for SCSI {m:?}")),
            },
            ControllerKind::VirtioSerial(m) => v(CONSOLE, *m),
            k => return Err(format!("no ids for controller {k:?}")),
        },
        DeviceKind::Disk { model, .. } => v(BLK, *model),
        DeviceKind::Interface {
            model,
            hostdev: None,
        } => match model {
            None => (0x10ec, 0x8139),
            Some(NicModel::Virtio) => v(NET, VirtioModel::Default),
            Some(NicModel::VirtioTransitional) => v(NET, VirtioModel::Transitional),
            Some(NicModel::VirtioNonTransitional) => v(NET, VirtioModel::NonTransitional),
            Some(NicModel::E1000e) => (INTEL, 0x10d3),
            Some(NicModel::Known(s) | NicModel::Unknown(s)) => {
                match s.to_ascii_lowercase().as_str() {
                    "e1000" => (INTEL, 0x100e),
                    "rtl8139" => (0x10ec, 0x8139),
                    "ne2k_pci" => (0x10ec, 0x8029),
                    "pcnet" => (0x1022, 0x2000),
                    "vmxnet3" => (0x15ad, 0x07b0),
                    "i82559er" => (INTEL, 0x1209),
                    "i82551" | "i82557b" => (INTEL, 0x1229),
                    other => return Err(format!("no ids for NIC {other}")),
                }
            }
            Some(m) => return Err(format!("no ids for NIC {m:?}")),
        },
        DeviceKind::Sound(m) => match m {
            SoundModel::Ich6 => (INTEL, 0x2668),
            SoundModel::Ich9 => (INTEL, 0x293e),
            SoundModel::Ac97 => (INTEL, 0x2415),
            SoundModel::Es1370 => (0x1274, 0x5000),
            m => return Err(format!("no ids for sound {m:?}")),
        },
        DeviceKind::Video(m) => match m {
            VideoModel::Vga | VideoModel::Bochs => (0x1234, 0x1111),
            VideoModel::Cirrus => (0x1013, 0x00b8),
            VideoModel::Vmvga => (0x15ad, 0x0405),
            VideoModel::Qxl => (REDHAT, 0x0100),
            VideoModel::Virtio => (VIRTIO, 0x1050),
            m => return Err(format!("no ids for video {m:?}")),
        },
        DeviceKind::Serial(SerialTarget::Pci) => (REDHAT, 0x0002),
        DeviceKind::Filesystem {
            driver: FsDriver::Default | FsDriver::Path | FsDriver::Handle,
            model,
        } => v(NINEP, *model),
        DeviceKind::Watchdog(WatchdogModel::I6300esb) => (INTEL, 0x25ab),
        DeviceKind::Memballoon(m) => match m {
            BalloonModel::Virtio => v(BALLOON, VirtioModel::Default),
            BalloonModel::VirtioTransitional => v(BALLOON, VirtioModel::Transitional),
            BalloonModel::VirtioNonTransitional => v(BALLOON, VirtioModel::NonTransitional),
            m => return Err(format!("no ids for memballoon {m:?}")),
        },
        DeviceKind::Rng(m) => v(RNG, *m),
        DeviceKind::Shmem(_) => (VIRTIO, 0x1110),
        DeviceKind::Input { .. } => (VIRTIO, 0x1052),
        DeviceKind::Iommu(IommuModel::Virtio) => (VIRTIO, 0x1057),
        DeviceKind::Vsock(_) => (VIRTIO, 0x1053),
        DeviceKind::Memory(MemoryModel::VirtioPmem) => (VIRTIO, 0x105b),
        DeviceKind::Memory(MemoryModel::VirtioMem) => (VIRTIO, 0x1058),
        DeviceKind::Hostdev(HostdevSource::Pci(_)) => return Err("host PCI device".into()),
        k => return Err(format!("no ids for {k:?}")),
    })
}

/// The topology the plan should give on QEMU: the machine's devices plus
/// every PCI controller and device with an address.
pub fn expected(plan: &Plan) -> Result<Topo, String> {
    let mut topo = builtins(plan.machine().family());
    for d in plan.devices() {
        let Some(a) = d.address.present() else {
            continue;
        };
        // libvirt's first console of a serial port is that port again.
        let serial_twin = matches!(d.kind, DeviceKind::Console(_))
            && plan.devices().iter().any(|s| {
                matches!(s.kind, DeviceKind::Serial(_))
                    && s.address.present().is_some_and(|b| b.key() == a.key())
            });
        if serial_twin {
            continue;
        }
        let mut path = bus_path(plan, a.bus())?;
        path.hops.push(Hop(a.slot().as_u8(), a.function().as_u8()));
        let bus_model = plan
            .pci_controller(u32::from(a.bus()))
            .and_then(|c| c.pci_model());
        let modern_bus = matches!(
            bus_model,
            Some(
                ControllerModel::PcieRootPort
                    | ControllerModel::PcieSwitchDownstreamPort
                    | ControllerModel::PcieSwitchUpstreamPort
            )
        );
        let (vendor, device) = ids(plan, d, modern_bus).map_err(|e| format!("{d}: {e}"))?;
        let occupant = Occupant {
            vendor,
            device,
            what: format!("{d} at {a}"),
        };
        match topo.get(&path) {
            // A planned device the machine provides itself: its ids must agree.
            Some(b) if b.vendor == vendor && b.device == device => {}
            Some(b) => {
                return Err(format!(
                    "{d} planned at {a}, where the machine has {}",
                    b.what
                ));
            }
            None => {
                topo.insert(path.clone(), occupant);
            }
        }
        if is_pxb(d) {
            path.hops.push(PXB_BRIDGE);
            topo.insert(
                path,
                Occupant {
                    vendor: REDHAT,
                    device: 0x0001,
                    what: format!("internal pci-bridge of {d}"),
                },
            );
        }
    }
    Ok(topo)
}

/// Devices QEMU reports in `query-pci`, by bus path. `prefixes` holds the
/// path of each root bus of the list, in its order (bus 0, the expander
/// device for an expander's root bus, the PHB for a pSeries root bus).
pub fn observed(query_pci: &Value, prefixes: &[Path]) -> Result<Topo, String> {
    let mut topo = Topo::new();
    let buses = query_pci.as_array().ok_or("query-pci: not a list")?;
    if buses.len() != prefixes.len() {
        return Err("query-pci: a root bus without a path".into());
    }
    for (bus, prefix) in buses.iter().zip(prefixes) {
        walk(bus.get("devices"), prefix, &mut topo)?;
    }
    Ok(topo)
}

fn walk(devices: Option<&Value>, prefix: &Path, topo: &mut Topo) -> Result<(), String> {
    let Some(devices) = devices.and_then(Value::as_array) else {
        return Ok(());
    };
    for d in devices {
        let num = |k: &str| d.get(k).and_then(Value::as_u64).unwrap_or(u64::MAX);
        let id = |k: &str| {
            d.get("id")
                .and_then(|i| i.get(k))
                .and_then(Value::as_u64)
                .and_then(|n| u16::try_from(n).ok())
                .unwrap_or(0)
        };
        let (slot, function) = (num("slot"), num("function"));
        let hop = Hop(
            u8::try_from(slot).map_err(|_| "bad slot")?,
            u8::try_from(function).map_err(|_| "bad function")?,
        );
        let mut path = prefix.clone();
        path.hops.push(hop);
        let qdev = d.get("qdev_id").and_then(Value::as_str).unwrap_or("");
        topo.insert(
            path.clone(),
            Occupant {
                vendor: id("vendor"),
                device: id("device"),
                what: if qdev.is_empty() {
                    "(no id)".into()
                } else {
                    format!("id {qdev}")
                },
            },
        );
        if let Some(bridge) = d.get("pci_bridge") {
            walk(bridge.get("devices"), &path, topo)?;
        }
    }
    Ok(())
}

/// Expander devices on bus 0 (their qdev id and path): the caller reads
/// their `bus_nr` to build `pxb_roots`.
pub fn expanders(query_pci: &Value) -> Vec<(String, Path)> {
    let mut out = Vec::new();
    let Some(buses) = query_pci.as_array() else {
        return out;
    };
    for bus in buses {
        if bus.get("bus").and_then(Value::as_i64) != Some(0) {
            continue;
        }
        for d in bus
            .get("devices")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let id = |k: &str| d.get("id").and_then(|i| i.get(k)).and_then(Value::as_u64);
            let is_pxb = id("vendor") == Some(u64::from(REDHAT))
                && matches!(id("device"), Some(0x0009 | 0x000b));
            let qdev = d.get("qdev_id").and_then(Value::as_str).unwrap_or("");
            let (Some(slot), Some(function)) = (
                d.get("slot").and_then(Value::as_u64),
                d.get("function").and_then(Value::as_u64),
            ) else {
                continue;
            };
            if is_pxb && !qdev.is_empty() {
                out.push((
                    qdev.to_string(),
                    Path::on_root(vec![Hop(
                        u8::try_from(slot).unwrap_or(0xff),
                        u8::try_from(function).unwrap_or(0xff),
                    )]),
                ));
            }
        }
    }
    out
}

/// Differences: missing, wrong ids, unplanned.
pub fn diff(expected: &Topo, observed: &Topo) -> Vec<String> {
    let mut out = Vec::new();
    for (path, e) in expected {
        match observed.get(path) {
            None => out.push(format!("missing at {path}: {}", e.what)),
            Some(o) if (o.vendor, o.device) != (e.vendor, e.device) => out.push(format!(
                "wrong device at {path}: {} expected {:04x}:{:04x}, QEMU has {:04x}:{:04x} ({})",
                e.what, e.vendor, e.device, o.vendor, o.device, o.what
            )),
            Some(_) => {}
        }
    }
    for (path, o) in observed {
        if !expected.contains_key(path) {
            out.push(format!(
                "unplanned device at {path}: {:04x}:{:04x} ({})",
                o.vendor, o.device, o.what
            ));
        }
    }
    out
}
