//! The connect-flags calculator (spec §3.1–3.3) through the public API.
//!
//! Every row of the §3.3 table is checked on both machines (i440fx, where the
//! PCI controller with index 0 is a pci-root, and q35, where it is a
//! pcie-root) and with both capability sets (QEMU 8.0, which has the
//! transitional/non-transitional virtio-pci variants, and an empty set).
//!
//! Expected values are written in the spec's vocabulary:
//! * P = PCI_DEVICE | AUTOASSIGN,
//! * E = PCIE_DEVICE | AUTOASSIGN on q35, else P,
//! * V = E when the capabilities have `virtio-pci-non-transitional`, else P,
//! * none = empty flags.

use pciplan::device::{
    BalloonModel, ChannelTarget, ConsoleTarget, DiskBus, FlagContext, FsDriver, HostdevSource,
    InputBus, IommuModel, MemoryModel, ScsiModel, SerialTarget, SoundModel, UsbModel, VideoModel,
    WatchdogModel, connect_flags,
};
use pciplan::machine::{HostDevice, HostPci};
use pciplan::{
    Capabilities, ConnectFlags as F, Controller, ControllerKind, ControllerModel, DeviceAddress,
    DeviceKind, NicModel, PciAddress, VirtioModel,
};

/// The spec's names for the expected value of a row.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Want {
    /// Conventional PCI.
    P,
    /// PCI Express on q35, else P.
    E,
    /// Virtio: E with the transitional capability, else P.
    V,
    /// V plus INTEGRATED (virtio IOMMU).
    VIntegrated,
    /// Does not use PCI.
    None,
}

const TRANSITIONAL_CAP: &str = "virtio-pci-non-transitional";

/// The value of `want` on a machine (`pcie_root`) with capabilities `caps`,
/// computed from the spec's definitions (§3.1), not from the crate.
fn expected(want: Want, pcie_root: bool, caps: &Capabilities) -> F {
    let p = F::PCI_DEVICE | F::AUTOASSIGN;
    let e = if pcie_root {
        F::PCIE_DEVICE | F::AUTOASSIGN
    } else {
        p
    };
    let v = if caps.has(TRANSITIONAL_CAP) { e } else { p };
    match want {
        Want::P => p,
        Want::E => e,
        Want::V => v,
        Want::VIntegrated => v | F::INTEGRATED,
        Want::None => F::empty(),
    }
}

/// Both capability sets of the checks: modern QEMU and nothing at all.
fn cap_sets() -> [(&'static str, Capabilities); 2] {
    let modern = Capabilities::qemu_8_0_x86_64();
    assert!(
        modern.has(TRANSITIONAL_CAP),
        "the QEMU 8.0 profile must have {TRANSITIONAL_CAP}"
    );
    let empty = Capabilities::empty();
    assert!(!empty.has(TRANSITIONAL_CAP));
    [("qemu-8.0", modern), ("no caps", empty)]
}

fn machine_name(pcie_root: bool) -> &'static str {
    if pcie_root { "q35" } else { "i440fx" }
}

/// Checks `kind` at `address` with host facts `host` on both machines and
/// both capability sets; `want(pcie_root)` names the expected value.
fn check_with(
    kind: &DeviceKind,
    address: &DeviceAddress,
    host: &HostPci,
    want: impl Fn(bool) -> Want,
) {
    for pcie_root in [false, true] {
        for (cap_name, caps) in cap_sets() {
            let ctx = FlagContext {
                pcie_root,
                caps: &caps,
                host,
            };
            let w = want(pcie_root);
            assert_eq!(
                connect_flags(kind, address, &ctx),
                expected(w, pcie_root, &caps),
                "{kind:?} at {address:?} on {} with {cap_name}: expected {w:?}",
                machine_name(pcie_root),
            );
        }
    }
}

/// Checks a device without an address and without host facts.
fn check(kind: DeviceKind, want: Want) {
    check_with(&kind, &DeviceAddress::None, &HostPci::default(), |_| want);
}

/// A test address; the literals below are all valid.
#[allow(clippy::unwrap_used)]
fn addr(s: &str) -> PciAddress {
    s.parse().unwrap()
}

fn disk(bus: DiskBus, model: VirtioModel) -> DeviceKind {
    DeviceKind::Disk {
        bus,
        model,
        drive_controller: None,
    }
}

fn nic(model: Option<NicModel>) -> DeviceKind {
    DeviceKind::Interface {
        model,
        hostdev: None,
    }
}

fn controller(kind: ControllerKind) -> DeviceKind {
    DeviceKind::Controller(Controller {
        kind,
        index: Some(0),
        companion: false,
    })
}

