//! explain: the "why" of every reason class and every refusal rule, on
//! small hand-made plans. One behaviour per test.

use pciplan::device::{DiskBus, HostdevSource, PciController, Zpci};
use pciplan::explain::{
    Origin, Passed, Refusal, RefusalRule, Search, Taker, Why, explain, explain_hotplug,
};
use pciplan::machine::HostPci;
use pciplan::{
    AddressError, Capabilities, Controller, ControllerKind, ControllerModel, Device, DeviceAddress,
    DeviceKind, Error, Machine, NicModel, PciAddress, Plan, VirtioModel,
};

fn q35() -> Plan {
    Plan::new(Machine::q35(), Capabilities::qemu_8_0_x86_64())
}

fn pc() -> Plan {
    Plan::new(Machine::pc(), Capabilities::qemu_8_0_x86_64())
}

fn rng() -> Device {
    Device::new(DeviceKind::Rng(VirtioModel::Default))
}

fn nic(model: NicModel) -> Device {
    Device::new(DeviceKind::Interface {
        model: Some(model),
        hostdev: None,
    })
}

#[allow(clippy::unwrap_used, clippy::panic)]
fn at(bus: u8, slot: u8) -> DeviceAddress {
    DeviceAddress::Pci(PciAddress::from_parts(bus, slot, 0).unwrap())
}

fn pci(model: ControllerModel, index: u32) -> Device {
    Device::new(DeviceKind::Controller(Controller::pci(model, index)))
}

/// The search of the first device of this element.
#[allow(clippy::unwrap_used, clippy::panic)]
fn search_of(plan: &Plan, element: &str) -> Search {
    let e = explain(plan).unwrap();
    let d = e.devices.iter().find(|d| d.element == element).unwrap();
    match &d.why {
        Why::Searched(s) => s.clone(),
        other => panic!("{element} was not searched: {other:?}"),
    }
}

#[allow(clippy::unwrap_used, clippy::panic)]
fn refusal(plan: &Plan) -> Refusal {
    explain(plan).unwrap_err()
}

// ---- why a bus was passed over ----

#[test]
fn pcie_endpoint_passes_over_pcie_root_as_explicit_only() {
    let mut plan = q35();
    plan.add_device(rng());
    let s = search_of(&plan, "rng");
    assert_eq!(s.passed[0].bus, 0);
    assert_eq!(s.passed[0].reason, Passed::ExplicitOnly);
}

#[test]
fn second_device_passes_over_root_port_taken_by_the_first_as_full() {
    let mut plan = q35();
    plan.add_device(pci(ControllerModel::PcieRootPort, 1).with_address(at(0, 2)));
    plan.add_device(pci(ControllerModel::PcieRootPort, 2).with_address(at(0, 3)));
    plan.add_device(nic(NicModel::Virtio).with_address(at(1, 0)));
    plan.add_device(rng());
    let s = search_of(&plan, "rng");
    let bus1 = s.passed.iter().find(|p| p.bus == 1).unwrap();
    assert!(
        matches!(&bus1.reason, Passed::Full { taken: 1, slots } if slots[0].slot == 0
        && matches!(slots[0].by, Taker::Device(_)))
    );
}

#[test]
fn conventional_device_passes_over_root_ports_as_wrong_flags() {
    let mut plan = q35();
    plan.add_device(nic(NicModel::Known("e1000".into())));
    let s = search_of(&plan, "interface");
    let root_port = s
        .passed
        .iter()
        .find(|p| p.model == ControllerModel::PcieRootPort)
        .unwrap();
    assert_eq!(
        root_port.reason,
        Passed::WrongFlags {
            kind: "standard PCI device"
        }
    );
}

#[test]
fn hot_plug_passes_over_root_port_with_hotplug_off_as_not_hotpluggable() {
    let mut plan = q35();
    let mut off = Controller::pci(ControllerModel::PcieRootPort, 1);
    if let ControllerKind::Pci(p) = &mut off.kind {
        p.target.hotplug = Some(false);
    }
    plan.add_device(Device::new(DeviceKind::Controller(off)).with_address(at(0, 2)));
    plan.add_device(pci(ControllerModel::PcieRootPort, 2).with_address(at(0, 3)));
    plan.add_device(pci(ControllerModel::PcieRootPort, 3).with_address(at(0, 4)));
    plan.add_device(pci(ControllerModel::PcieRootPort, 4).with_address(at(0, 5)));
    plan.add_device(pci(ControllerModel::PcieRootPort, 5).with_address(at(0, 6)));
    plan.assign().unwrap();
    let e = explain_hotplug(&plan, &rng()).unwrap();
    let Why::Searched(s) = e.why else {
        panic!("not searched")
    };
    let bus1 = s.passed.iter().find(|p| p.bus == 1).unwrap();
    assert_eq!(bus1.reason, Passed::NotHotpluggable);
}

