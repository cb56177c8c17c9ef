//! Unit tests of the libvirt front end: parse, write, round trips.

use super::*;
use crate::address::{Multifunction, PciAddress};
use crate::caps::MachineType;
use crate::controller::ControllerModel;
use crate::device::{ControllerKind, DeviceKind, DiskBus, VideoModel};
use crate::error::{AddressError, XmlError};

const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/libvirt-9.0/cases");

fn caps() -> Capabilities {
    Capabilities::qemu_8_0_x86_64()
}

fn parse(xml: &str) -> Result<(Document<'_>, Plan), Error> {
    parse_domain(xml, &caps(), &HostPci::default())
}

fn domain(devices: &str) -> String {
    format!(
        "<domain type='kvm'>\n  <os>\n    <type arch='x86_64' machine='q35'>hvm</type>\n  </os>\n  <devices>\n{devices}  </devices>\n</domain>\n"
    )
}

fn addr(bus: u8, slot: u8, function: u8) -> PciAddress {
    PciAddress::from_parts(bus, slot, function).unwrap()
}

/// Gives device `i` an address, as the allocator would.
fn set_address(plan: &mut Plan, i: usize, a: PciAddress) {
    plan.device_mut(i).unwrap().address = DeviceAddress::Pci(a);
}

#[test]
fn doctype_is_rejected() {
    let xml =
        "<!DOCTYPE domain [<!ENTITY x SYSTEM 'file:///etc/passwd'>]><domain><devices/></domain>";
    assert!(matches!(
        parse(xml).unwrap_err(),
        Error::Xml(XmlError::Syntax(_))
    ));
}

#[test]
fn root_other_than_domain_is_rejected() {
    assert_eq!(
        parse("<network/>").unwrap_err(),
        Error::Xml(XmlError::WrongRoot("network".into()))
    );
}

#[test]
fn missing_devices_is_accepted_and_added_when_needed() {
    let (doc, mut plan) = parse("<domain>\n  <name>x</name>\n  <os><type arch='x86_64' machine='pc'>hvm</type></os>\n</domain>").unwrap();
    let root = crate::Controller::pci(ControllerModel::PcieRoot, 0);
    plan.push_device(crate::Device::new(DeviceKind::Controller(root)));
    assert_eq!(
        write_domain(&doc, &plan).unwrap(),
        "<domain>\n  <name>x</name>\n  <os><type arch='x86_64' machine='pc'>hvm</type></os>\n  <devices>\n    <controller type='pci' index='0' model='pcie-root'/>\n  </devices>\n</domain>"
    );
}

#[test]
fn negative_controller_index_has_libvirt_message() {
    let xml = domain("    <controller type='pci' index='-1' model='pci-bridge'/>\n");
    assert_eq!(
        parse(&xml).unwrap_err().to_string(),
        "XML error: Invalid value for attribute 'index' in element 'controller': '-1'. Expected non-negative value"
    );
}

#[test]
fn bus_above_255_is_out_of_range() {
    let xml = domain("    <rng model='virtio'><address type='pci' bus='0x100' slot='5'/></rng>\n");
    assert_eq!(
        parse(&xml).unwrap_err(),
        Error::Address(AddressError::Bus(0x100))
    );
}

#[test]
fn function_8_of_empty_address_is_not_checked() {
    let xml = domain("    <rng model='virtio'><address type='pci' function='8'/></rng>\n");
    let (_, plan) = parse(&xml).unwrap();
    assert!(plan.devices()[0].address.is_wanted());
}

#[test]
fn address_without_type_is_an_xml_error() {
    let xml = domain("    <rng model='virtio'><address bus='1'/></rng>\n");
    assert!(matches!(parse(&xml).unwrap_err(), Error::Xml(_)));
}

#[test]
fn unknown_pci_model_is_unknown_model() {
    let xml = domain("    <controller type='pci' index='1' model='pci-brdge'/>\n");
    assert_eq!(
        parse(&xml).unwrap_err().to_string(),
        "unsupported configuration: Unknown model type 'pci-brdge'"
    );
}

#[test]
fn unknown_arch_is_rejected() {
    let xml = "<domain><os><type arch='pdp11'>hvm</type></os><devices/></domain>";
    assert!(matches!(parse(xml).unwrap_err(), Error::Config { .. }));
}