const ALL_VIRTIO_MODELS: [VirtioModel; 5] = [
    VirtioModel::Default,
    VirtioModel::Virtio,
    VirtioModel::Transitional,
    VirtioModel::NonTransitional,
    VirtioModel::Invalid,
];

/// The virtio rule of §3.2 for one model value.
fn virtio_rule(m: VirtioModel) -> Want {
    match m {
        VirtioModel::Default | VirtioModel::Virtio | VirtioModel::NonTransitional => Want::V,
        VirtioModel::Transitional => Want::P,
        VirtioModel::Invalid => Want::None,
    }
}

// ---------------------------------------------------------------------------
// §3.1 base values

#[test]
fn base_values_match_spec_definitions() {
    let host = HostPci::default();
    for pcie_root in [false, true] {
        for (_, caps) in cap_sets() {
            let ctx = FlagContext {
                pcie_root,
                caps: &caps,
                host: &host,
            };
            assert_eq!(ctx.p(), expected(Want::P, pcie_root, &caps));
            assert_eq!(ctx.e(), expected(Want::E, pcie_root, &caps));
            assert_eq!(ctx.v(), expected(Want::V, pcie_root, &caps));
        }
    }
}

#[test]
fn base_value_bits_are_libvirts() {
    assert_eq!(F::P.bits(), 0x11);
    assert_eq!(F::E_PCIE.bits(), 0x21);
    assert_eq!(expected(Want::P, true, &Capabilities::empty()).bits(), 0x11);
    assert_eq!(
        expected(Want::V, true, &Capabilities::qemu_8_0_x86_64()).bits(),
        0x21
    );
    assert_eq!(
        expected(Want::V, false, &Capabilities::qemu_8_0_x86_64()).bits(),
        0x11
    );
}

#[test]
fn v_depends_only_on_the_transitional_capability() {
    let host = HostPci::default();
    let only = Capabilities::from_names([TRANSITIONAL_CAP]);
    let ctx = FlagContext {
        pcie_root: true,
        caps: &only,
        host: &host,
    };
    assert_eq!(ctx.v(), F::PCIE_DEVICE | F::AUTOASSIGN);
    let mut without = Capabilities::qemu_8_0_x86_64();
    without.remove(TRANSITIONAL_CAP);
    let ctx = FlagContext {
        pcie_root: true,
        caps: &without,
        host: &host,
    };
    assert_eq!(ctx.v(), F::PCI_DEVICE | F::AUTOASSIGN);
}

// ---------------------------------------------------------------------------
// §3.2 the virtio rule (on virtio disks)

#[test]
fn virtio_disk_without_model_is_virtio_flags() {
    check(disk(DiskBus::Virtio, VirtioModel::Default), Want::V);
}

#[test]
fn virtio_disk_model_virtio_is_virtio_flags() {
    check(disk(DiskBus::Virtio, VirtioModel::Virtio), Want::V);
}

#[test]
fn virtio_non_transitional_disk_is_virtio_flags() {
    check(disk(DiskBus::Virtio, VirtioModel::NonTransitional), Want::V);
}

#[test]
fn virtio_transitional_disk_is_conventional_on_q35() {
    check(disk(DiskBus::Virtio, VirtioModel::Transitional), Want::P);
    let caps = Capabilities::qemu_8_0_x86_64();
    let host = HostPci::default();
    let q35 = FlagContext {
        pcie_root: true,
        caps: &caps,
        host: &host,
    };
    assert_eq!(
        connect_flags(
            &disk(DiskBus::Virtio, VirtioModel::Transitional),
            &DeviceAddress::None,
            &q35
        ),
        F::PCI_DEVICE | F::AUTOASSIGN
    );
}

#[test]
fn virtio_disk_with_out_of_range_model_uses_no_pci() {
    check(disk(DiskBus::Virtio, VirtioModel::Invalid), Want::None);
}

#[test]
fn virtio_disk_is_pcie_on_q35_with_modern_qemu_only() {
    let host = HostPci::default();
    let kind = disk(DiskBus::Virtio, VirtioModel::Default);
    let modern = Capabilities::qemu_8_0_x86_64();
    let old = Capabilities::empty();
    let at = |pcie_root, caps| {
        connect_flags(
            &kind,
            &DeviceAddress::None,
            &FlagContext {
                pcie_root,
                caps,
                host: &host,
            },
        )
    };
    assert_eq!(at(true, &modern), F::PCIE_DEVICE | F::AUTOASSIGN);
    assert_eq!(at(true, &old), F::PCI_DEVICE | F::AUTOASSIGN);
    assert_eq!(at(false, &modern), F::PCI_DEVICE | F::AUTOASSIGN);
    assert_eq!(at(false, &old), F::PCI_DEVICE | F::AUTOASSIGN);
}

