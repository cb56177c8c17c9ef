//! Structured plans → assign → the allocator's invariants.
//!
//! `arbitrary` builds a machine (pc or q35), a capability subset (or the full
//! QEMU 8.0 set), and up to 48 devices with optional explicit addresses,
//! including PCI controllers. When assignment succeeds:
//! no two devices share an address; every device's flags are compatible
//! (explicit mode) with what its bus's controller model accepts; the
//! controllers form a tree (`Topology::from_plan`); explicit addresses are
//! kept (on bus 0 and on buses of explicitly indexed
//! controllers). Failure must leave the plan unchanged.
//!
//! With an arbitrary placement policy (`pciplan::policy`) the same plan is
//! also planned under it: no panic, a failure changes nothing, and a plan
//! that succeeds has no shared address, keeps every given address, and is a
//! fixed point of the policy and of libvirt's algorithm.
#![no_main]

use std::collections::BTreeSet;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use pciplan::device::{
    BalloonModel, DiskBus, FsDriver, InputBus, ScsiModel, SoundModel, UsbModel, VideoModel,
};
use pciplan::explain::Selector;
use pciplan::flags::{CheckMode, check_compatible};
use pciplan::policy::{Group, IoWindows, Policy};
use pciplan::{
    Capabilities, ConnectFlags, Controller, ControllerKind, Device, DeviceAddress, DeviceKind,
    Machine, NicModel, PciAddress, Plan, Topology, VirtioModel,
};

const CAPS: [&str; 12] = [
    "pci-bridge",
    "pcie-root-port",
    "ioh3420",
    "pcie-pci-bridge",
    "dmi-to-pci-bridge",
    "virtio-pci-non-transitional",
    "piix3-usb-uhci",
    "qemu-xhci",
    "cirrus-vga",
    "lsi",
    "rtl8139",
    "x3130-upstream",
];

const MAX_DEVICES: usize = 48;

#[derive(Arbitrary, Debug)]
enum FVirtio {
    Default,
    Virtio,
    Transitional,
    NonTransitional,
}

impl FVirtio {
    fn model(&self) -> VirtioModel {
        match self {
            FVirtio::Default => VirtioModel::Default,
            FVirtio::Virtio => VirtioModel::Virtio,
            FVirtio::Transitional => VirtioModel::Transitional,
            FVirtio::NonTransitional => VirtioModel::NonTransitional,
        }
    }
}

#[derive(Arbitrary, Debug)]
enum FKind {
    Disk(FVirtio),
    Nic(u8),
    Rng(FVirtio),
    Sound(u8),
    Filesystem(FVirtio),
    Input(bool),
    Shmem,
    Video(u8),
    Balloon(bool),
    Scsi(bool),
    Usb(u8),
    /// A PCI controller: model (mod 10) and an optional index.
    Pci(u8, Option<u8>),
}

impl FKind {
    fn kind(&self) -> DeviceKind {
        match self {
            FKind::Disk(m) => DeviceKind::Disk {
                bus: DiskBus::Virtio,
                model: m.model(),
                drive_controller: None,
            },
            FKind::Nic(n) => DeviceKind::Interface {
                model: Some(match n % 5 {
                    0 => NicModel::Virtio,
                    1 => NicModel::VirtioTransitional,
                    2 => NicModel::E1000e,
                    3 => NicModel::Known("e1000".into()),
                    _ => NicModel::Known("rtl8139".into()),
                }),
                hostdev: None,
            },
            FKind::Rng(m) => DeviceKind::Rng(m.model()),
            FKind::Sound(s) => DeviceKind::Sound(match s % 3 {
                0 => SoundModel::Ich6,
                1 => SoundModel::Ich9,
                _ => SoundModel::Ac97,
            }),
            FKind::Filesystem(m) => DeviceKind::Filesystem {
                driver: FsDriver::Default,
                model: m.model(),
            },
            FKind::Input(virtio) => DeviceKind::Input {
                bus: if *virtio {
                    InputBus::Virtio
                } else {
                    InputBus::Other
                },
                model: VirtioModel::Default,
            },
            FKind::Shmem => DeviceKind::Shmem(pciplan::device::ShmemModel::Plain),
            FKind::Video(v) => DeviceKind::Video(match v % 3 {
                0 => VideoModel::Cirrus,
                1 => VideoModel::Virtio,
                _ => VideoModel::Qxl,
            }),
            FKind::Balloon(none) => DeviceKind::Memballoon(if *none {
                BalloonModel::None
            } else {
                BalloonModel::Virtio
            }),
            FKind::Scsi(virtio) => DeviceKind::Controller(Controller {
                kind: ControllerKind::Scsi(Some(if *virtio {
                    ScsiModel::VirtioScsi
                } else {
                    ScsiModel::Lsilogic
                })),
                index: None,
                companion: false,
            }),
            FKind::Usb(u) => DeviceKind::Controller(Controller {
                kind: ControllerKind::Usb(Some(if u % 2 == 0 {
                    UsbModel::NecXhci
                } else {
                    UsbModel::Ehci
                })),
                index: None,
                companion: false,
            }),
            FKind::Pci(model, index) => {
                let models = pciplan::controller::ALL_MODELS;
                let m = models[usize::from(*model) % models.len()];
                let mut c = Controller::pci(m, 0);
                c.index = index.map(u32::from);
                DeviceKind::Controller(c)
            }
        }
    }
}

