//! The x86 worked examples of the spec's `examples.md`, through the public API.

use pciplan::device::{DiskBus, UsbModel};
use pciplan::{
    Capabilities, Controller, ControllerKind, ControllerModel, Device, DeviceAddress, DeviceKind,
    Machine, NicModel, PciAddress, Plan, VirtioModel,
};

fn addr(s: &str) -> PciAddress {
    s.parse().unwrap_or_default()
}

fn pci_controllers(plan: &Plan) -> Vec<(u32, ControllerModel, Option<String>)> {
    plan.devices()
        .iter()
        .filter_map(|d| {
            let c = d.kind.controller()?;
            let m = c.pci_model()?;
            Some((c.idx(), m, d.address.present().map(|a| format!("{a}"))))
        })
        .collect()
}

fn address_of(plan: &Plan, pred: impl Fn(&DeviceKind) -> bool) -> Option<String> {
    plan.devices()
        .iter()
        .find(|d| pred(&d.kind))
        .and_then(|d| d.address.present())
        .map(|a| a.to_string())
}

/// Example 1: an empty q35 guest gets USB, SATA, three root ports, balloon.
#[test]
fn empty_q35_gets_default_devices_and_one_spare_root_port() {
    let mut plan = Plan::new(Machine::q35(), Capabilities::qemu_8_0_x86_64());
    plan.assign().unwrap();
    let pci = pci_controllers(&plan);
    assert_eq!(
        pci,
        vec![
            (0, ControllerModel::PcieRoot, None),
            (
                1,
                ControllerModel::PcieRootPort,
                Some("0000:00:01.0".into())
            ),
            (
                2,
                ControllerModel::PcieRootPort,
                Some("0000:00:01.1".into())
            ),
            (
                3,
                ControllerModel::PcieRootPort,
                Some("0000:00:01.2".into())
            ),
        ]
    );
    assert_eq!(
        address_of(&plan, |k| matches!(
            k,
            DeviceKind::Controller(Controller {
                kind: ControllerKind::Usb(_),
                ..
            })
        )),
        Some("0000:01:00.0".into())
    );
    assert_eq!(
        address_of(&plan, |k| matches!(k, DeviceKind::Memballoon(_))),
        Some("0000:02:00.0".into())
    );
    assert_eq!(
        address_of(&plan, |k| matches!(
            k,
            DeviceKind::Controller(Controller {
                kind: ControllerKind::Sata,
                ..
            })
        )),
        Some("0000:00:1f.2".into())
    );
}

/// Example 3a: transitional virtio devices go behind a pcie-to-pci-bridge.
#[test]
fn transitional_virtio_on_q35_goes_behind_pcie_to_pci_bridge() {
    let mut plan = Plan::new(Machine::q35(), Capabilities::qemu_8_0_x86_64());
    plan.add_device(Device::new(DeviceKind::Controller(Controller {
        kind: ControllerKind::Usb(Some(UsbModel::None)),
        index: None,
        companion: false,
    })));
    plan.add_device(Device::new(DeviceKind::Disk {
        bus: DiskBus::Virtio,
        model: VirtioModel::Transitional,
        drive_controller: None,
    }));
    plan.add_device(Device::new(DeviceKind::Interface {
        model: Some(NicModel::VirtioTransitional),
        hostdev: None,
    }));
    plan.add_device(Device::new(DeviceKind::Memballoon(
        pciplan::device::BalloonModel::VirtioTransitional,
    )));
    plan.assign().unwrap();
    let pci = pci_controllers(&plan);
    assert_eq!(
        pci,
        vec![
            (0, ControllerModel::PcieRoot, None),
            (
                1,
                ControllerModel::PcieRootPort,
                Some("0000:00:01.0".into())
            ),
            (
                2,
                ControllerModel::PcieToPciBridge,
                Some("0000:01:00.0".into())
            ),
            (
                3,
                ControllerModel::PcieRootPort,
                Some("0000:00:01.1".into())
            ),
        ]
    );
    assert_eq!(
        address_of(&plan, |k| matches!(k, DeviceKind::Interface { .. })),
        Some("0000:02:01.0".into())
    );
    assert_eq!(
        address_of(&plan, |k| matches!(k, DeviceKind::Disk { .. })),
        Some("0000:02:02.0".into())
    );
}