// ---------------------------------------------------------------------------
// §3.3 disk

#[test]
fn non_virtio_disks_use_no_pci() {
    for bus in [
        DiskBus::Ide,
        DiskBus::Scsi,
        DiskBus::Sata,
        DiskBus::Fdc,
        DiskBus::Usb,
        DiskBus::Xen,
        DiskBus::Sd,
        DiskBus::Uml,
        DiskBus::None,
    ] {
        for m in ALL_VIRTIO_MODELS {
            check(disk(bus, m), Want::None);
        }
    }
}

// ---------------------------------------------------------------------------
// §3.3 interface

#[test]
fn hostdev_interface_gets_the_hostdev_rule() {
    let conventional = addr("0000:03:00.0");
    let express = addr("0000:04:00.0");
    let mut host = HostPci::default();
    host.insert(
        conventional,
        HostDevice {
            is_pcie: false,
            iommu_group: Some(7),
        },
    );
    host.insert(
        express,
        HostDevice {
            is_pcie: true,
            iommu_group: Some(8),
        },
    );
    // The interface's own model never matters: the hostdev record wins.
    for model in [None, Some(NicModel::Virtio), Some(NicModel::UsbNet)] {
        let iface = |src| DeviceKind::Interface {
            model: model.clone(),
            hostdev: Some(src),
        };
        let none = DeviceAddress::None;
        check_with(
            &iface(HostdevSource::Pci(Some(conventional))),
            &none,
            &host,
            |_| Want::P,
        );
        check_with(
            &iface(HostdevSource::Pci(Some(express))),
            &none,
            &host,
            |_| Want::E,
        );
        check_with(
            &iface(HostdevSource::Pci(Some(addr("0000:05:00.0")))),
            &none,
            &host,
            |_| Want::E,
        );
        // a present guest address makes it E on q35 whatever the host says
        let present = DeviceAddress::Pci(addr("0000:01:00.0"));
        check_with(
            &iface(HostdevSource::Pci(Some(conventional))),
            &present,
            &host,
            |_| Want::E,
        );
    }
}

#[test]
fn usb_net_interface_uses_no_pci() {
    check(nic(Some(NicModel::UsbNet)), Want::None);
    check(nic(Some(NicModel::parse("usb-net"))), Want::None);
}

#[test]
fn virtio_and_non_transitional_interfaces_are_virtio_flags() {
    check(nic(Some(NicModel::Virtio)), Want::V);
    check(nic(Some(NicModel::VirtioNonTransitional)), Want::V);
    check(nic(Some(NicModel::parse("virtio"))), Want::V);
    check(
        nic(Some(NicModel::parse("virtio-non-transitional"))),
        Want::V,
    );
}

#[test]
fn virtio_transitional_interface_is_conventional() {
    check(nic(Some(NicModel::VirtioTransitional)), Want::P);
    check(nic(Some(NicModel::parse("virtio-transitional"))), Want::P);
}

#[test]
fn e1000e_interface_is_express() {
    check(nic(Some(NicModel::E1000e)), Want::E);
    check(nic(Some(NicModel::parse("e1000e"))), Want::E);
}

#[test]
fn interface_without_model_is_express() {
    check(nic(None), Want::E);
}

#[test]
fn interface_with_unknown_model_string_is_express() {
    assert_eq!(
        NicModel::parse("ne2k_pci"),
        NicModel::Unknown("ne2k_pci".into())
    );
    check(nic(Some(NicModel::parse("ne2k_pci"))), Want::E);
    check(nic(Some(NicModel::Unknown("ne2k_pci".into()))), Want::E);
}

#[test]
fn other_known_interface_models_are_conventional() {
    for m in [
        "rtl8139",
        "e1000",
        "vmxnet3",
        "spapr-vlan",
        "lan9118",
        "netfront",
        "vmxnet",
        "vmxnet2",
        "vlance",
        "Am79C970A",
        "Am79C973",
        "82540EM",
        "82545EM",
        "82543GC",
    ] {
        let parsed = NicModel::parse(m);
        assert_eq!(parsed, NicModel::Known(m.into()), "{m} is a known model");
        check(nic(Some(parsed)), Want::P);
    }
}

// ---------------------------------------------------------------------------
// §3.3 sound

