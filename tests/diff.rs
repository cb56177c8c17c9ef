//! diff: matching by identity and the change classes, on small domains.

use pciplan::Capabilities;
use pciplan::diff::{Change, PlanDiff, diff};
use pciplan::machine::HostPci;

const NIC_AT_3: &str = "<interface type='network'><mac address='52:54:00:00:00:01'/><model type='virtio'/>\
    <address type='pci' domain='0x0000' bus='0x00' slot='0x03' function='0x0'/></interface>";
const NIC_AT_5: &str = "<interface type='network'><mac address='52:54:00:00:00:01'/><model type='virtio'/>\
    <address type='pci' domain='0x0000' bus='0x00' slot='0x05' function='0x0'/></interface>";
const DISK_A: &str = "<disk type='file' device='disk'><source file='/a'/><target dev='vda' bus='virtio'/>\
    <address type='pci' domain='0x0000' bus='0x00' slot='0x06' function='0x0'/></disk>";
const DISK_B: &str = "<disk type='file' device='disk'><source file='/b'/><target dev='vdb' bus='virtio'/>\
    <address type='pci' domain='0x0000' bus='0x00' slot='0x07' function='0x0'/></disk>";
const BRIDGE: &str = "<controller type='pci' index='1' model='pci-bridge'/>";

fn domain(devices: &[&str]) -> String {
    format!(
        "<domain type='kvm'><os><type arch='x86_64' machine='pc'>hvm</type></os><devices>{}</devices></domain>",
        devices.concat()
    )
}

#[allow(clippy::unwrap_used, clippy::panic)]
fn diff_of(old: &[&str], new: &[&str]) -> PlanDiff {
    let load = |xml: String| {
        let (doc, mut plan) = pciplan::libvirt::parse_domain(
            &xml,
            &Capabilities::qemu_8_0_x86_64(),
            &HostPci::default(),
        )
        .unwrap();
        plan.assign().unwrap();
        let ids = pciplan::libvirt::identities(&doc, &plan);
        (plan, ids)
    };
    let (a, ai) = load(domain(old));
    let (b, bi) = load(domain(new));
    diff(&a, &ai, &b, &bi)
}

#[test]
fn nic_at_another_slot_is_moved_with_both_addresses() {
    let d = diff_of(&[NIC_AT_3], &[NIC_AT_5]);
    let nic = d.devices.iter().find(|c| c.element == "interface").unwrap();
    assert_eq!((nic.change, nic.matched_by), (Change::Moved, Some("mac")));
    assert!(
        d.render()
            .contains("moved    interface: 0000:00:03.0 -> 0000:00:05.0")
    );
}

#[test]
fn disk_missing_from_the_new_definition_is_removed() {
    let d = diff_of(&[DISK_A, DISK_B], &[DISK_A]);
    assert_eq!(d.count(Change::Removed), 1);
}

#[test]
fn disks_are_matched_by_target_not_by_order() {
    let d = diff_of(&[DISK_A, DISK_B], &[DISK_B]);
    let kept = d
        .devices
        .iter()
        .find(|c| c.change == Change::Unchanged && c.element == "disk");
    assert_eq!(kept.and_then(|c| c.matched_by), Some("target"));
}

#[test]
fn new_pci_bridge_is_a_controller_added() {
    let d = diff_of(&[NIC_AT_3], &[NIC_AT_3, BRIDGE]);
    assert!(
        d.controllers
            .iter()
            .any(|c| c.change == Change::Added && c.controller_type == "pci" && c.index == Some(1))
    );
}

#[test]
fn bridge_with_another_chassis_number_is_a_controller_changed() {
    let old_bridge =
        "<controller type='pci' index='1' model='pci-bridge'><target chassisNr='1'/></controller>";
    let new_bridge =
        "<controller type='pci' index='1' model='pci-bridge'><target chassisNr='7'/></controller>";
    let d = diff_of(&[old_bridge], &[new_bridge]);
    assert!(
        d.controllers
            .iter()
            .any(|c| c.change == Change::Moved && c.what == ["target"])
    );
}

#[test]
fn identical_definitions_leave_the_guest_abi_unchanged() {
    let d = diff_of(&[NIC_AT_3, DISK_A], &[DISK_A, NIC_AT_3]);
    assert!(d.abi_unchanged(), "{}", d.render());
}
