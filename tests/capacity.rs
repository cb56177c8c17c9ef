//! capacity: live counts per class, cold counts and budgets.

use pciplan::capacity::{capacity, hotplug_count};
use pciplan::{
    Capabilities, Controller, ControllerKind, ControllerModel, Device, DeviceAddress, DeviceKind,
    Machine, NicModel, PciAddress, Plan, VirtioModel,
};

#[allow(clippy::unwrap_used, clippy::panic)]
fn assigned(mut p: Plan) -> Plan {
    p.assign().unwrap();
    p
}

fn q35() -> Plan {
    Plan::new(Machine::q35(), Capabilities::qemu_8_0_x86_64())
}

fn virtio_nic() -> Device {
    Device::new(DeviceKind::Interface {
        model: Some(NicModel::Virtio),
        hostdev: None,
    })
}

#[allow(clippy::unwrap_used, clippy::panic)]
fn class<'a>(
    c: &'a pciplan::capacity::Capacity,
    name: &str,
) -> &'a pciplan::capacity::ClassCapacity {
    c.classes.iter().find(|k| k.class == name).unwrap()
}

#[test]
fn q35_with_one_device_has_the_spare_port_for_one_hot_plugged_nic() {
    let mut p = q35();
    p.add_device(Device::new(DeviceKind::Rng(VirtioModel::Default)));
    let c = capacity(&assigned(p), None);
    assert_eq!(class(&c, "virtio NIC").hotplug, 1);
}

#[test]
fn q35_without_a_pcie_to_pci_bridge_takes_no_conventional_device_live() {
    let c = capacity(&assigned(q35()), None);
    assert_eq!(class(&c, "e1000 NIC").hotplug, 0);
}

#[test]
fn root_port_with_hotplug_off_is_not_counted() {
    let mut p = q35();
    let mut off = Controller::pci(ControllerModel::PcieRootPort, 1);
    if let ControllerKind::Pci(t) = &mut off.kind {
        t.target.hotplug = Some(false);
    }
    let addr = DeviceAddress::Pci(PciAddress::from_parts(0, 2, 0).unwrap());
    p.add_device(Device::new(DeviceKind::Controller(off)).with_address(addr));
    let mut plan = assigned(p);
    // Empty the hotplug='off' port (a cold edit: nothing else moves).
    let on_bus_1 = plan
        .devices()
        .iter()
        .position(|d| d.address.present().is_some_and(|a| a.bus() == 1));
    if let Some(i) = on_bus_1 {
        plan.remove_device(i).unwrap();
    }
    assert_eq!(hotplug_count(&plan, &virtio_nic()), 0);
}

#[test]
fn pc_counts_free_slots_of_the_root_bus() {
    let plan = assigned(Plan::new(Machine::pc(), Capabilities::qemu_8_0_x86_64()));
    // 31 slots, minus the PIIX3 slot 1 and the memballoon.
    assert_eq!(hotplug_count(&plan, &virtio_nic()), 29);
}

#[test]
fn budgets_count_the_buses_in_use() {
    let mut p = q35();
    p.add_device(Device::new(DeviceKind::Rng(VirtioModel::Default)));
    let plan = assigned(p);
    let c = capacity(&plan, None);
    let buses = plan
        .devices()
        .iter()
        .filter(|d| d.kind.controller().is_some_and(|c| c.pci_model().is_some()))
        .count();
    assert_eq!((c.budgets.buses_used, c.budgets.buses_max), (buses, 256));
    assert_eq!(c.budgets.free_hotplug_ports, 1);
}

#[test]
fn cold_count_of_a_small_q35_is_not_below_the_live_count() {
    let before = q35();
    let c = capacity(&assigned(before.clone()), Some(&before));
    assert!(
        c.classes
            .iter()
            .all(|k| k.cold.is_some_and(|n| n >= k.hotplug))
    );
}