#[test]
fn pci_sound_cards_are_conventional() {
    for m in [
        SoundModel::Es1370,
        SoundModel::Ac97,
        SoundModel::Ich6,
        SoundModel::Ich9,
    ] {
        check(DeviceKind::Sound(m), Want::P);
    }
}

#[test]
fn non_pci_sound_cards_use_no_pci() {
    for m in [
        SoundModel::Sb16,
        SoundModel::Pcspk,
        SoundModel::Usb,
        SoundModel::Ich7,
    ] {
        check(DeviceKind::Sound(m), Want::None);
    }
}

// ---------------------------------------------------------------------------
// §3.3 video

#[test]
fn virtio_video_is_virtio_flags() {
    check(DeviceKind::Video(VideoModel::Virtio), Want::V);
}

#[test]
fn conventional_video_models_are_conventional() {
    for m in [
        VideoModel::Vga,
        VideoModel::Cirrus,
        VideoModel::Vmvga,
        VideoModel::Xen,
        VideoModel::Vbox,
        VideoModel::Qxl,
        VideoModel::Parallels,
    ] {
        check(DeviceKind::Video(m), Want::P);
    }
}

#[test]
fn bochs_video_is_express() {
    check(DeviceKind::Video(VideoModel::Bochs), Want::E);
}

#[test]
fn video_none_ramfb_gop_and_unresolved_use_no_pci() {
    for m in [
        VideoModel::None,
        VideoModel::Ramfb,
        VideoModel::Gop,
        VideoModel::Default,
    ] {
        check(DeviceKind::Video(m), Want::None);
    }
}

// ---------------------------------------------------------------------------
// §3.3 controllers

#[test]
fn pci_controller_has_its_own_flags_on_every_machine() {
    let own = |m: ControllerModel| match m {
        ControllerModel::PciRoot | ControllerModel::PcieRoot => F::empty(),
        ControllerModel::PciBridge => F::PCI_BRIDGE,
        ControllerModel::DmiToPciBridge => F::DMI_TO_PCI_BRIDGE,
        ControllerModel::PcieToPciBridge => F::PCIE_TO_PCI_BRIDGE,
        ControllerModel::PcieRootPort => F::PCIE_ROOT_PORT | F::AGGREGATE_SLOT,
        ControllerModel::PcieSwitchUpstreamPort => F::PCIE_SWITCH_UPSTREAM_PORT,
        ControllerModel::PcieSwitchDownstreamPort => F::PCIE_SWITCH_DOWNSTREAM_PORT,
        ControllerModel::PciExpanderBus => F::PCI_EXPANDER_BUS,
        ControllerModel::PcieExpanderBus => F::PCIE_EXPANDER_BUS,
    };
    let host = HostPci::default();
    for m in pciplan::controller::ALL_MODELS {
        let kind = DeviceKind::Controller(Controller::pci(m, 1));
        for pcie_root in [false, true] {
            for (cap_name, caps) in cap_sets() {
                let ctx = FlagContext {
                    pcie_root,
                    caps: &caps,
                    host: &host,
                };
                assert_eq!(
                    connect_flags(&kind, &DeviceAddress::None, &ctx),
                    own(m),
                    "{m} on {} with {cap_name}",
                    machine_name(pcie_root)
                );
                assert_eq!(own(m), m.connect_flags());
            }
        }
    }
}

#[test]
fn sata_controller_is_conventional() {
    check(controller(ControllerKind::Sata), Want::P);
}

#[test]
fn ide_controller_is_conventional() {
    check(controller(ControllerKind::Ide), Want::P);
}

#[test]
fn usb_controller_without_model_is_conventional() {
    check(controller(ControllerKind::Usb(None)), Want::P);
}

#[test]
fn xhci_usb_controllers_are_express() {
    for m in [UsbModel::NecXhci, UsbModel::QemuXhci] {
        check(controller(ControllerKind::Usb(Some(m))), Want::E);
    }
}

#[test]
fn uhci_ehci_ohci_usb_controllers_are_conventional() {
    for m in [
        UsbModel::Ehci,
        UsbModel::Ich9Ehci1,
        UsbModel::Ich9Uhci1,
        UsbModel::Ich9Uhci2,
        UsbModel::Ich9Uhci3,
        UsbModel::Vt82c686bUhci,
        UsbModel::Piix3Uhci,
        UsbModel::Piix4Uhci,
        UsbModel::PciOhci,
    ] {
        check(controller(ControllerKind::Usb(Some(m))), Want::P);
    }
}

#[test]
fn qusb_and_none_usb_controllers_use_no_pci() {
    for m in [UsbModel::Qusb1, UsbModel::Qusb2, UsbModel::None] {
        check(controller(ControllerKind::Usb(Some(m))), Want::None);
    }
}