#[test]
fn s390x_without_machine_gets_s390_ccw_virtio() {
    let xml = "<domain><os><type arch='s390x'>hvm</type></os><devices/></domain>";
    let (_, plan) = parse(xml).unwrap();
    assert!(plan.machine().is_s390_ccw());
}

#[test]
fn missing_machine_uses_caps_default_and_is_written() {
    let mut caps = caps();
    caps.add_machine(MachineType {
        name: "pc-i440fx-8.0".into(),
        alias: Some("pc".into()),
        default: true,
    });
    let xml = "<domain><os><type arch='x86_64'>hvm</type></os><devices/></domain>";
    let (doc, plan) = parse_domain(xml, &caps, &HostPci::default()).unwrap();
    assert_eq!(plan.machine().name(), "pc-i440fx-8.0");
    assert_eq!(
        write_domain(&doc, &plan).unwrap(),
        "<domain><os><type arch='x86_64' machine='pc-i440fx-8.0'>hvm</type></os><devices/></domain>"
    );
}

#[test]
fn machine_alias_is_expanded_in_output() {
    let mut caps = caps();
    caps.add_machine(MachineType {
        name: "pc-q35-8.0".into(),
        alias: Some("q35".into()),
        default: false,
    });
    let xml = domain("");
    let (doc, plan) = parse_domain(&xml, &caps, &HostPci::default()).unwrap();
    assert!(
        write_domain(&doc, &plan)
            .unwrap()
            .contains("machine='pc-q35-8.0'")
    );
}

#[test]
fn numa_cells_and_graphics_are_read() {
    let xml = "<domain><os><type arch='x86_64' machine='pc'>hvm</type></os><cpu><numa><cell id='0'/><cell id='1'/></numa></cpu><devices><graphics type='vnc'/></devices></domain>";
    let (_, plan) = parse(xml).unwrap();
    assert_eq!(plan.numa_cells, 2);
    assert!(plan.has_graphics);
}

#[test]
fn disk_controller_is_derived_from_target_name() {
    let xml = domain("    <disk type='file'><target dev='sdaa'/></disk>\n");
    let (_, plan) = parse(&xml).unwrap();
    assert_eq!(
        plan.devices()[0].kind,
        DeviceKind::Disk {
            bus: DiskBus::Scsi,
            model: crate::VirtioModel::Default,
            drive_controller: Some(3)
        }
    );
    assert_eq!(plan.devices()[0].label, "sdaa");
}

#[test]
fn drive_address_controller_wins_over_target_name() {
    let xml = domain(
        "    <disk type='file'><target dev='hda' bus='ide'/><address type='drive' controller='2'/></disk>\n",
    );
    let (_, plan) = parse(&xml).unwrap();
    assert!(matches!(
        plan.devices()[0].kind,
        DeviceKind::Disk {
            drive_controller: Some(2),
            ..
        }
    ));
}

#[test]
fn primary_video_is_first_video() {
    let xml = domain(
        "    <video><model type='vga'/></video>\n    <video><model type='qxl' primary='yes'/></video>\n",
    );
    let (_, plan) = parse(&xml).unwrap();
    assert_eq!(plan.devices()[0].kind, DeviceKind::Video(VideoModel::Qxl));
    assert_eq!(plan.devices()[0].origin, Some(1));
}

#[test]
fn controllers_are_placed_by_libvirt_insertion_rule() {
    let xml = domain(
        "    <controller type='pci' index='2' model='pci-bridge'/>\n    <controller type='pci' index='1' model='pci-bridge'/>\n",
    );
    let (_, plan) = parse(&xml).unwrap();
    assert_eq!(plan.devices()[0].origin, Some(1));
}

#[test]
fn pci_target_and_companion_are_read() {
    let xml = domain(
        "    <controller type='pci' index='1' model='pcie-expander-bus'><target busNr='0xfe'><node>1</node></target></controller>\n    <controller type='usb' index='0' model='ich9-uhci1'><master startport='0'/></controller>\n",
    );
    let (_, plan) = parse(&xml).unwrap();
    let DeviceKind::Controller(c) = &plan.devices()[0].kind else {
        panic!()
    };
    let ControllerKind::Pci(p) = &c.kind else {
        panic!()
    };
    assert_eq!((p.target.bus_nr, p.target.node), (Some(254), Some(1)));
    assert!(plan.devices()[1].kind.controller().unwrap().companion);
}

