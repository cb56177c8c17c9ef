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

#[test]
fn aarch64_virt_runs_qemu_system_aarch64_with_cpu_max_and_root_bus_pcie_0() {
    let caps = Capabilities::from_names(["gpex-pcihost", "pcie-root-port", "virtio-rng"]);
    let mut plan = Plan::new(Machine::new("aarch64", "virt-7.2").unwrap(), caps);
    plan.add_device(
        Device::new(DeviceKind::Rng(VirtioModel::Default))
            .with_address(DeviceAddress::Pci(PciAddress::from_parts(0, 2, 0).unwrap())),
    );
    plan.assign().unwrap();
    let line = command_line(&plan).unwrap();
    assert_eq!(emulator(&plan).unwrap(), "qemu-system-aarch64");
    assert_eq!(
        line[..5],
        ["-machine", "virt", "-cpu", "max", "-nodefaults"]
    );
    assert!(
        line.iter().any(|a| a.ends_with(",bus=pcie.0,addr=0x2")),
        "{line:?}"
    );
}

#[test]
fn pseries_phb_is_a_host_bridge_device_and_its_bus_is_pci_n_0() {
    let mut plan = Plan::new(
        Machine::new("ppc64", "pseries").unwrap(),
        Capabilities::from_names(["spapr-pci-host-bridge", "virtio-rng"]),
    );
    let mut phb = Controller::pci(ControllerModel::PciRoot, 1);
    if let ControllerKind::Pci(p) = &mut phb.kind {
        p.model_name = Some("spapr-pci-host-bridge".into());
        p.target.index = Some(1);
    }
    plan.add_device(Device::new(DeviceKind::Controller(phb)));
    plan.add_device(
        Device::new(DeviceKind::Rng(VirtioModel::Default))
            .with_address(DeviceAddress::Pci(PciAddress::from_parts(1, 1, 0).unwrap())),
    );
    plan.assign().unwrap();
    let args = device_args(&plan).unwrap();
    assert_eq!(args[0], "spapr-pci-host-bridge,index=1,id=pci.1");
    assert!(
        args.iter().any(|a| a.ends_with(",bus=pci.1.0,addr=0x1")),
        "{args:?}"
    );
}

#[test]
fn s390_zpci_device_comes_before_its_target() {
    let mut plan = Plan::new(
        Machine::new("s390x", "s390-ccw-virtio").unwrap(),
        Capabilities::from_names(["zpci", "virtio-rng"]),
    );
    let mut rng = Device::new(DeviceKind::Rng(VirtioModel::Default))
        .with_address(DeviceAddress::Pci(PciAddress::from_parts(0, 1, 0).unwrap()));
    rng.zpci = Some(crate::device::Zpci {
        uid: Some(7),
        fid: Some(3),
    });
    plan.add_device(rng);
    plan.assign().unwrap();
    let args = device_args(&plan).unwrap();
    let zpci = args
        .iter()
        .position(|a| a == "zpci,uid=7,fid=3,target=rng0,id=zpci7");
    let target = args.iter().position(|a| a.starts_with("virtio-rng-pci,"));
    assert!(
        zpci.is_some() && target.is_some() && zpci < target,
        "{args:?}"
    );
}

#[test]
fn ccw_devices_are_left_out_of_the_s390_command_line() {
    let plan = {
        let mut p = Plan::new(
            Machine::new("s390x", "s390-ccw-virtio").unwrap(),
            Capabilities::from_names(["virtio-ccw", "virtio-rng"]),
        );
        p.add_device(Device::new(DeviceKind::Rng(VirtioModel::Default)));
        p.assign().unwrap();
        p
    };
    let line = command_line(&plan).unwrap();
    assert_eq!(line[..2], ["-machine", "s390-ccw-virtio"]);
    assert!(!line.iter().any(|a| a.contains("rng")), "{line:?}");
}

#[test]
fn isapc_has_no_command_line() {
    let plan = Plan::new(
        Machine::new("x86_64", "isapc").unwrap(),
        Capabilities::qemu_8_0_x86_64(),
    );
    assert!(matches!(
        emulator(&plan),
        Err(QemuError::UnsupportedMachine { .. })
    ));
}