#[test]
fn first_device_on_pc_skips_slot_1_reserved_by_the_chipset() {
    let mut plan = pc();
    plan.add_device(rng());
    let e = explain(&plan).unwrap();
    let Why::Searched(s) = &e.devices.iter().find(|d| d.element == "rng").unwrap().why else {
        panic!("not searched")
    };
    assert!(matches!(s.skipped_slots[0].by, Taker::Reserved(_)));
    assert_eq!(s.skipped_slots[0].slot, 1);
}

#[test]
fn host_device_of_another_isolation_group_passes_over_bus_as_held_back() {
    let host = HostPci::from_tsv(
        "address\tis_pcie\tiommu_group\n0000:01:00.0\ttrue\t5\n0000:02:00.0\ttrue\t6\n",
    )
    .unwrap();
    let mut plan = Plan::new(
        Machine::new("ppc64", "pseries").unwrap(),
        Capabilities::builtin("ppc64"),
    );
    plan.set_host_pci(host);
    for a in ["0000:01:00.0", "0000:02:00.0"] {
        plan.add_device(Device::new(DeviceKind::Hostdev(HostdevSource::Pci(Some(
            a.parse().unwrap(),
        )))));
    }
    let e = explain(&plan).unwrap();
    let second = e
        .devices
        .iter()
        .filter(|d| d.element == "hostdev")
        .nth(1)
        .unwrap();
    let Why::Searched(s) = &second.why else {
        panic!("not searched")
    };
    assert!(
        s.passed
            .iter()
            .any(|p| matches!(p.reason, Passed::HeldBack { .. }))
    );
}

#[test]
fn every_passed_over_reason_has_a_class_word() {
    let classes: Vec<&str> = [
        Passed::Full {
            taken: 0,
            slots: vec![],
        },
        Passed::WrongFlags { kind: "x" },
        Passed::ExplicitOnly,
        Passed::NotHotpluggable,
        Passed::NotIntegrated,
        Passed::HeldBack { group: 1 },
    ]
    .iter()
    .map(Passed::class)
    .collect();
    assert_eq!(
        classes,
        [
            "full",
            "wrong_flags",
            "explicit_only",
            "not_hotpluggable",
            "not_integrated",
            "held_back"
        ]
    );
}

// ---- why a device has its address, and where it came from ----

#[test]
fn device_with_an_address_in_the_input_is_given() {
    let mut plan = pc();
    plan.add_device(rng().with_address(at(0, 9)));
    let e = explain(&plan).unwrap();
    let d = e.devices.iter().find(|d| d.element == "rng").unwrap();
    assert_eq!(
        (d.origin.clone(), d.why.clone()),
        (Origin::Given, Why::Given)
    );
}

#[test]
fn q35_sata_controller_is_placed_by_the_chipset_rule() {
    let e = explain(&q35()).unwrap();
    let sata = e
        .devices
        .iter()
        .find(|d| d.name.contains("'sata'"))
        .unwrap();
    assert!(matches!(sata.why, Why::Chipset { .. }));
}

#[test]
fn root_port_added_by_the_dry_run_names_the_device_it_serves() {
    let mut plan = q35();
    let i = plan.add_device(rng());
    let e = explain(&plan).unwrap();
    let rng_pos = e
        .devices
        .iter()
        .find(|d| d.source == Some(i))
        .unwrap()
        .index;
    assert!(e.devices.iter().any(|d| d.origin
        == Origin::AddedBus {
            for_device: Some(rng_pos)
        }));
}

#[test]
fn empty_root_port_added_by_the_dry_run_is_the_spare_hotplug_port() {
    let mut plan = q35();
    plan.add_device(rng());
    let e = explain(&plan).unwrap();
    assert!(
        e.devices
            .iter()
            .any(|d| d.origin == Origin::AddedBus { for_device: None })
    );
}