#[test]
fn scsi_controller_without_model_or_ncr53c90_uses_no_pci() {
    check(controller(ControllerKind::Scsi(None)), Want::None);
    check(
        controller(ControllerKind::Scsi(Some(ScsiModel::Ncr53c90))),
        Want::None,
    );
}

#[test]
fn virtio_scsi_controllers_are_virtio_flags() {
    for m in [ScsiModel::VirtioScsi, ScsiModel::VirtioNonTransitional] {
        check(controller(ControllerKind::Scsi(Some(m))), Want::V);
    }
}

#[test]
fn transitional_and_emulated_scsi_controllers_are_conventional() {
    for m in [
        ScsiModel::VirtioTransitional,
        ScsiModel::Auto,
        ScsiModel::Buslogic,
        ScsiModel::Lsilogic,
        ScsiModel::Lsisas1068,
        ScsiModel::Lsisas1078,
        ScsiModel::Vmpvscsi,
        ScsiModel::Ibmvscsi,
        ScsiModel::Dc390,
        ScsiModel::Am53c974,
    ] {
        check(controller(ControllerKind::Scsi(Some(m))), Want::P);
    }
}

#[test]
fn virtio_serial_controller_is_virtio_flags() {
    for m in [
        VirtioModel::Default,
        VirtioModel::Virtio,
        VirtioModel::NonTransitional,
    ] {
        check(controller(ControllerKind::VirtioSerial(m)), Want::V);
    }
}

#[test]
fn transitional_virtio_serial_controller_is_conventional() {
    check(
        controller(ControllerKind::VirtioSerial(VirtioModel::Transitional)),
        Want::P,
    );
}

#[test]
fn fdc_ccid_xenbus_isa_controllers_use_no_pci() {
    for k in [
        ControllerKind::Fdc,
        ControllerKind::Ccid,
        ControllerKind::Xenbus,
        ControllerKind::Isa,
    ] {
        check(controller(k), Want::None);
    }
}

// ---------------------------------------------------------------------------
// §3.3 filesystem

#[test]
fn virtio_9p_filesystems_follow_the_virtio_rule() {
    for driver in [FsDriver::Default, FsDriver::Path, FsDriver::Handle] {
        for m in ALL_VIRTIO_MODELS {
            check(DeviceKind::Filesystem { driver, model: m }, virtio_rule(m));
        }
    }
}

#[test]
fn virtiofs_is_virtio_flags_whatever_the_model() {
    for m in ALL_VIRTIO_MODELS {
        check(
            DeviceKind::Filesystem {
                driver: FsDriver::Virtiofs,
                model: m,
            },
            Want::V,
        );
    }
}

#[test]
fn loop_nbd_ploop_filesystems_use_no_pci() {
    for driver in [FsDriver::Loop, FsDriver::Nbd, FsDriver::Ploop] {
        for m in ALL_VIRTIO_MODELS {
            check(DeviceKind::Filesystem { driver, model: m }, Want::None);
        }
    }
}

// ---------------------------------------------------------------------------
// §3.3 hostdev

/// Host facts: one conventional and one PCIe device, and an absent address.
fn host_facts() -> (HostPci, PciAddress, PciAddress, PciAddress) {
    let conventional = addr("0000:03:00.0");
    let express = addr("0000:04:00.0");
    let absent = addr("0000:05:00.0");
    let mut host = HostPci::default();
    host.insert(
        conventional,
        HostDevice {
            is_pcie: false,
            iommu_group: Some(3),
        },
    );
    host.insert(
        express,
        HostDevice {
            is_pcie: true,
            iommu_group: None,
        },
    );
    (host, conventional, express, absent)
}

/// A hostdev is P on i440fx whatever else holds (checked first), and
/// `on_q35` on q35.
fn check_hostdev(src: HostdevSource, address: DeviceAddress, host: &HostPci, on_q35: Want) {
    check_with(&DeviceKind::Hostdev(src), &address, host, |pcie_root| {
        if pcie_root { on_q35 } else { Want::P }
    });
}

#[test]
fn non_pci_hostdevs_use_no_pci() {
    let (host, ..) = host_facts();
    check_with(
        &DeviceKind::Hostdev(HostdevSource::Other),
        &DeviceAddress::None,
        &host,
        |_| Want::None,
    );
    check_with(
        &DeviceKind::Hostdev(HostdevSource::Other),
        &DeviceAddress::Pci(addr("0000:01:02.0")),
        &host,
        |_| Want::None,
    );
}