#[test]
fn unchanged_plan_writes_input_back() {
    let xml = domain(
        "    <rng model='virtio'>\n      <address type='pci' bus='1' slot='2'/>\n    </rng>\n",
    );
    let (doc, plan) = parse(&xml).unwrap();
    assert_eq!(write_domain(&doc, &plan).unwrap(), xml);
}

#[test]
fn short_address_with_same_value_is_kept() {
    let xml = domain(
        "    <rng model='virtio'>\n      <address type='pci' bus='1' slot='2'/>\n    </rng>\n",
    );
    let (doc, mut plan) = parse(&xml).unwrap();
    set_address(&mut plan, 0, addr(1, 2, 0));
    assert_eq!(write_domain(&doc, &plan).unwrap(), xml);
}

#[test]
fn changed_address_is_rewritten_in_full() {
    let xml = domain("    <rng model='virtio'>\n      <address type='pci'/>\n    </rng>\n");
    let (doc, mut plan) = parse(&xml).unwrap();
    set_address(
        &mut plan,
        0,
        addr(1, 0, 0).with_multifunction(Multifunction::On),
    );
    assert_eq!(
        write_domain(&doc, &plan).unwrap(),
        domain(
            "    <rng model='virtio'>\n      <address type='pci' domain='0x0000' bus='0x01' slot='0x00' function='0x0' multifunction='on'/>\n    </rng>\n"
        )
    );
}

#[test]
fn address_goes_into_self_closing_element() {
    let xml = domain("    <memballoon model='virtio'/>\n");
    let (doc, mut plan) = parse(&xml).unwrap();
    set_address(&mut plan, 0, addr(0, 3, 0));
    assert_eq!(
        write_domain(&doc, &plan).unwrap(),
        domain(
            "    <memballoon model='virtio'>\n      <address type='pci' domain='0x0000' bus='0x00' slot='0x03' function='0x0'/>\n    </memballoon>\n"
        )
    );
}

#[test]
fn address_goes_after_last_child() {
    let xml =
        domain("    <interface type='user'>\n      <model type='e1000'/>\n    </interface>\n");
    let (doc, mut plan) = parse(&xml).unwrap();
    set_address(&mut plan, 0, addr(0, 3, 0));
    assert_eq!(
        write_domain(&doc, &plan).unwrap(),
        domain(
            "    <interface type='user'>\n      <model type='e1000'/>\n      <address type='pci' domain='0x0000' bus='0x00' slot='0x03' function='0x0'/>\n    </interface>\n"
        )
    );
}

#[test]
fn pci_controller_gets_index_model_name_and_target() {
    let xml = domain(
        "    <controller type='pci' model='pcie-root-port'>\n      <target chassis='5'/>\n    </controller>\n",
    );
    let (doc, mut plan) = parse(&xml).unwrap();
    {
        let d = plan.device_mut(0).unwrap();
        d.address = DeviceAddress::Pci(addr(0, 2, 0));
        let DeviceKind::Controller(c) = &mut d.kind else {
            panic!()
        };
        c.index = Some(1);
        let ControllerKind::Pci(p) = &mut c.kind else {
            panic!()
        };
        p.model_name = Some("pcie-root-port".into());
        p.target.port = Some(0x10);
    }
    assert_eq!(
        write_domain(&doc, &plan).unwrap(),
        domain(
            "    <controller type='pci' index='1' model='pcie-root-port'>\n      <model name='pcie-root-port'/>\n      <target chassis='5' port='0x10'/>\n      <address type='pci' domain='0x0000' bus='0x00' slot='0x02' function='0x0'/>\n    </controller>\n"
        )
    );
}

#[test]
fn model_less_usb_controller_stays_model_less() {
    let xml = domain("    <controller type='usb' index='0'/>\n");
    let (doc, mut plan) = parse(&xml).unwrap();
    let DeviceKind::Controller(c) = &mut plan.device_mut(0).unwrap().kind else {
        panic!()
    };
    c.kind = ControllerKind::Usb(Some(crate::device::UsbModel::Piix3Uhci));
    assert_eq!(write_domain(&doc, &plan).unwrap(), xml);
}

