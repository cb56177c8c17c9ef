//! Live attach and detach at device level (issue 10): the library
//! ([`LiveDomain`], [`parse_device`]) and the `attach` / `detach` commands,
//! on the live XMLs of `examples/live/` (recorded from a running libvirt
//! 9.0 + QEMU 7.2 guest; the expected messages are libvirt's, from
//! `tests/data/hotplug/corpus.txt`).

use std::error::Error;
use std::fs;
use std::process::{Command, Output};

use pciplan::libvirt::{DetachTarget, LiveDomain, libvirt_message, parse_caps_xml, parse_device};
use pciplan::machine::HostPci;
use pciplan::{Capabilities, DeviceKind};

type R = Result<(), Box<dyn Error>>;

const CAPS: &str = "tests/data/oracle/caps-qemu-7.2.xml";
/// A q35 guest: root ports 1 (hotplug='off', holding net0), 2, 3
/// (hotplug='off'), 5 (on a pcie-expander-bus, free); a pci-bridge behind
/// a dmi-to-pci-bridge; one video.
const Q35: &str = "examples/live/q35-live.xml";
/// A pc guest: a pci-bridge, two SCSI controllers (0 and 2), a
/// virtio-serial controller with one port, two NICs on the multifunction
/// slot 00:08, a vga and a qxl video.
const PC: &str = "examples/live/pc-live.xml";
/// A pc guest without `<acpi/>` and a pci-bridge.
const PC_NO_ACPI: &str = "examples/live/pc-noacpi-live.xml";

fn caps() -> Result<Capabilities, Box<dyn Error>> {
    Ok(parse_caps_xml(&fs::read_to_string(CAPS)?)?)
}

fn read(path: &str) -> Result<String, Box<dyn Error>> {
    Ok(fs::read_to_string(path)?)
}

/// The message of a refused attach of `device` to the guest `live`.
fn attach_refusal(live: &str, device: &str) -> Result<String, Box<dyn Error>> {
    let text = read(live)?;
    let mut guest = LiveDomain::parse(&text, &caps()?, &HostPci::default())?;
    let before = guest.plan().clone();
    let err = guest
        .attach(&parse_device(device)?)
        .err()
        .ok_or("attach succeeded")?;
    assert_eq!(guest.plan(), &before, "a refused attach changed the guest");
    Ok(libvirt_message(&err))
}

/// The message of a refused detach.
fn detach_refusal(live: &str, target: &str) -> Result<String, Box<dyn Error>> {
    let text = read(live)?;
    let mut guest = LiveDomain::parse(&text, &caps()?, &HostPci::default())?;
    let before = guest.plan().clone();
    let dev;
    let target = if target.starts_with('<') {
        dev = parse_device(target)?;
        DetachTarget::Element(&dev)
    } else {
        DetachTarget::Alias(target)
    };
    let err = guest.detach(target).err().ok_or("detach succeeded")?;
    assert_eq!(guest.plan(), &before, "a refused detach changed the guest");
    Ok(libvirt_message(&err))
}

#[test]
fn attach_of_a_usb_controller_is_not_supported() -> R {
    let msg = attach_refusal(Q35, "<controller type='usb' model='qemu-xhci'/>")?;
    assert_eq!(
        msg,
        "Operation not supported: 'usb' controller cannot be hot plugged."
    );
    Ok(())
}

#[test]
fn attach_of_a_pci_controller_without_model_name_fails_its_validation_first() -> R {
    let msg = attach_refusal(
        Q35,
        "<controller type='pci' index='8' model='pcie-root-port'/>",
    )?;
    assert_eq!(
        msg,
        "internal error: Required option 'modelName' is not set for PCI controller with index '8', \
         model 'pcie-root-port' and modelName 'none'"
    );
    Ok(())
}

#[test]
fn attach_of_a_complete_pci_controller_is_not_supported() -> R {
    let msg = attach_refusal(
        PC,
        "<controller type='pci' index='2' model='pci-bridge'>\n  <model name='pci-bridge'/>\n  \
         <target chassisNr='2'/>\n</controller>",
    )?;
    assert_eq!(
        msg,
        "Operation not supported: 'pci' controller cannot be hot plugged."
    );
    Ok(())
}

