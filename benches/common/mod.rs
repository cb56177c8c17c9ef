//! Topology factories shared by the benches: plans built through the public
//! API, and the same domains as libvirt XML text.

use std::fmt::Write as _;

use pciplan::{
    Capabilities, Controller, ControllerModel, Device, DeviceAddress, DeviceKind, Error, Machine,
    NicModel, PciAddress, Plan,
};

/// Number of pci-bridges in the `pc-bridges` topology (indexes 1..=255).
pub const BRIDGES: u32 = 255;

/// Virtio NICs in the `pc-bridges` topology: 30 slots on pci-root (2..=31)
/// plus 31 on each bridge, minus the 248 slots the bridges take, the
/// memballoon's and 7 spare.
pub const PC_BRIDGES_NICS: usize = 7_679;

/// A virtio NIC without an address.
pub fn virtio_nic() -> Device {
    Device::new(DeviceKind::Interface {
        model: Some(NicModel::Virtio),
        hostdev: None,
    })
}

/// A plan for `machine` with `n` virtio NICs and nothing else.
pub fn nics(machine: Machine, n: usize) -> Plan {
    let mut plan = Plan::new(machine, Capabilities::qemu_8_0_x86_64());
    for _ in 0..n {
        plan.add_device(virtio_nic());
    }
    plan
}

/// Bridges that share slot 3 of pci-root as its eight functions.
const PACKED: u32 = 8;

/// Where pci-bridge `index` (1..=255) sits, as (bus, slot, function).
///
/// Bridges 1..=8 are the eight functions of pci-root slot 3 and bridges
/// 9..=36 take pci-root slots 4..=31 (slot 1 is the PIIX3, slot 2 is left
/// for a NIC); the rest fill bridges 1, 2, … slot by slot from slot 1, so
/// every bridge's index is above its bus. The packed slot leaves room for
/// the slot libvirt's dry run holds back for a future bridge: with one
/// bridge per slot, 7,679 NICs plus the memballoon fill every slot and the
/// dry run needs a 257th bus.
pub fn bridge_address(index: u32) -> (u8, u8, u8) {
    const ON_ROOT: u32 = PACKED + 28;
    let (bus, slot, function) = if index <= PACKED {
        (0, 3, index - 1)
    } else if index <= ON_ROOT {
        (0, index - PACKED + 3, 0)
    } else {
        let k = index - ON_ROOT - 1;
        (k / 31 + 1, k % 31 + 1, 0)
    };
    let byte = |v: u32| u8::try_from(v).unwrap_or(u8::MAX);
    (byte(bus), byte(slot), byte(function))
}

/// An i440fx plan with [`BRIDGES`] pci-bridges at given addresses and `n`
/// virtio NICs without addresses.
///
/// # Errors
/// When a bridge address is out of range.
pub fn pc_bridges(n: usize) -> Result<Plan, Error> {
    let mut plan = Plan::new(Machine::pc(), Capabilities::qemu_8_0_x86_64());
    plan.add_device(Device::new(DeviceKind::Controller(Controller::pci(
        ControllerModel::PciRoot,
        0,
    ))));
    for index in 1..=BRIDGES {
        let (bus, slot, function) = bridge_address(index);
        let addr = PciAddress::from_parts(bus, slot, function)?;
        plan.add_device(
            Device::new(DeviceKind::Controller(Controller::pci(
                ControllerModel::PciBridge,
                index,
            )))
            .with_address(DeviceAddress::Pci(addr)),
        );
    }
    for _ in 0..n {
        plan.add_device(virtio_nic());
    }
    Ok(plan)
}

/// Position of the last interface of `plan` and its address, the value the
/// benches check after each run.
pub fn last_nic(plan: &Plan) -> Option<(usize, PciAddress)> {
    plan.devices()
        .iter()
        .enumerate()
        .rev()
        .find(|(_, d)| matches!(d.kind, DeviceKind::Interface { .. }))
        .and_then(|(i, d)| d.address.present().map(|a| (i, a)))
}

/// Whether device `i` of `plan` has address `addr`.
pub fn has_address(plan: &Plan, i: usize, addr: PciAddress) -> bool {
    plan.devices()
        .get(i)
        .and_then(|d| d.address.present())
        .is_some_and(|a| a == addr)
}

/// A libvirt domain for machine type `machine` (`pc` or `q35`) with `n`
/// virtio NICs without addresses.
pub fn nics_xml(machine: &str, n: usize) -> String {
    let mut xml = domain_head(machine);
    for _ in 0..n {
        xml.push_str(NIC_XML);
    }
    xml.push_str(DOMAIN_TAIL);
    xml
}

/// The `pc-bridges` topology of [`pc_bridges`] as libvirt XML.
pub fn pc_bridges_xml(n: usize) -> String {
    let mut xml = domain_head("pc");
    xml.push_str("    <controller type='pci' index='0' model='pci-root'/>\n");
    for index in 1..=BRIDGES {
        let (bus, slot, function) = bridge_address(index);
        // Writing to a String cannot fail.
        let _ = writeln!(
            xml,
            "    <controller type='pci' index='{index}' model='pci-bridge'>\n      \
             <address type='pci' domain='0x0000' bus='{bus:#04x}' slot='{slot:#04x}' function='{function:#x}'/>\n    \
             </controller>"
        );
    }
    for _ in 0..n {
        xml.push_str(NIC_XML);
    }
    xml.push_str(DOMAIN_TAIL);
    xml
}

const NIC_XML: &str =
    "    <interface type='user'>\n      <model type='virtio'/>\n    </interface>\n";

const DOMAIN_TAIL: &str = "  </devices>\n</domain>\n";

fn domain_head(machine: &str) -> String {
    format!(
        "<domain type='kvm'>\n  <name>bench</name>\n  <memory unit='KiB'>1048576</memory>\n  \
         <vcpu>1</vcpu>\n  <os>\n    <type arch='x86_64' machine='{machine}'>hvm</type>\n  \
         </os>\n  <devices>\n    <emulator>/usr/bin/qemu-system-x86_64</emulator>\n"
    )
}