/// Example 4: i440fx with 105 virtio disks needs three bridges.
#[test]
fn pc_with_105_disks_gets_three_bridges_after_held_back_slot() {
    let mut plan = Plan::new(Machine::pc(), Capabilities::from_names(["pci-bridge"]));
    for _ in 0..105 {
        plan.add_device(Device::new(DeviceKind::Disk {
            bus: DiskBus::Virtio,
            model: VirtioModel::Default,
            drive_controller: None,
        }));
    }
    plan.add_device(Device::new(DeviceKind::Memballoon(
        pciplan::device::BalloonModel::None,
    )));
    plan.assign().unwrap();
    let pci = pci_controllers(&plan);
    assert_eq!(pci.len(), 4);
    assert_eq!(
        pci[1],
        (1, ControllerModel::PciBridge, Some("0000:00:02.0".into()))
    );
    assert_eq!(
        pci[3],
        (3, ControllerModel::PciBridge, Some("0000:00:04.0".into()))
    );
    let last = plan
        .devices()
        .iter()
        .rfind(|d| matches!(d.kind, DeviceKind::Disk { .. }))
        .and_then(|d| d.address.present());
    assert_eq!(last, Some(addr("0000:03:10.0")));
}

/// Example 4 variant: 60 disks fail on the bridge, as in libvirt.
#[test]
fn pc_with_60_disks_fails_to_place_the_bridge() {
    let mut plan = Plan::new(Machine::pc(), Capabilities::qemu_8_0_x86_64());
    for _ in 0..60 {
        plan.add_device(Device::new(DeviceKind::Disk {
            bus: DiskBus::Virtio,
            model: VirtioModel::Default,
            drive_controller: None,
        }));
    }
    plan.add_device(Device::new(DeviceKind::Memballoon(
        pciplan::device::BalloonModel::None,
    )));
    let before = plan.clone();
    let err = plan.assign().unwrap_err();
    assert!(err.to_string().contains(
        "a PCI slot is needed to connect a PCI controller model='pci-bridge', but none is available, and it cannot be automatically added"
    ));
    assert_eq!(plan, before);
}

/// A present address is kept exactly.
#[test]
fn explicit_address_is_kept() {
    let mut plan = Plan::new(Machine::pc(), Capabilities::qemu_8_0_x86_64());
    plan.add_device(
        Device::new(DeviceKind::Rng(VirtioModel::Default))
            .with_address(DeviceAddress::Pci(addr("0000:00:07.0"))),
    );
    plan.assign().unwrap();
    assert_eq!(
        address_of(&plan, |k| matches!(k, DeviceKind::Rng(_))),
        Some("0000:00:07.0".into())
    );
}

/// Live detach releases the address; the next hot-add reuses it.
#[test]
fn hot_remove_releases_the_address_for_the_next_hot_add() {
    let mut plan = Plan::new(Machine::q35(), Capabilities::qemu_8_0_x86_64());
    let rng = plan.add_device(Device::new(DeviceKind::Rng(VirtioModel::Default)));
    plan.assign().unwrap();
    let before = plan.devices()[rng].address.present();
    let removed = plan.hotplug_remove(rng).unwrap();
    let i = plan
        .hotplug_add(removed.with_address(DeviceAddress::None))
        .unwrap();
    assert_eq!(plan.devices()[i].address.present(), before);
}