#[test]
fn attach_at_function_1_is_an_internal_error() -> R {
    let msg = attach_refusal(
        PC,
        "<rng model='virtio'>\n  <backend model='random'>/dev/urandom</backend>\n  \
         <address type='pci' domain='0x0000' bus='0x00' slot='0x09' function='0x3'/>\n</rng>",
    )?;
    assert_eq!(
        msg,
        "internal error: Only PCI device addresses with function=0 are supported"
    );
    Ok(())
}

#[test]
fn attach_of_a_sound_card_is_not_supported() -> R {
    let msg = attach_refusal(PC, "<sound model='ich6'/>")?;
    assert_eq!(
        msg,
        "Operation not supported: live attach of device 'sound' is not supported"
    );
    Ok(())
}

#[test]
fn attach_to_a_root_port_with_hotplug_off_is_refused_by_libvirt() -> R {
    let msg = attach_refusal(
        Q35,
        "<interface type='user'>\n  <address type='pci' domain='0x0000' bus='0x03' slot='0x00' function='0x0'/>\n</interface>",
    )?;
    assert_eq!(
        msg,
        "XML error: The device at PCI address 0000:03:00.0 requires hotplug capability, but the \
         PCI controller with index='3' doesn't support hotplug"
    );
    Ok(())
}

#[test]
fn attach_to_pci_0_without_acpi_is_refused_by_qemu_after_libvirt_chose_the_slot() -> R {
    let text = read(PC_NO_ACPI)?;
    let mut guest = LiveDomain::parse(&text, &caps()?, &HostPci::default())?;
    let before = guest.plan().clone();

    let a = guest.attach(&parse_device(
        "<interface type='user'>\n  <model type='virtio'/>\n</interface>\n",
    )?)?;

    let refusal = a.qemu_refusal.ok_or("no QEMU refusal predicted")?;
    assert_eq!(
        a.device.address.present().map(|x| x.to_string()).as_deref(),
        Some("0000:00:04.0")
    );
    assert_eq!(
        refusal.libvirt_message(),
        "internal error: unable to execute QEMU command 'device_add': Bus 'pci.0' does not support hotplugging"
    );
    assert_eq!(guest.plan(), &before);
    Ok(())
}

#[test]
fn attach_behind_a_pci_bridge_without_acpi_is_accepted_by_qemu() -> R {
    let text = read(PC_NO_ACPI)?;
    let mut guest = LiveDomain::parse(&text, &caps()?, &HostPci::default())?;
    let device = "<interface type='user'>\n  <address type='pci' domain='0x0000' bus='0x01' slot='0x04' function='0x0'/>\n</interface>\n";

    let a = guest.attach(&parse_device(device)?)?;

    assert!(a.qemu_refusal.is_none());
    assert_eq!(a.xml, device);
    Ok(())
}

#[test]
fn scsi_controllers_get_the_lowest_free_index() -> R {
    let text = read(PC)?;
    let mut guest = LiveDomain::parse(&text, &caps()?, &HostPci::default())?;
    let scsi = parse_device("<controller type='scsi' model='virtio-scsi'/>\n")?;

    let first = guest.attach(&scsi)?;
    let second = guest.attach(&scsi)?;

    let index = |d: &pciplan::Device| d.kind.controller().and_then(|c| c.index);
    assert_eq!(
        (index(&first.device), index(&second.device)),
        (Some(1), Some(3))
    );
    assert_eq!(
        first.xml,
        "<controller type='scsi' index='1' model='virtio-scsi'>\n  \
         <address type='pci' domain='0x0000' bus='0x00' slot='0x0a' function='0x0'/>\n</controller>\n"
    );
    Ok(())
}

#[test]
fn a_scsi_controller_index_in_use_is_refused() -> R {
    let msg = attach_refusal(
        PC,
        "<controller type='scsi' index='2' model='virtio-scsi'/>",
    )?;
    assert_eq!(msg, "operation failed: target scsi:2 already exists");
    Ok(())
}