#[test]
fn every_pci_hostdev_is_conventional_on_i440fx() {
    let (host, conventional, express, absent) = host_facts();
    let sources = [
        HostdevSource::Pci(Some(conventional)),
        HostdevSource::Pci(Some(express)),
        HostdevSource::Pci(Some(absent)),
        HostdevSource::Pci(None),
        HostdevSource::MdevVfioPci,
        HostdevSource::MdevOther,
        HostdevSource::ScsiHost(VirtioModel::Default),
        HostdevSource::ScsiHost(VirtioModel::Transitional),
        // checked before the virtio rule: even LAST gives P
        HostdevSource::ScsiHost(VirtioModel::Invalid),
    ];
    for (cap_name, caps) in cap_sets() {
        let ctx = FlagContext {
            pcie_root: false,
            caps: &caps,
            host: &host,
        };
        for src in &sources {
            for address in [
                DeviceAddress::None,
                DeviceAddress::Pci(addr("0000:00:05.0")),
            ] {
                assert_eq!(
                    connect_flags(&DeviceKind::Hostdev(src.clone()), &address, &ctx),
                    F::PCI_DEVICE | F::AUTOASSIGN,
                    "{src:?} at {address:?} on i440fx with {cap_name}"
                );
            }
        }
    }
}

#[test]
fn hostdev_with_present_pci_address_is_express_on_q35() {
    let (host, conventional, express, absent) = host_facts();
    let present = || DeviceAddress::Pci(addr("0000:02:00.0"));
    for src in [
        HostdevSource::Pci(Some(conventional)),
        HostdevSource::Pci(Some(express)),
        HostdevSource::Pci(Some(absent)),
        HostdevSource::Pci(None),
        HostdevSource::MdevVfioPci,
        HostdevSource::MdevOther,
        HostdevSource::ScsiHost(VirtioModel::Default),
        HostdevSource::ScsiHost(VirtioModel::Transitional),
        HostdevSource::ScsiHost(VirtioModel::Invalid),
    ] {
        check_hostdev(src, present(), &host, Want::E);
    }
}

#[test]
fn mdev_hostdevs_are_express() {
    let (host, ..) = host_facts();
    check_hostdev(
        HostdevSource::MdevVfioPci,
        DeviceAddress::None,
        &host,
        Want::E,
    );
    check_hostdev(
        HostdevSource::MdevOther,
        DeviceAddress::None,
        &host,
        Want::E,
    );
}

#[test]
fn scsi_host_hostdev_follows_the_virtio_rule_on_q35() {
    let (host, ..) = host_facts();
    for m in ALL_VIRTIO_MODELS {
        check_hostdev(
            HostdevSource::ScsiHost(m),
            DeviceAddress::None,
            &host,
            virtio_rule(m),
        );
    }
}

#[test]
fn transitional_scsi_host_hostdev_is_conventional_on_q35() {
    let (host, ..) = host_facts();
    check_hostdev(
        HostdevSource::ScsiHost(VirtioModel::Transitional),
        DeviceAddress::None,
        &host,
        Want::P,
    );
}

#[test]
fn pci_hostdev_absent_from_host_is_express() {
    let (host, _, _, absent) = host_facts();
    check_hostdev(
        HostdevSource::Pci(Some(absent)),
        DeviceAddress::None,
        &host,
        Want::E,
    );
    check_hostdev(
        HostdevSource::Pci(Some(absent)),
        DeviceAddress::None,
        &HostPci::default(),
        Want::E,
    );
    check_hostdev(
        HostdevSource::Pci(None),
        DeviceAddress::None,
        &host,
        Want::E,
    );
}

#[test]
fn pci_hostdev_of_pcie_host_device_is_express() {
    let (host, _, express, _) = host_facts();
    check_hostdev(
        HostdevSource::Pci(Some(express)),
        DeviceAddress::None,
        &host,
        Want::E,
    );
}

#[test]
fn pci_hostdev_of_conventional_host_device_is_conventional_on_q35() {
    let (host, conventional, ..) = host_facts();
    check_hostdev(
        HostdevSource::Pci(Some(conventional)),
        DeviceAddress::None,
        &host,
        Want::P,
    );
}

#[test]
fn hostdev_with_empty_or_non_pci_address_uses_host_facts() {
    let (host, conventional, ..) = host_facts();
    // 0000:00:00.0 is "please assign", not a present address
    check_hostdev(
        HostdevSource::Pci(Some(conventional)),
        DeviceAddress::Pci(addr("0000:00:00.0")),
        &host,
        Want::P,
    );
    check_hostdev(
        HostdevSource::Pci(Some(conventional)),
        DeviceAddress::Other("unassigned".into()),
        &host,
        Want::P,
    );
}

