//! Proptest strategies shared by the property-test binaries
//! (`tests/properties.rs` and those of explain, diff and capacity). Include
//! with `#[path = "common/strategies.rs"] mod strategies;`.
#![allow(dead_code)]

use pciplan::device::{
    BalloonModel, DiskBus, FsDriver, InputBus, ScsiModel, SoundModel, UsbModel, VideoModel,
};
use pciplan::{
    Capabilities, Controller, ControllerKind, Device, DeviceAddress, DeviceKind, Machine, NicModel,
    PciAddress, Plan, VirtioModel,
};
use proptest::prelude::*;

pub const CAPS: [&str; 12] = [
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

pub fn virtio_model() -> impl Strategy<Value = VirtioModel> {
    prop_oneof![
        4 => Just(VirtioModel::Default),
        1 => Just(VirtioModel::Virtio),
        2 => Just(VirtioModel::Transitional),
        2 => Just(VirtioModel::NonTransitional),
    ]
}

pub fn device_kind() -> impl Strategy<Value = DeviceKind> {
    prop_oneof![
        virtio_model().prop_map(|model| DeviceKind::Disk {
            bus: DiskBus::Virtio,
            model,
            drive_controller: None
        }),
        prop_oneof![
            Just(NicModel::Virtio),
            Just(NicModel::VirtioTransitional),
            Just(NicModel::E1000e),
            Just(NicModel::Known("e1000".into())),
            Just(NicModel::Known("rtl8139".into())),
        ]
        .prop_map(|m| DeviceKind::Interface {
            model: Some(m),
            hostdev: None
        }),
        virtio_model().prop_map(DeviceKind::Rng),
        prop_oneof![
            Just(SoundModel::Ich6),
            Just(SoundModel::Ich9),
            Just(SoundModel::Ac97)
        ]
        .prop_map(DeviceKind::Sound),
        virtio_model().prop_map(|model| DeviceKind::Filesystem {
            driver: FsDriver::Default,
            model
        }),
        virtio_model().prop_map(|model| DeviceKind::Input {
            bus: InputBus::Virtio,
            model: if model == VirtioModel::Default {
                model
            } else {
                VirtioModel::Virtio
            }
        }),
        Just(DeviceKind::Shmem(pciplan::device::ShmemModel::Plain)),
        prop_oneof![
            Just(ControllerKind::Scsi(Some(ScsiModel::Lsilogic))),
            Just(ControllerKind::Scsi(Some(ScsiModel::VirtioScsi))),
            Just(ControllerKind::Usb(Some(UsbModel::NecXhci))),
            Just(ControllerKind::Usb(Some(UsbModel::Ehci))),
        ]
        .prop_map(|kind| DeviceKind::Controller(Controller {
            kind,
            index: None,
            companion: false
        })),
    ]
}

/// A device, sometimes with an explicit address on bus 0.
pub fn device() -> impl Strategy<Value = Device> {
    (device_kind(), prop::option::weighted(0.15, 2u8..=0x1e)).prop_map(|(kind, slot)| {
        let d = Device::new(kind);
        match slot {
            Some(s) => d.with_address(DeviceAddress::Pci(
                PciAddress::from_parts(0, s, 0).unwrap_or_default(),
            )),
            None => d,
        }
    })
}

pub fn caps() -> impl Strategy<Value = Capabilities> {
    prop_oneof![
        2 => Just(Capabilities::qemu_8_0_x86_64()),
        1 => prop::sample::subsequence(CAPS.to_vec(), 0..=CAPS.len())
            .prop_map(Capabilities::from_names),
    ]
}

/// An x86 machine with any capability set, or another family with its
/// built-in set, sometimes without a few capabilities.
pub fn machine_and_caps() -> impl Strategy<Value = (Machine, Capabilities)> {
    let other = prop_oneof![
        Just(("aarch64", "virt")),
        Just(("armv7l", "virt")),
        Just(("riscv64", "virt")),
        Just(("ppc64", "pseries")),
        Just(("s390x", "s390-ccw-virtio")),
    ];
    let dropped = prop::sample::subsequence(
        vec![
            "pcie-root-port",
            "gpex-pcihost",
            "virtio-mmio",
            "zpci",
            "pcie-pci-bridge",
        ],
        0..=2,
    );
    prop_oneof![
        3 => (prop_oneof![Just(Machine::pc()), Just(Machine::q35())], caps()),
        2 => (other, dropped).prop_map(|((arch, name), dropped)| {
            let mut caps = Capabilities::builtin(arch);
            if arch == "s390x" {
                caps.insert("zpci");
            }
            for d in dropped {
                caps.remove(d);
            }
            (Machine::new(arch, name).unwrap_or_else(|_| Machine::pc()), caps)
        }),
    ]
}

pub fn plan() -> impl Strategy<Value = Plan> {
    (
        machine_and_caps(),
        prop::collection::vec(device(), 0..40),
        prop::option::of(prop_oneof![
            Just(VideoModel::Cirrus),
            Just(VideoModel::Virtio),
            Just(VideoModel::Qxl)
        ]),
        prop::bool::ANY,
    )
        .prop_map(|((m, c), devices, video, balloon_none)| {
            let mut p = Plan::new(m, c);
            if let Some(v) = video {
                p.add_device(Device::new(DeviceKind::Video(v)));
            }
            if balloon_none {
                p.add_device(Device::new(DeviceKind::Memballoon(BalloonModel::None)));
            }
            for d in devices {
                p.add_device(d);
            }
            p
        })
}

pub fn config() -> ProptestConfig {
    ProptestConfig::with_cases(
        std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(64),
    )
}

/// A plan on pc or q35 only (with any capability set).
pub fn x86_plan() -> impl Strategy<Value = Plan> {
    (
        prop_oneof![Just(Machine::pc()), Just(Machine::q35())],
        caps(),
        prop::collection::vec(device(), 0..30),
    )
        .prop_map(|(m, c, devices)| {
            let mut p = Plan::new(m, c);
            for d in devices {
                p.add_device(d);
            }
            p
        })
}