#[test]
fn implicit_usb_controller_is_added_by_defaults() {
    let e = explain(&pc()).unwrap();
    let usb = e.devices.iter().find(|d| d.name.contains("'usb'")).unwrap();
    assert_eq!(usb.origin, Origin::Implicit);
}

#[test]
fn usb2_companions_share_their_set_slot() {
    let mut plan = q35();
    for m in [
        pciplan::device::UsbModel::Ich9Ehci1,
        pciplan::device::UsbModel::Ich9Uhci1,
    ] {
        plan.add_device(Device::new(DeviceKind::Controller(Controller {
            kind: ControllerKind::Usb(Some(m)),
            index: Some(0),
            companion: false,
        })));
    }
    let e = explain(&plan).unwrap();
    assert!(
        e.devices
            .iter()
            .any(|d| matches!(d.why, Why::SharedSlot { .. }))
    );
}

#[test]
fn usb_disk_has_no_pci_address() {
    let mut plan = q35();
    plan.add_device(
        Device::new(DeviceKind::Disk {
            bus: DiskBus::Usb,
            model: VirtioModel::Default,
            drive_controller: None,
        })
        .with_label("sda"),
    );
    let e = explain(&plan).unwrap();
    let d = e.devices.iter().find(|d| d.element == "disk").unwrap();
    assert!(matches!(d.why, Why::NoPciAddress { .. }));
}

#[test]
fn virtio_nic_on_q35_connects_as_hot_pluggable_pcie_endpoint() {
    let mut plan = q35();
    plan.add_device(nic(NicModel::Virtio));
    let e = explain(&plan).unwrap();
    let d = e.devices.iter().find(|d| d.element == "interface").unwrap();
    assert_eq!(d.flags_words, "PCI Express endpoint, hot-pluggable");
}

#[test]
fn chain_of_a_device_behind_a_pcie_to_pci_bridge_reaches_pcie_root() {
    let mut plan = q35();
    plan.add_device(nic(NicModel::Known("e1000".into())));
    let e = explain(&plan).unwrap();
    let d = e.devices.iter().find(|d| d.element == "interface").unwrap();
    let models: Vec<ControllerModel> = d.chain.iter().map(|c| c.model).collect();
    assert_eq!(
        models,
        [
            ControllerModel::PcieToPciBridge,
            ControllerModel::PcieRootPort,
            ControllerModel::PcieRoot
        ]
    );
}

#[test]
fn text_names_the_address_in_libvirt_message_form() {
    let mut plan = pc();
    plan.add_device(rng().with_address(at(0, 9)));
    let text = explain(&plan).unwrap().render(None);
    assert!(text.contains("rng[1] rng: 0000:00:09.0"));
}

// ---- refusals: one per rule ----

#[test]
fn two_devices_on_one_address_refuse_by_double_use_naming_both() {
    let mut plan = pc();
    plan.add_device(rng().with_address(at(0, 5)).with_label("first"));
    plan.add_device(rng().with_address(at(0, 5)).with_label("second"));
    let r = refusal(&plan);
    assert_eq!((r.rule, r.devices.len()), (RefusalRule::DoubleUse, 2));
}

#[test]
fn root_port_on_pc_refuses_by_compatibility() {
    let mut plan = pc();
    plan.add_device(pci(ControllerModel::PcieRootPort, 1).with_address(at(0, 5)));
    let r = refusal(&plan);
    assert_eq!(r.rule, RefusalRule::Compatibility);
}

#[test]
fn slot_1_on_a_root_port_refuses_by_address_range() {
    let mut plan = q35();
    plan.add_device(pci(ControllerModel::PcieRootPort, 1).with_address(at(0, 2)));
    plan.add_device(rng().with_address(at(1, 1)));
    let r = refusal(&plan);
    assert_eq!(r.rule, RefusalRule::AddressRange);
    assert!(r.fix.contains("slot='0x00'"));
}

#[test]
fn hot_plug_without_a_free_port_refuses_with_no_free_slot() {
    let mut plan = q35();
    plan.assign().unwrap();
    plan.hotplug_add(rng()).unwrap();
    let r = explain_hotplug(&plan, &rng()).unwrap_err();
    assert_eq!(r.rule, RefusalRule::NoFreeSlot);
    assert!(r.fix.contains("pcie-root-port"));
}