#[derive(Arbitrary, Debug)]
struct FDevice {
    kind: FKind,
    /// bus, slot, function (slot and function reduced into range).
    address: Option<(u8, u8, u8)>,
}

#[derive(Arbitrary, Debug)]
struct Input {
    q35: bool,
    /// `None`: the full QEMU 8.0 set; `Some(mask)`: a subset of `CAPS`.
    caps: Option<u16>,
    devices: Vec<FDevice>,
    policy: Option<FPolicy>,
}

/// A placement policy.
#[derive(Arbitrary, Debug)]
struct FPolicy {
    spare_ports: u8,
    expand: bool,
    strict: bool,
    host_multifunction: bool,
    hotplug_off_disks: bool,
    refuse_io: bool,
    /// A group of every N-th interface (N = 2 + n % 3), on NUMA node 1.
    group: Option<u8>,
}

impl FPolicy {
    fn policy(&self) -> Policy {
        Policy {
            spare_ports: u32::from(self.spare_ports % 9),
            expand: self.expand,
            strict: self.strict,
            host_multifunction: self.host_multifunction,
            hotplug_off: if self.hotplug_off_disks {
                vec!["disk".into()]
            } else {
                Vec::new()
            },
            io_windows: if self.refuse_io {
                IoWindows::Refuse
            } else {
                IoWindows::Ignore
            },
            groups: self
                .group
                .map(|n| Group {
                    key: "g".into(),
                    node: Some(1),
                    devices: (1..=MAX_DEVICES)
                        .filter(|k| k % (2 + usize::from(n % 3)) == 0)
                        .map(|k| Selector::Element {
                            element: "interface".into(),
                            ordinal: k,
                        })
                        .collect(),
                })
                .into_iter()
                .collect(),
            ..Policy::default()
        }
    }
}

/// The plan under the policy: no panic; a failure changes nothing; a
/// success has no shared address, keeps the given addresses and is a fixed
/// point of the policy and of libvirt's algorithm.
fn check_policy(plan: &Plan, policy: &Policy) {
    let mut p = plan.clone();
    p.set_numa_cells(2);
    let before = p.clone();
    if p.assign_with(policy, &[]).is_err() {
        assert_eq!(p, before, "a failed policy plan changed the plan");
        return;
    }
    let mut seen = BTreeSet::new();
    for (_, a) in present(&p) {
        assert!(seen.insert(a.key()), "policy: address {a} used twice");
    }
    let mut again = p.clone();
    assert!(again.assign_with(policy, &[]).is_ok(), "policy: re-plan failed");
    assert_eq!(again, p, "policy: not a fixed point");
    let mut libvirt = p.clone();
    assert!(libvirt.assign().is_ok(), "policy: libvirt refuses the plan");
    assert_eq!(libvirt, p, "policy: libvirt's algorithm changes the plan");
}

fn present(plan: &Plan) -> Vec<(usize, PciAddress)> {
    plan.devices()
        .iter()
        .enumerate()
        .filter_map(|(i, d)| d.address.present().map(|a| (i, a)))
        .collect()
}