#[test]
fn virtio_channels_take_the_next_free_port_of_the_virtio_serial_controller() -> R {
    let text = read(PC)?;
    let mut guest = LiveDomain::parse(&text, &caps()?, &HostPci::default())?;
    let channel =
        "<channel type='unix'>\n  <target type='virtio' name='org.example.one'/>\n</channel>\n";

    let a = guest.attach(&parse_device(channel)?)?;

    assert_eq!(
        a.xml,
        "<channel type='unix'>\n  <target type='virtio' name='org.example.one'/>\n  \
         <address type='virtio-serial' controller='0' bus='0' port='2'/>\n</channel>\n"
    );
    Ok(())
}

#[test]
fn a_virtio_serial_port_in_use_is_refused() -> R {
    let msg = attach_refusal(
        PC,
        "<channel type='unix'>\n  <target type='virtio' name='x'/>\n  \
         <address type='virtio-serial' controller='0' bus='0' port='1'/>\n</channel>",
    )?;
    assert_eq!(
        msg,
        "XML error: virtio serial port 1 on controller 0 is already occupied"
    );
    Ok(())
}

#[test]
fn detach_of_the_primary_video_is_not_supported() -> R {
    let msg = detach_refusal(PC, "<video>\n  <model type='vga'/>\n</video>")?;
    assert_eq!(
        msg,
        "Operation not supported: live detach of device 'video' is not supported"
    );
    Ok(())
}

#[test]
fn detach_of_a_pci_bridge_with_devices_is_not_supported() -> R {
    let msg = detach_refusal(PC, "<controller type='pci' index='1' model='pci-bridge'/>")?;
    assert_eq!(
        msg,
        "Operation not supported: 'pci' controller cannot be hot unplugged."
    );
    Ok(())
}

#[test]
fn detach_from_a_multifunction_slot_fails() -> R {
    let msg = detach_refusal(PC, "net2")?;
    assert_eq!(
        msg,
        "operation failed: cannot hot unplug interface device with multifunction PCI guest address: 0000:00:08.1"
    );
    Ok(())
}

#[test]
fn detach_behind_a_root_port_with_hotplug_off_is_not_allowed() -> R {
    let msg = detach_refusal(Q35, "net0")?;
    assert_eq!(
        msg,
        "operation failed: cannot hot unplug interface device with PCI guest address: 0000:01:00.0 \
         - not allowed by controller"
    );
    Ok(())
}

#[test]
fn detach_of_an_unknown_alias_is_an_internal_error() -> R {
    let msg = detach_refusal(PC, "ua-nothing")?;
    assert_eq!(msg, "internal error: no device found with alias ua-nothing");
    Ok(())
}

#[test]
fn detach_of_an_unknown_disk_names_its_target() -> R {
    let msg = detach_refusal(
        PC,
        "<disk type='file' device='disk'>\n  <target dev='vdz' bus='virtio'/>\n</disk>",
    )?;
    assert_eq!(msg, "device not found: disk vdz not found");
    Ok(())
}

#[test]
fn detach_then_attach_gives_the_freed_slot_back_and_moves_nothing() -> R {
    let text = read(PC)?;
    let mut guest = LiveDomain::parse(&text, &caps()?, &HostPci::default())?;
    let addresses = |g: &LiveDomain<'_>| -> Vec<_> {
        g.plan()
            .devices()
            .iter()
            .filter(|d| !matches!(d.kind, DeviceKind::Interface { .. }))
            .map(|d| d.address.present())
            .collect()
    };
    let before = addresses(&guest);
    let nic = parse_device(
        "<interface type='user'>\n  <mac address='52:54:00:bb:00:01'/>\n</interface>\n",
    )?;

    let gone = guest.detach(DetachTarget::Element(&nic))?;
    let back = guest.attach(&parse_device(
        "<interface type='user'>\n  <address type='pci' domain='0x0000' bus='0x01' slot='0x03' function='0x0'/>\n</interface>\n",
    )?)?;

    assert_eq!(gone.device.address.present(), back.address());
    assert_eq!(addresses(&guest), before);
    Ok(())
}

/// `PC` without its element of net0 (and the line break before it).
fn pc_without_net0(text: &str) -> String {
    text.replacen(
        "\n    <interface type='user'>\n      <mac address='52:54:00:bb:00:01'/>\n      <model type='e1000'/>\n      \
         <alias name='net0'/>\n      <address type='pci' domain='0x0000' bus='0x01' slot='0x03' function='0x0'/>\n    </interface>",
        "",
        1,
    )
}