#[test]
fn lone_pcie_to_pci_bridge_refuses_because_no_bus_can_be_added() {
    let mut plan = q35();
    plan.add_device(pci(ControllerModel::PcieRootPort, 1).with_address(at(0, 2)));
    plan.add_device(pci(ControllerModel::PcieToPciBridge, 2));
    plan.add_device(rng().with_address(at(1, 0)));
    let r = refusal(&plan);
    assert_eq!(r.rule, RefusalRule::CannotGrow);
}

#[test]
fn ide_controller_off_00_01_1_refuses_by_chipset_rule() {
    let mut plan = pc();
    plan.add_device(
        Device::new(DeviceKind::Controller(Controller {
            kind: ControllerKind::Ide,
            index: Some(0),
            companion: false,
        }))
        .with_address(at(0, 5)),
    );
    let r = refusal(&plan);
    assert_eq!(r.rule, RefusalRule::Chipset);
    assert!(r.fix.contains("0000:00:01.1"));
}

#[test]
fn virtio_disk_with_a_drive_address_refuses_by_address_type() {
    let mut plan = pc();
    plan.add_device(
        Device::new(DeviceKind::Disk {
            bus: DiskBus::Virtio,
            model: VirtioModel::Default,
            drive_controller: None,
        })
        .with_label("vda")
        .with_address(DeviceAddress::Other("spapr-vio".into())),
    );
    let r = refusal(&plan);
    assert_eq!(r.rule, RefusalRule::AddressType);
}

#[test]
fn pci_controller_without_model_refuses_by_controller_validation() {
    let mut plan = pc();
    plan.add_device(Device::new(DeviceKind::Controller(Controller {
        kind: ControllerKind::Pci(PciController::default()),
        index: Some(1),
        companion: false,
    })));
    let r = refusal(&plan);
    assert_eq!(r.rule, RefusalRule::ControllerValidation);
}

#[test]
fn two_devices_with_one_zpci_uid_refuse_by_zpci_rule() {
    let mut caps = Capabilities::builtin("s390x");
    caps.insert("zpci");
    let mut plan = Plan::new(Machine::new("s390x", "s390-ccw-virtio").unwrap(), caps);
    for slot in [1, 2] {
        let mut d = rng().with_address(at(0, slot));
        d.zpci = Some(Zpci {
            uid: Some(7),
            fid: None,
        });
        plan.add_device(d);
    }
    let r = refusal(&plan);
    assert_eq!(r.rule, RefusalRule::Zpci);
}

#[test]
fn hot_plugging_a_usb_controller_refuses_by_hotplug_rule() {
    let mut plan = q35();
    plan.assign().unwrap();
    let usb = Device::new(DeviceKind::Controller(Controller {
        kind: ControllerKind::Usb(None),
        index: Some(1),
        companion: false,
    }));
    let r = explain_hotplug(&plan, &usb).unwrap_err();
    assert_eq!(r.rule, RefusalRule::Hotplug);
}

#[test]
fn pci_address_on_a_machine_without_pci_refuses_by_no_buses() {
    let mut plan = Plan::new(
        Machine::new("x86_64", "isapc").unwrap(),
        Capabilities::qemu_8_0_x86_64(),
    );
    plan.add_device(rng().with_address(at(0, 5)));
    let r = refusal(&plan);
    assert_eq!(r.rule, RefusalRule::NoBuses);
}

#[test]
fn pci_root_on_q35_refuses_by_configuration_rule() {
    let mut plan = q35();
    plan.add_device(pci(ControllerModel::PciRoot, 0));
    let r = refusal(&plan);
    assert_eq!(r.rule, RefusalRule::Configuration);
}

#[test]
fn malformed_address_refuses_by_parse_rule() {
    let r = Refusal::new(Error::Address(AddressError::Slot(40)), &pc());
    assert_eq!((r.rule, r.section), (RefusalRule::Parse, "§6.1"));
}

#[test]
fn refusal_text_names_rule_and_fix() {
    let mut plan = pc();
    plan.add_device(rng().with_address(at(0, 5)));
    plan.add_device(rng().with_address(at(0, 5)));
    let text = refusal(&plan).to_string();
    assert!(text.contains("rule: §5.4 address used twice"));
    assert!(text.contains("fix: free 0000:00:05.0"));
}