fn added_root_port(plan: &mut Plan) {
    let mut c = crate::Controller::pci(ControllerModel::PcieRootPort, 1);
    if let ControllerKind::Pci(p) = &mut c.kind {
        p.model_name = Some("pcie-root-port".into());
        p.target.chassis = Some(1);
        p.target.port = Some(8);
    }
    plan.push_device(
        crate::Device::new(DeviceKind::Controller(c))
            .with_address(DeviceAddress::Pci(addr(0, 1, 0))),
    );
}

#[test]
fn added_controller_goes_after_last_controller() {
    let xml = domain(
        "    <controller type='usb' index='0' model='qemu-xhci'/>\n    <rng model='virtio'/>\n",
    );
    let (doc, mut plan) = parse(&xml).unwrap();
    added_root_port(&mut plan);
    plan.push_device(crate::Device::new(DeviceKind::Controller(
        crate::Controller::pci(ControllerModel::PcieRoot, 0),
    )));
    assert_eq!(
        write_domain(&doc, &plan).unwrap(),
        domain(
            "    <controller type='usb' index='0' model='qemu-xhci'/>\n    <controller type='pci' index='0' model='pcie-root'/>\n    <controller type='pci' index='1' model='pcie-root-port'>\n      <model name='pcie-root-port'/>\n      <target chassis='1' port='0x8'/>\n      <address type='pci' domain='0x0000' bus='0x00' slot='0x01' function='0x0'/>\n    </controller>\n    <rng model='virtio'/>\n"
        )
    );
}

#[test]
fn added_controller_without_controllers_goes_before_later_kinds() {
    let xml =
        domain("    <disk type='file'><target dev='vda'/></disk>\n    <interface type='user'/>\n");
    let (doc, mut plan) = parse(&xml).unwrap();
    plan.push_device(crate::Device::new(DeviceKind::Controller(
        crate::Controller::pci(ControllerModel::PcieRoot, 0),
    )));
    assert_eq!(
        write_domain(&doc, &plan).unwrap(),
        domain(
            "    <disk type='file'><target dev='vda'/></disk>\n    <controller type='pci' index='0' model='pcie-root'/>\n    <interface type='user'/>\n"
        )
    );
}

#[test]
fn added_memballoon_goes_to_end_of_empty_devices() {
    let xml =
        "<domain>\n  <os><type arch='x86_64' machine='pc'>hvm</type></os>\n  <devices/>\n</domain>";
    let (doc, mut plan) = parse(xml).unwrap();
    plan.push_device(
        crate::Device::new(DeviceKind::Memballoon(crate::device::BalloonModel::Virtio))
            .with_address(DeviceAddress::Pci(addr(0, 4, 0))),
    );
    assert_eq!(
        write_domain(&doc, &plan).unwrap(),
        "<domain>\n  <os><type arch='x86_64' machine='pc'>hvm</type></os>\n  <devices>\n    <memballoon model='virtio'>\n      <address type='pci' domain='0x0000' bus='0x00' slot='0x04' function='0x0'/>\n    </memballoon>\n  </devices>\n</domain>"
    );
}

#[test]
fn write_is_idempotent_after_reparse() {
    let xml =
        domain("    <controller type='pci' model='pcie-root-port'/>\n    <rng model='virtio'/>\n");
    let (doc, mut plan) = parse(&xml).unwrap();
    added_root_port(&mut plan);
    set_address(&mut plan, 1, addr(1, 0, 0));
    let first = write_domain(&doc, &plan).unwrap();
    let (doc2, mut plan2) = parse(&first).unwrap();
    for (i, d) in plan.devices().iter().enumerate() {
        let j = plan2
            .devices()
            .iter()
            .position(|e| e.kind == d.kind || (e.origin == d.origin && d.origin.is_some()))
            .unwrap();
        plan2.device_mut(j).unwrap().address = plan.devices()[i].address.clone();
    }
    assert_eq!(write_domain(&doc2, &plan2).unwrap(), first);
}