#[test]
fn host_facts_come_from_tsv_as_well() {
    let tsv = "address\tvendor\tdevice\tclass\tiommu_group\tphysfn\tis_pcie\n\
               0000:06:00.0\t0x8086\t0x10c9\t0x0200\t12\t\tfalse\n\
               0000:07:00.0\t0x8086\t0x10c9\t0x0200\t13\t\ttrue\n";
    let host = HostPci::from_tsv(tsv).unwrap();
    check_hostdev(
        HostdevSource::Pci(Some(addr("0000:06:00.0"))),
        DeviceAddress::None,
        &host,
        Want::P,
    );
    check_hostdev(
        HostdevSource::Pci(Some(addr("0000:07:00.0"))),
        DeviceAddress::None,
        &host,
        Want::E,
    );
}

// ---------------------------------------------------------------------------
// §3.3 memballoon, rng, watchdog, shmem, input

#[test]
fn virtio_memballoon_is_virtio_flags() {
    check(DeviceKind::Memballoon(BalloonModel::Virtio), Want::V);
    check(
        DeviceKind::Memballoon(BalloonModel::VirtioNonTransitional),
        Want::V,
    );
}

#[test]
fn transitional_memballoon_is_conventional() {
    check(
        DeviceKind::Memballoon(BalloonModel::VirtioTransitional),
        Want::P,
    );
}

#[test]
fn xen_and_none_memballoon_use_no_pci() {
    check(DeviceKind::Memballoon(BalloonModel::Xen), Want::None);
    check(DeviceKind::Memballoon(BalloonModel::None), Want::None);
}

#[test]
fn virtio_rng_is_virtio_flags() {
    for m in [
        VirtioModel::Default,
        VirtioModel::Virtio,
        VirtioModel::NonTransitional,
    ] {
        check(DeviceKind::Rng(m), Want::V);
    }
}

#[test]
fn transitional_rng_is_conventional() {
    check(DeviceKind::Rng(VirtioModel::Transitional), Want::P);
}

#[test]
fn i6300esb_watchdog_is_conventional() {
    check(DeviceKind::Watchdog(WatchdogModel::I6300esb), Want::P);
}

#[test]
fn ib700_and_diag288_watchdogs_use_no_pci() {
    check(DeviceKind::Watchdog(WatchdogModel::Ib700), Want::None);
    check(DeviceKind::Watchdog(WatchdogModel::Diag288), Want::None);
    check(DeviceKind::Watchdog(WatchdogModel::Itco), Want::None);
}

#[test]
fn shmem_is_conventional() {
    check(
        DeviceKind::Shmem(pciplan::device::ShmemModel::Plain),
        Want::P,
    );
}

#[test]
fn virtio_input_follows_the_virtio_rule() {
    for m in ALL_VIRTIO_MODELS {
        check(
            DeviceKind::Input {
                bus: InputBus::Virtio,
                model: m,
            },
            virtio_rule(m),
        );
    }
}

#[test]
fn non_virtio_input_uses_no_pci() {
    for m in ALL_VIRTIO_MODELS {
        check(
            DeviceKind::Input {
                bus: InputBus::Other,
                model: m,
            },
            Want::None,
        );
    }
}

// ---------------------------------------------------------------------------
// §3.3 character devices and the target-type quirk

#[test]
fn pci_serial_is_conventional() {
    check(DeviceKind::Serial(SerialTarget::Pci), Want::P);
}

#[test]
fn xen_channel_is_conventional_by_the_target_type_quirk() {
    check(DeviceKind::Channel(ChannelTarget::Xen), Want::P);
}

#[test]
fn uml_console_is_conventional_by_the_target_type_quirk() {
    check(DeviceKind::Console(ConsoleTarget::Uml), Want::P);
}

#[test]
fn other_character_devices_use_no_pci() {
    for t in [
        SerialTarget::None,
        SerialTarget::Isa,
        SerialTarget::Usb,
        SerialTarget::SpaprVio,
        SerialTarget::System,
        SerialTarget::Sclp,
    ] {
        check(DeviceKind::Serial(t), Want::None);
    }
    for t in [
        ChannelTarget::None,
        ChannelTarget::Guestfwd,
        ChannelTarget::Virtio { controller: 0 },
    ] {
        check(DeviceKind::Channel(t), Want::None);
    }
    for t in [
        ConsoleTarget::None,
        ConsoleTarget::Serial,
        ConsoleTarget::Xen,
        ConsoleTarget::Virtio { controller: 0 },
        ConsoleTarget::Other,
    ] {
        check(DeviceKind::Console(t), Want::None);
    }
    check(DeviceKind::Parallel, Want::None);
}