fuzz_target!(|input: Input| {
    let machine = if input.q35 {
        Machine::q35()
    } else {
        Machine::pc()
    };
    let caps = match input.caps {
        None => Capabilities::qemu_8_0_x86_64(),
        Some(mask) => Capabilities::from_names(
            CAPS.iter()
                .enumerate()
                .filter(|(i, _)| mask & (1 << i) != 0)
                .map(|(_, n)| *n),
        ),
    };
    let mut plan = Plan::new(machine, caps);
    for d in input.devices.iter().take(MAX_DEVICES) {
        let mut device = Device::new(d.kind.kind());
        if let Some((bus, slot, function)) = d.address
            && let Ok(a) = PciAddress::from_parts(bus, slot % 32, function % 8)
        {
            device = device.with_address(DeviceAddress::Pci(a));
        }
        plan.add_device(device);
    }
    let before = plan.clone();
    if let Some(fp) = &input.policy {
        check_policy(&plan, &fp.policy());
    }
    // Buses the input names through a PCI controller with an explicit index.
    // An explicit address on any other bus than these and bus 0 may be
    // rewritten by the dry-run bus bump (spec 7.1), so it is not checked.
    let known: BTreeSet<u8> = input
        .devices
        .iter()
        .take(MAX_DEVICES)
        .filter_map(|d| match d.kind {
            FKind::Pci(_, index) => index,
            _ => None,
        })
        .chain([0])
        .collect();
    // Devices that take no PCI address (a `none` balloon, video or USB
    // controller) lose a given one, as libvirt drops it
    // (docs/libvirt-rules.md, rules 20 and 32): not checked as kept.
    let takes_none = |i: usize| {
        plan.devices().get(i).is_some_and(|d| {
            matches!(
                d.kind,
                DeviceKind::Memballoon(pciplan::device::BalloonModel::None)
                    | DeviceKind::Video(pciplan::device::VideoModel::None)
                    | DeviceKind::Controller(pciplan::Controller {
                        kind: pciplan::ControllerKind::Usb(Some(pciplan::device::UsbModel::None)),
                        ..
                    })
            )
        })
    };
    let explicit: Vec<(usize, PciAddress)> = present(&plan)
        .into_iter()
        .filter(|(i, a)| known.contains(&a.bus()) && !takes_none(*i))
        .collect();
    if plan.assign().is_err() {
        assert_eq!(plan, before, "a failed assign changed the plan");
        return;
    }
    // No shared address.
    let mut seen = BTreeSet::new();
    for (_, a) in present(&plan) {
        assert!(seen.insert(a.key()), "address {a} used twice");
    }
    // Flags compatible with the bus.
    for (i, a) in present(&plan) {
        let model = plan
            .pci_controller(u32::from(a.bus()))
            .and_then(Controller::pci_model);
        let Some(model) = model else {
            panic!("device {i} at {a}: bus has no PCI controller");
        };
        let mut flags = plan.connect_flags_of(i);
        if flags.is_empty() {
            flags = ConnectFlags::PCI_DEVICE;
        }
        assert!(
            check_compatible(model.accepts(), flags, a, CheckMode::Explicit).is_ok(),
            "device {i} at {a} ({flags:?}) does not fit {model:?}"
        );
    }
    // A tree — unless the input itself placed a PCI controller: libvirt
    // (and so pciplan) accepts controllers that hang off each other when a
    // user address puts one below the other (tests/regressions.rs,
    // switch_ports_that_hang_off_each_other_are_assigned_like_libvirt).
    // The same happens without any user address when switch ports are
    // involved: a downstream port goes onto an upstream port's bus and the
    // upstream port onto that downstream port's bus (docs/libvirt-rules.md,
    // rule 19; oracle case min-switch-port-cycle-auto).
    let user_placed_controller = input
        .devices
        .iter()
        .take(MAX_DEVICES)
        .any(|d| matches!(d.kind, FKind::Pci(..)) && d.address.is_some());
    let switch_ports = plan.devices().iter().any(|d| {
        matches!(
            d.kind.controller().and_then(Controller::pci_model),
            Some(
                pciplan::ControllerModel::PcieSwitchUpstreamPort
                    | pciplan::ControllerModel::PcieSwitchDownstreamPort
            )
        )
    });
    if !user_placed_controller
        && !switch_ports
        && let Err(e) = Topology::from_plan(&plan)
    {
        panic!("not a tree: {e}");
    }
    // Explicit addresses kept.
    for (i, a) in explicit {
        let now = plan.devices().get(i).and_then(|d| d.address.present());
        assert_eq!(
            now.map(|x| x.key()),
            Some(a.key()),
            "device {i} moved from {a}"
        );
    }
});