#[test]
fn assign_xml_keeps_a_present_address() {
    let rng = "    <rng model='virtio'>\n      <address type='pci' domain='0x0000' bus='0x00' slot='0x02' function='0x0'/>\n    </rng>\n";
    let out = assign_xml(&domain(rng), &caps(), &HostPci::default()).unwrap();
    assert!(out.contains(rng));
}

#[test]
fn assign_xml_puts_new_controllers_before_other_new_devices() {
    let out = assign_xml(
        &domain("    <rng model='virtio'/>\n"),
        &caps(),
        &HostPci::default(),
    )
    .unwrap();
    let balloon = out.find("<memballoon").unwrap();
    assert!(out.rfind("<controller").unwrap() < balloon);
}

/// Every x86 corpus input parses (except the ones libvirt rejects while
/// parsing) and writes back unchanged when the plan is unchanged (apart
/// from a missing arch or machine, which is filled in).
#[test]
fn corpus_inputs_parse_and_round_trip() {
    let Ok(dirs) = std::fs::read_dir(CORPUS) else {
        return;
    };
    let mut parsed = 0;
    for dir in dirs.flatten() {
        let path = dir.path();
        let meta = std::fs::read_to_string(path.join("meta.toml")).unwrap_or_default();
        if !meta
            .lines()
            .any(|l| l == "arch = \"x86_64\"" || l == "arch = \"i686\"")
        {
            continue;
        }
        let input = std::fs::read_to_string(path.join("input.xml")).unwrap();
        let error = std::fs::read_to_string(path.join("expected-error.txt")).ok();
        match parse(&input) {
            Ok((doc, plan)) => {
                let once = write_domain(&doc, &plan).unwrap();
                // libvirt fills in a missing arch or machine, writes the
                // primary video first and controllers in its array order;
                // nothing else changes.
                if input.contains("arch=")
                    && input.contains("machine=")
                    && !input.contains("primary='yes'")
                    && once.matches("<controller").count() == input.matches("<controller").count()
                    && plan
                        .controller_output_order()
                        .iter()
                        .filter_map(|&i| plan.devices().get(i).and_then(|d| d.origin))
                        .collect::<Vec<_>>()
                        .is_sorted()
                {
                    assert_eq!(once, input, "{}", path.display());
                }
                let (doc2, plan2) = parse(&once).unwrap();
                assert_eq!(
                    write_domain(&doc2, &plan2).unwrap(),
                    once,
                    "{}",
                    path.display()
                );
                parsed += 1;
            }
            Err(e) => {
                let expected = error.unwrap_or_default();
                assert_eq!(format!("{e}\n"), expected, "{}", path.display());
            }
        }
    }
    assert!(parsed > 400, "{parsed}");
}

/// assign_xml is idempotent on every x86 corpus input it accepts.
#[test]
fn corpus_assign_is_idempotent() {
    let Ok(dirs) = std::fs::read_dir(CORPUS) else {
        return;
    };
    let mut assigned = 0;
    for dir in dirs.flatten() {
        let path = dir.path();
        let meta = std::fs::read_to_string(path.join("meta.toml")).unwrap_or_default();
        if !meta
            .lines()
            .any(|l| l == "arch = \"x86_64\"" || l == "arch = \"i686\"")
        {
            continue;
        }
        let input = std::fs::read_to_string(path.join("input.xml")).unwrap();
        let Ok(first) = assign_xml(&input, &caps(), &HostPci::default()) else {
            continue;
        };
        let second = assign_xml(&first, &caps(), &HostPci::default());
        assert_eq!(second.as_ref(), Ok(&first), "{}", path.display());
        assigned += 1;
    }
    assert!(assigned > 300, "{assigned}");
}

#[test]
fn markup_count_matches_a_byte_by_byte_count() {
    // Sizes around the block (64) and flush (255 blocks) boundaries.
    for len in [0, 1, 63, 64, 65, 255 * 64, 255 * 64 + 1, 300 * 64 + 7] {
        let text: Vec<u8> = (0..len).map(|i| b"<a=b c>"[i % 7]).collect();
        let naive = text.iter().filter(|&&b| b == b'<' || b == b'=').count();
        assert_eq!(count_markup(&text), naive, "length {len}");
    }
    let all = vec![b'='; 300 * 64];
    assert_eq!(count_markup(&all), all.len());
}