// ---------------------------------------------------------------------------
// §3.3 iommu, vsock, memory

#[test]
fn virtio_iommu_is_virtio_flags_plus_integrated() {
    check(DeviceKind::Iommu(IommuModel::Virtio), Want::VIntegrated);
    let caps = Capabilities::qemu_8_0_x86_64();
    let host = HostPci::default();
    let q35 = FlagContext {
        pcie_root: true,
        caps: &caps,
        host: &host,
    };
    assert_eq!(
        connect_flags(
            &DeviceKind::Iommu(IommuModel::Virtio),
            &DeviceAddress::None,
            &q35
        )
        .bits(),
        0x25
    );
}

#[test]
fn intel_and_smmuv3_iommus_use_no_pci() {
    check(DeviceKind::Iommu(IommuModel::Intel), Want::None);
    check(DeviceKind::Iommu(IommuModel::Smmuv3), Want::None);
}

#[test]
fn virtio_vsock_is_virtio_flags() {
    check(DeviceKind::Vsock(VirtioModel::Virtio), Want::V);
    check(DeviceKind::Vsock(VirtioModel::NonTransitional), Want::V);
}

#[test]
fn transitional_vsock_is_conventional() {
    check(DeviceKind::Vsock(VirtioModel::Transitional), Want::P);
}

#[test]
fn vsock_with_default_model_uses_no_pci() {
    check(DeviceKind::Vsock(VirtioModel::Default), Want::None);
}

#[test]
fn virtio_memory_devices_are_virtio_flags() {
    check(DeviceKind::Memory(MemoryModel::VirtioPmem), Want::V);
    check(DeviceKind::Memory(MemoryModel::VirtioMem), Want::V);
}

#[test]
fn dimm_nvdimm_sgx_memory_use_no_pci() {
    for m in [MemoryModel::Dimm, MemoryModel::Nvdimm, MemoryModel::SgxEpc] {
        check(DeviceKind::Memory(m), Want::None);
    }
}

// ---------------------------------------------------------------------------
// §3.3 kinds that never use PCI

#[test]
fn nvram_tpm_panic_hub_redirdev_smartcard_use_no_pci() {
    for k in [
        DeviceKind::Nvram,
        DeviceKind::Tpm { spapr_proxy: false },
        DeviceKind::Panic,
        DeviceKind::Hub,
        DeviceKind::Redirdev,
        DeviceKind::Smartcard,
    ] {
        check(k, Want::None);
    }
}

// ---------------------------------------------------------------------------
// "the rule does not depend on the address the device already has"

#[test]
fn flags_of_non_hostdevs_do_not_depend_on_a_present_address() {
    let host = HostPci::default();
    let kinds = [
        disk(DiskBus::Virtio, VirtioModel::Transitional),
        disk(DiskBus::Virtio, VirtioModel::Default),
        disk(DiskBus::Ide, VirtioModel::Default),
        nic(Some(NicModel::Known("rtl8139".into()))),
        nic(Some(NicModel::E1000e)),
        nic(Some(NicModel::UsbNet)),
        DeviceKind::Sound(SoundModel::Ich9),
        DeviceKind::Video(VideoModel::Qxl),
        controller(ControllerKind::Usb(Some(UsbModel::QemuXhci))),
        DeviceKind::Memballoon(BalloonModel::VirtioTransitional),
        DeviceKind::Channel(ChannelTarget::Xen),
        DeviceKind::Iommu(IommuModel::Virtio),
        DeviceKind::Vsock(VirtioModel::Default),
        DeviceKind::Controller(Controller::pci(ControllerModel::PcieRootPort, 1)),
    ];
    for kind in &kinds {
        for pcie_root in [false, true] {
            for (_, caps) in cap_sets() {
                let ctx = FlagContext {
                    pcie_root,
                    caps: &caps,
                    host: &host,
                };
                let without = connect_flags(kind, &DeviceAddress::None, &ctx);
                for address in [
                    DeviceAddress::Pci(addr("0000:00:05.0")),
                    DeviceAddress::Pci(addr("0000:03:00.0")),
                    DeviceAddress::Other("ccw".into()),
                ] {
                    assert_eq!(
                        connect_flags(kind, &address, &ctx),
                        without,
                        "{kind:?} at {address:?} on {}",
                        machine_name(pcie_root)
                    );
                }
            }
        }
    }
}
