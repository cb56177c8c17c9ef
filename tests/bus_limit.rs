//! More than 256 buses (rule 42 of `docs/libvirt-rules.md`): libvirt's dry
//! run counts on past bus 255 and fails where the controllers it then adds
//! fail. The expected messages are the live libvirt 9.0's for the same
//! inputs (`../shared/oracle/libvirt-assign`, 2026-12-02).

use pciplan::Capabilities;
use pciplan::libvirt::assign_xml;
use pciplan::machine::HostPci;

/// A domain of machine `machine` with `n` copies of `device`.
fn domain(machine: &str, extra: &str, device: &str, n: usize) -> String {
    format!(
        "<domain type='kvm'>\n  <os>\n    <type arch='x86_64' machine='{machine}'>hvm</type>\n  </os>\n  \
         <devices>\n{extra}{}  </devices>\n</domain>\n",
        device.repeat(n)
    )
}

const VIRTIO_NIC: &str =
    "    <interface type='user'>\n      <model type='virtio'/>\n    </interface>\n";
const TRANSITIONAL_NIC: &str =
    "    <interface type='user'>\n      <model type='virtio-transitional'/>\n    </interface>\n";

/// The first line of the refusal, without pciplan's `; device: ...` part.
fn refusal(xml: &str) -> String {
    match assign_xml(xml, &Capabilities::qemu_8_0_x86_64(), &HostPci::default()) {
        Ok(_) => "accepted".into(),
        Err(e) => {
            let text = e.to_string();
            text.split("; device:")
                .next()
                .unwrap_or_default()
                .to_string()
        }
    }
}

const ROOT_PORT_SLOT: &str = "internal error: a PCI slot is needed to connect a PCI controller \
     model='pcie-root-port', but none is available, and it cannot be automatically added";
const BRIDGE_SLOT: &str = "internal error: a PCI slot is needed to connect a PCI controller \
     model='pci-bridge', but none is available, and it cannot be automatically added";

#[test]
fn q35_with_238_nics_runs_out_of_root_port_slots() {
    assert_eq!(refusal(&domain("q35", "", VIRTIO_NIC, 238)), ROOT_PORT_SLOT);
}

#[test]
fn q35_with_300_nics_runs_out_of_root_port_slots_not_bus_numbers() {
    assert_eq!(refusal(&domain("q35", "", VIRTIO_NIC, 300)), ROOT_PORT_SLOT);
}

#[test]
fn q35_with_7651_nics_gives_libvirts_message() {
    assert_eq!(
        refusal(&domain("q35", "", VIRTIO_NIC, 7651)),
        ROOT_PORT_SLOT
    );
}

#[test]
fn pc_with_7800_nics_runs_out_of_bridge_slots() {
    assert_eq!(refusal(&domain("pc", "", VIRTIO_NIC, 7800)), BRIDGE_SLOT);
}

#[test]
fn q35_with_8000_conventional_nics_runs_out_of_bridge_slots() {
    let root = "    <controller type='pci' index='0' model='pcie-root'/>\n";
    assert_eq!(
        refusal(&domain("q35", root, TRANSITIONAL_NIC, 8000)),
        BRIDGE_SLOT
    );
}