#[test]
fn detach_writes_the_live_xml_without_the_element() -> R {
    let text = read(PC)?;
    let mut guest = LiveDomain::parse(&text, &caps()?, &HostPci::default())?;

    guest.detach(DetachTarget::Alias("net0"))?;

    let expected = pc_without_net0(&text);
    assert_ne!(expected, text);
    assert_eq!(guest.write()?, expected);
    Ok(())
}

fn pciplan(args: &[&str]) -> Result<Output, Box<dyn Error>> {
    Ok(Command::new(env!("CARGO_BIN_EXE_pciplan"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()?)
}

#[test]
fn cli_attach_prints_the_element_with_its_address() -> R {
    let o = pciplan(&[
        "attach",
        "--caps",
        CAPS,
        Q35,
        "examples/live/nic-virtio.xml",
    ])?;

    assert_eq!(o.status.code(), Some(0));
    assert_eq!(
        String::from_utf8(o.stdout)?,
        "<interface type='user'>\n  <mac address='52:54:00:12:34:56'/>\n  <!-- a NIC for the guest's second network -->\n  \
         <model type='virtio'/>\n  <address type='pci' domain='0x0000' bus='0x05' slot='0x00' function='0x0'/>\n</interface>\n"
    );
    Ok(())
}

#[test]
fn cli_attach_refused_by_libvirt_prints_one_error_line() -> R {
    let o = pciplan(&["attach", "--caps", CAPS, Q35, "examples/live/usb.xml"])?;

    assert_eq!(o.status.code(), Some(1));
    assert!(o.stdout.is_empty());
    assert_eq!(
        String::from_utf8(o.stderr)?,
        "error: Operation not supported: 'usb' controller cannot be hot plugged.\n"
    );
    Ok(())
}

#[test]
fn cli_attach_refused_by_qemu_names_the_address_libvirt_tried() -> R {
    let o = pciplan(&[
        "attach",
        "--caps",
        CAPS,
        PC_NO_ACPI,
        "examples/live/rng.xml",
    ])?;

    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8(o.stderr)?;
    assert!(err.starts_with(
        "error: internal error: unable to execute QEMU command 'device_add': Bus 'pci.0' does not support hotplugging\n"
    ));
    assert!(err.contains("libvirt chose 0000:00:04.0"), "{err}");
    Ok(())
}

#[test]
fn cli_attach_sequence_stops_at_the_first_refusal() -> R {
    let o = pciplan(&[
        "attach",
        "--caps",
        CAPS,
        Q35,
        "--sequence",
        "examples/live/nic-virtio.xml",
        "examples/live/nic-e1000.xml",
        "examples/live/rng.xml",
        "--format",
        "json",
    ])?;

    assert_eq!(o.status.code(), Some(1));
    let out = String::from_utf8(o.stdout)?;
    let records: Vec<serde_json::Value> = serde_json::from_str(&out)?;
    let outcomes: Vec<_> = records
        .iter()
        .map(|r| r["outcome"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(outcomes, ["attached", "attached", "refused"]);
    assert_eq!(records[1]["address"], "0000:07:01.0");
    assert_eq!(
        records[2]["error"],
        "internal error: No more available PCI slots"
    );
    Ok(())
}

#[test]
fn cli_detach_by_alias_prints_the_live_xml_without_the_device() -> R {
    let o = pciplan(&["detach", "--caps", CAPS, PC, "--alias", "net0"])?;

    assert_eq!(o.status.code(), Some(0));
    assert_eq!(String::from_utf8(o.stdout)?, pc_without_net0(&read(PC)?));
    Ok(())
}

#[test]
fn cli_detach_refusal_is_one_error_line() -> R {
    let o = pciplan(&["detach", "--caps", CAPS, PC, "--alias", "video0"])?;

    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        String::from_utf8(o.stderr)?,
        "error: Operation not supported: live detach of device 'video' is not supported\n"
    );
    Ok(())
}

/// Device elements cut at any byte or with any byte changed: parsing and
/// attaching never panic, and a refused attach changes nothing.
mod hostile {
    use super::*;
    use proptest::prelude::*;

    const ELEMENTS: [&str; 4] = [
        "<interface type='user'>\n  <mac address='52:54:00:12:34:56'/>\n  <model type='virtio'/>\n  \
         <address type='pci' domain='0x0000' bus='0x01' slot='0x04' function='0x0'/>\n</interface>\n",
        "<controller type='scsi' index='3' model='virtio-scsi'/>\n",
        "<channel type='unix'>\n  <target type='virtio' name='x'/>\n  \
         <address type='virtio-serial' controller='0' bus='0' port='5'/>\n</channel>\n",
        "<controller type='pci' index='2' model='pci-bridge'>\n  <model name='pci-bridge'/>\n  \
         <target chassisNr='2'/>\n</controller>\n",
    ];

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn prop_mangled_device_elements_never_panic(
            which in 0..ELEMENTS.len(),
            at in 0usize..200,
            byte in proptest::sample::select(b"<>/'= x0Z\"&\n".to_vec()),
            cut in any::<bool>(),
        ) {
            let text = read(PC).unwrap();
            let mut guest = LiveDomain::parse(&text, &caps().unwrap(), &HostPci::default()).unwrap();
            let mut element = ELEMENTS[which].as_bytes().to_vec();
            let at = at % element.len();
            if cut {
                element.truncate(at);
            } else {
                element[at] = byte;
            }
            let element = String::from_utf8_lossy(&element).into_owned();
            let before = guest.plan().clone();
            if let Ok(dev) = parse_device(&element) {
                if guest.attach(&dev).is_err() {
                    prop_assert_eq!(guest.plan(), &before);
                }
                let _ = guest.detach(DetachTarget::Element(&dev));
            }
        }
    }
}

#[test]
fn attached_devices_get_libvirts_alias_and_can_be_detached_by_it() -> R {
    let text = read(PC)?;
    let mut guest = LiveDomain::parse(&text, &caps()?, &HostPci::default())?;

    let nic = guest.attach(&parse_device(
        "<interface type='user'>\n  <model type='rtl8139'/>\n</interface>\n",
    )?)?;
    let own = guest.attach(&parse_device(
        "<interface type='user'>\n  <alias name='ua-mine'/>\n  <model type='e1000'/>\n</interface>\n",
    )?)?;

    assert_eq!(nic.alias.as_deref(), Some("net3"));
    assert_eq!(own.alias.as_deref(), Some("ua-mine"));
    let gone = guest.detach(DetachTarget::Alias("net3"))?;
    assert_eq!(gone.device.address.present(), nic.address());
    Ok(())
}

#[test]
fn detach_from_pci_0_without_acpi_is_refused_by_qemu_and_keeps_the_device() -> R {
    let text = "<domain type='qemu'>\n  <os>\n    <type arch='x86_64' machine='pc-i440fx-7.2'>hvm</type>\n  </os>\n  \
                <devices>\n    <rng model='virtio'>\n      <backend model='random'>/dev/urandom</backend>\n      \
                <alias name='rng0'/>\n      <address type='pci' domain='0x0000' bus='0x00' slot='0x03' function='0x0'/>\n    \
                </rng>\n    <memballoon model='none'/>\n  </devices>\n</domain>\n";
    let mut guest = LiveDomain::parse(text, &caps()?, &HostPci::default())?;
    let before = guest.plan().clone();

    let d = guest.detach(DetachTarget::Alias("rng0"))?;

    let refusal = d.qemu_refusal.ok_or("no QEMU refusal predicted")?;
    assert_eq!(
        refusal.libvirt_unplug_message(),
        "internal error: unable to execute QEMU command 'device_del': Bus 'pci.0' does not support hotplugging"
    );
    assert_eq!(guest.plan(), &before);
    assert_eq!(guest.write()?, text);
    Ok(())
}

#[test]
fn check_detach_answers_without_changing_the_guest() -> R {
    let text = read(PC)?;
    let guest = LiveDomain::parse(&text, &caps()?, &HostPci::default())?;
    let before = guest.plan().clone();

    let d = guest.check_detach(DetachTarget::Alias("net0"))?;

    assert_eq!(
        d.device.address.present().map(|a| a.to_string()).as_deref(),
        Some("0000:01:03.0")
    );
    assert_eq!(guest.plan(), &before);
    Ok(())
}
