use super::*;
use crate::{Capabilities, Machine};

fn assigned(machine: Machine, kinds: Vec<DeviceKind>) -> Plan {
    let mut plan = Plan::new(machine, Capabilities::qemu_8_0_x86_64());
    for k in kinds {
        plan.add_device(Device::new(k));
    }
    plan.assign().unwrap();
    plan
}

#[test]
fn empty_q35_gives_three_root_ports_usb_and_balloon() {
    let plan = assigned(Machine::q35(), vec![]);
    assert_eq!(
        device_args(&plan).unwrap(),
        [
            "pcie-root-port,port=0x8,chassis=1,id=pci.1,bus=pcie.0,multifunction=on,addr=0x1",
            "pcie-root-port,port=0x9,chassis=2,id=pci.2,bus=pcie.0,addr=0x1.0x1",
            "pcie-root-port,port=0xa,chassis=3,id=pci.3,bus=pcie.0,addr=0x1.0x2",
            "qemu-xhci,id=usb0,bus=pci.1,addr=0x0",
            "virtio-balloon-pci,id=balloon0,bus=pci.2,addr=0x0",
        ]
    );
}

#[test]
fn i440fx_skips_ide_and_names_root_bus_pci_0() {
    let plan = assigned(
        Machine::pc(),
        vec![DeviceKind::Interface {
            model: Some(NicModel::Known("e1000".into())),
            hostdev: None,
        }],
    );
    let args = device_args(&plan).unwrap();
    assert!(
        args.contains(&"e1000,id=net0,bus=pci.0,addr=0x2".to_string()),
        "{args:?}"
    );
    assert!(!args.iter().any(|a| a.contains("ide")));
}

#[test]
fn transitional_disk_uses_the_transitional_driver_and_a_null_node() {
    let plan = assigned(
        Machine::pc(),
        vec![DeviceKind::Disk {
            bus: DiskBus::Virtio,
            model: VirtioModel::Transitional,
            drive_controller: None,
        }],
    );
    let line = command_line(&plan).unwrap();
    assert!(
        line.iter()
            .any(|a| a.starts_with("virtio-blk-pci-transitional,drive=drive0,id=disk0,"))
    );
    assert!(line.contains(&"driver=null-co,node-name=drive0,read-zeroes=on".to_string()));
}

#[test]
fn bridge_gets_chassis_nr_and_comes_before_its_devices() {
    let mut plan = Plan::new(Machine::pc(), Capabilities::qemu_8_0_x86_64());
    plan.add_device(Device::new(DeviceKind::Controller(Controller::pci(
        ControllerModel::PciBridge,
        1,
    ))));
    plan.add_device(
        Device::new(DeviceKind::Rng(VirtioModel::Default))
            .with_address(DeviceAddress::Pci(PciAddress::from_parts(1, 5, 0).unwrap())),
    );
    plan.assign().unwrap();
    let args = device_args(&plan).unwrap();
    let bridge = args
        .iter()
        .position(|a| a.starts_with("pci-bridge,chassis_nr=1,id=pci.1,bus=pci.0"));
    let rng = args.iter().position(|a| a.ends_with("bus=pci.1,addr=0x5"));
    assert!(
        bridge.is_some() && rng.is_some() && bridge < rng,
        "{args:?}"
    );
}

#[test]
fn passthrough_without_host_address_needs_a_host_resource() {
    let mut plan = Plan::new(Machine::pc(), Capabilities::qemu_8_0_x86_64());
    plan.add_device(Device::new(DeviceKind::Hostdev(HostdevSource::Pci(None))));
    plan.assign().unwrap();
    let err = device_args(&plan).unwrap_err();
    assert!(matches!(
        err,
        QemuError::HostResource {
            what: "the host PCI address",
            ..
        }
    ));
}

use crate::device::DeviceAddress;