/// Live detach of a device sharing its slot is refused and changes nothing.
#[test]
fn hot_remove_of_multifunction_device_is_refused() {
    let mut plan = Plan::new(Machine::pc(), Capabilities::qemu_8_0_x86_64());
    plan.add_device(
        Device::new(DeviceKind::Rng(VirtioModel::Default))
            .with_address(DeviceAddress::Pci(addr("0000:00:05.0"))),
    );
    plan.add_device(
        Device::new(DeviceKind::Rng(VirtioModel::Default))
            .with_address(DeviceAddress::Pci(addr("0000:00:05.1"))),
    );
    plan.assign().unwrap();
    let before = plan.clone();
    let i = plan
        .devices()
        .iter()
        .position(|d| matches!(d.kind, DeviceKind::Rng(_)))
        .unwrap();
    assert!(plan.hotplug_remove(i).is_err());
    assert_eq!(plan, before);
}

/// Hot-add finds no slot when every hot-pluggable port is taken.
#[test]
fn hot_add_without_free_hotplug_slot_fails_with_no_more_slots() {
    let mut plan = Plan::new(Machine::q35(), Capabilities::qemu_8_0_x86_64());
    plan.assign().unwrap();
    plan.hotplug_add(Device::new(DeviceKind::Rng(VirtioModel::Default)))
        .unwrap();
    let before = plan.clone();
    let err = plan
        .hotplug_add(Device::new(DeviceKind::Rng(VirtioModel::Default)))
        .unwrap_err();
    assert!(err.to_string().contains("No more available PCI slots"));
    assert_eq!(plan, before);
}

/// Runs a corpus case's input through the XML front end with the case's
/// capability names, returning the assigned plan. A test helper: a failure
/// here is a failing test.
#[allow(clippy::unwrap_used)]
fn corpus_plan(case: &str, caps: Capabilities) -> Plan {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/libvirt-9.0/cases/");
    let xml = std::fs::read_to_string(format!("{dir}{case}/input.xml")).unwrap();
    let host = pciplan::machine::HostPci::default();
    let out = pciplan::libvirt::assign_xml(&xml, &caps, &host).unwrap();
    let (_, plan) = pciplan::libvirt::parse_domain(&out, &caps, &host).unwrap();
    plan
}

fn pci_address_of(plan: &Plan, index: u32) -> Option<String> {
    plan.devices()
        .iter()
        .find(|d| {
            d.kind
                .controller()
                .is_some_and(|c| c.pci_model().is_some() && c.index == Some(index))
        })
        .and_then(|d| d.address.present())
        .map(|a| a.to_string())
}

fn nth_address(plan: &Plan, element: &str, n: usize) -> Option<String> {
    plan.devices()
        .iter()
        .filter(|d| d.kind.element() == element)
        .nth(n)
        .and_then(|d| d.address.present())
        .map(|a| a.to_string())
}

/// Example 2: the primary video takes 00:01.0 and root ports pack eight to
/// a slot from 00:02.0; buses follow the device loop order.
#[test]
fn q35_virtio_devices_follow_loop_order_with_video_at_slot_1() {
    let plan = corpus_plan(
        "q35-pcie-autoadd.x86_64-latest",
        Capabilities::qemu_8_0_x86_64(),
    );
    assert_eq!(
        nth_address(&plan, "video", 0).as_deref(),
        Some("0000:00:01.0")
    );
    assert_eq!(pci_address_of(&plan, 1).as_deref(), Some("0000:00:02.0"));
    assert_eq!(pci_address_of(&plan, 8).as_deref(), Some("0000:00:02.7"));
    assert_eq!(pci_address_of(&plan, 14).as_deref(), Some("0000:00:03.5"));
    assert_eq!(
        nth_address(&plan, "filesystem", 0).as_deref(),
        Some("0000:01:00.0")
    );
    assert_eq!(
        nth_address(&plan, "disk", 0).as_deref(),
        Some("0000:07:00.0")
    );
    assert_eq!(
        nth_address(&plan, "input", 3).as_deref(),
        Some("0000:0d:00.0")
    );
}

/// Example 2b: automatic root ports fill slot 1, then the free functions
/// of a user's aggregate slot.
#[test]
fn automatic_root_ports_fill_free_functions_of_user_slots() {
    let plan = corpus_plan(
        "q35-multifunction.x86_64-latest",
        Capabilities::qemu_8_0_x86_64(),
    );
    assert_eq!(pci_address_of(&plan, 8).as_deref(), Some("0000:00:01.0"));
    assert_eq!(pci_address_of(&plan, 15).as_deref(), Some("0000:00:01.7"));
    assert_eq!(pci_address_of(&plan, 16).as_deref(), Some("0000:00:02.3"));
    assert_eq!(pci_address_of(&plan, 18).as_deref(), Some("0000:00:02.5"));
}

/// Example 3b: non-transitional virtio devices each get a root port.
#[test]
fn non_transitional_virtio_gets_one_root_port_each() {
    let plan = corpus_plan(
        "virtio-non-transitional.x86_64-latest",
        Capabilities::qemu_8_0_x86_64(),
    );
    assert_eq!(
        nth_address(&plan, "filesystem", 0).as_deref(),
        Some("0000:01:00.0")
    );
    assert_eq!(
        nth_address(&plan, "vsock", 0).as_deref(),
        Some("0000:09:00.0")
    );
    assert_eq!(pci_address_of(&plan, 10).as_deref(), Some("0000:00:02.1"));
}

/// Example 5: an explicit high bridge index fills the gap with bridges,
/// placed after it in array order.
#[test]
fn explicit_high_bridge_index_is_placed_before_gap_bridges() {
    let plan = corpus_plan(
        "pci-autoadd-idx",
        Capabilities::from_names(["pci-bridge", "cirrus-vga"]),
    );
    assert_eq!(pci_address_of(&plan, 8).as_deref(), Some("0000:00:03.0"));
    assert_eq!(pci_address_of(&plan, 1).as_deref(), Some("0000:00:04.0"));
    assert_eq!(pci_address_of(&plan, 7).as_deref(), Some("0000:00:0a.0"));
}

/// Example 7: USB2 sets, dmi-to-pci-bridge at 00:1e.0 and a switch.
#[test]
fn usb2_sets_share_slots_and_dmi_bridge_takes_slot_1e() {
    let caps = Capabilities::from_names([
        "pci-bridge",
        "dmi-to-pci-bridge",
        "ioh3420",
        "x3130-upstream",
        "xio3130-downstream",
        "ich9-ahci",
        "ich9-usb-ehci1",
        "nec-usb-xhci",
    ]);
    let plan = corpus_plan("autoindex", caps);
    assert_eq!(pci_address_of(&plan, 1).as_deref(), Some("0000:00:1e.0"));
    assert_eq!(pci_address_of(&plan, 2).as_deref(), Some("0000:01:00.0"));
    assert_eq!(pci_address_of(&plan, 3).as_deref(), Some("0000:00:01.0"));
    assert_eq!(pci_address_of(&plan, 4).as_deref(), Some("0000:03:00.0"));
    assert_eq!(pci_address_of(&plan, 14).as_deref(), Some("0000:04:09.0"));
}

/// Example 8: pci-expander-bus busNr defaults and spill-over from slot 0.
#[test]
fn expander_bus_takes_spill_over_from_slot_0() {
    let plan = corpus_plan("pci-expander-bus", Capabilities::from_names(["pxb"]));
    assert_eq!(pci_address_of(&plan, 1).as_deref(), Some("0000:00:02.0"));
    assert_eq!(pci_address_of(&plan, 2).as_deref(), Some("0000:00:03.0"));
    assert_eq!(
        nth_address(&plan, "interface", 27).as_deref(),
        Some("0000:01:00.0")
    );
    assert_eq!(
        nth_address(&plan, "interface", 31).as_deref(),
        Some("0000:01:04.0")
    );
    let bus_nr = plan.devices().iter().find_map(|d| match &d.kind {
        DeviceKind::Controller(Controller {
            kind: ControllerKind::Pci(p),
            index: Some(2),
            ..
        }) => p.target.bus_nr,
        _ => None,
    });
    assert_eq!(bus_nr, Some(252));
}
