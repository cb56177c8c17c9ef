//! Domain XML → [`Plan`] (the reading half of the front end).

use std::ops::Range;

use roxmltree::Node;

use super::{Document, Written};
use crate::address::{Function, Multifunction, PciAddress, Slot, parse_c_uint};
use crate::caps::Capabilities;
use crate::controller::{ControllerModel, PciTarget};
use crate::device::{
    BalloonModel, BusId, ChannelTarget, ConsoleTarget, Controller, ControllerKind, Device,
    DeviceAddress, DeviceKind, DiskBus, Drive, FsDriver, HostdevSource, InputBus, IommuModel,
    MemoryModel, NicModel, PciController, ScsiModel, SerialTarget, ShmemModel, SoundModel,
    UsbModel, VideoModel, VirtioModel, WatchdogModel, Zpci,
};
use crate::error::{AddressError, ConfigError, Error, XmlError};
use crate::machine::{Arch, HostPci, Machine};
use crate::plan::{Plan, limits};

/// See [`super::parse_domain`].
pub(super) fn parse_domain<'a>(
    xml: &'a str,
    caps: Option<&Capabilities>,
    libvirt: crate::LibvirtVersion,
    host: &HostPci,
) -> Result<(Document<'a>, Plan), Error> {
    let tree = super::parse_tree(xml)?;
    let root = tree.root_element();
    if root.tag_name().name() != "domain" {
        return Err(XmlError::WrongRoot(root.tag_name().name().to_string()).into());
    }
    // libvirt reads every `<devices>` block (its XPath `./devices/*`), in
    // document order (rule 30); additions go into the first.
    let blocks = || elements(root).filter(|n| n.tag_name().name() == "devices");
    let devices = blocks().next();
    let all_devices = || blocks().flat_map(elements);
    // Counted before any per-device work, in one pass.
    let (count, controllers) = all_devices().fold((0usize, 0usize), |(n, c), e| {
        (n + 1, c + usize::from(e.tag_name().name() == "controller"))
    });
    limit(count, limits::MAX_DEVICES, "devices")?;
    limit(controllers, super::MAX_CONTROLLERS, "controllers")?;
    let indent_unit = devices.map_or("  ", |d| indent_unit(xml, d));

    let os_type = child(root, "os").and_then(|os| child(os, "type"));
    // libvirt reads `string(./os/type[1])`: without it (and without a Xen
    // bootloader) the definition is refused (rule 33).
    if os_type
        .and_then(|t| t.text())
        .is_none_or(|t| t.trim().is_empty())
        && child(root, "bootloader").is_none()
    {
        return Err(ConfigError::NoOsType.into());
    }
    let arch = os_type
        .and_then(|t| t.attribute("arch"))
        .unwrap_or("x86_64");
    let given = os_type
        .and_then(|t| t.attribute("machine"))
        .filter(|m| !m.is_empty());
    let builtin;
    let is_builtin = caps.is_none();
    let caps = match caps {
        Some(c) => c,
        None => {
            builtin = Capabilities::builtin_for(arch, libvirt);
            &builtin
        }
    };
    let fallback = Arch::parse(arch)?.default_machine();
    let name = given.or_else(|| caps.default_machine()).unwrap_or(fallback);
    let canonical = caps.canonical_machine(name);
    // A capability set that lists machines names every machine the binary
    // has: another one is refused.
    // The built-in QEMU 8.0 set lists no machines (its aliases stay as
    // written), but a versioned pc/q35 machine it does not have is refused
    // as QEMU 8.0's libvirt refuses it (rule 41).
    let unlisted_version = is_builtin
        && libvirt == crate::LibvirtVersion::V9_0
        && matches!(arch, "x86_64" | "i686")
        && !qemu_8_0_has_versioned(canonical);
    if unlisted_version
        || (!caps.machines().is_empty() && !caps.machines().iter().any(|m| m.name == canonical))
    {
        let emulator = all_devices()
            .find(|e| e.tag_name().name() == "emulator")
            .and_then(|e| e.text())
            .map(str::trim)
            .unwrap_or("/usr/bin/qemu-system-x86_64");
        return Err(ConfigError::MachineUnsupported {
            emulator: emulator.to_string(),
            machine: canonical.to_string(),
        }
        .into());
    }
    let machine = Machine::new(arch, canonical)?;

    let mut plan = Plan::new(machine, caps.clone());
    plan.reserve_devices(count);
    plan.set_host_pci(host.clone());
    let cells = child(root, "cpu")
        .and_then(|c| child(c, "numa"))
        .map_or(0, |n| {
            elements(n)
                .filter(|c| c.tag_name().name() == "cell")
                .count()
        });
    plan.set_numa_cells(u32::try_from(cells).unwrap_or(u32::MAX));

    let mut elems = Vec::with_capacity(count);
    let mut written = Vec::with_capacity(count);
    // The element token of the first video with `primary='yes'`, and how
    // many there are.
    let mut primary_video: Option<usize> = None;
    let mut primary_videos = 0usize;
    let mut graphics = false;
    let mut adding = plan.adding();
    for node in all_devices() {
        let name = node.tag_name().name();
        if name == "graphics" {
            graphics = true;
        }
        let Some(device) = device_of(node)? else {
            continue;
        };
        if name == "video" && child(node, "model").and_then(|m| prop(m, "primary")) == Some("yes") {
            primary_videos = primary_videos.saturating_add(1);
            if primary_video.is_none() {
                primary_video = Some(elems.len());
            }
        }
        let device = device.with_origin(elems.len());
        elems.push(node.id());
        written.push(Written::of(&device.address));
        adding.add(device);
    }
    adding.finish();
    plan.set_graphics(graphics);
    // Two primary videos are refused (rule 34).
    if primary_videos > 1 {
        return Err(ConfigError::PrimaryVideos.into());
    }
    move_primary_video(&mut plan, primary_video);

    let devices = devices.map(|d| d.id());
    let os_type = os_type.map(|t| t.id());
    let doc = Document {
        text: xml,
        tree,
        elements: elems,
        written,
        devices,
        os_type,
        indent_unit,
    };
    Ok((doc, plan))
}

/// One device element read as the domain parser reads it (kind, address,
/// label, drive, CCW/spapr-vio numbers, zPCI ids), without `origin`;
/// `None` for elements pciplan ignores. Used for single device elements
/// (live attach and detach, `device.rs`).
pub(super) fn device_of(node: Node<'_, '_>) -> Result<Option<Device>, Error> {
    let kids = Kids::of(node);
    let Some(kind) = device_kind(node, &kids)? else {
        return Ok(None);
    };
    let address_node = kids.address;
    let address = match address_node {
        Some(a) => parse_address(a)?,
        None => DeviceAddress::None,
    };
    let mut device = Device::new(kind)
        .with_address(address)
        .with_label(label(node, &kids));
    if node.tag_name().name() == "disk" {
        device.drive = disk_drive(node)?;
    }
    device.bus_id = bus_id(address_node)?;
    device.zpci = match address_node.and_then(|a| child(a, "zpci")) {
        Some(z) => Some(Zpci {
            uid: prop(z, "uid").map(|_| address_u32(z, "uid")).transpose()?,
            fid: prop(z, "fid").map(|_| address_u32(z, "fid")).transpose()?,
        }),
        None => None,
    };
    Ok(Some(device))
}

/// The versions of QEMU 8.0's `pc-i440fx-*` machines (libvirt's
/// `caps_8.0.0.x86_64.xml`); its `pc-q35-*` ones are those from 2.4 on,
/// plus 4.0.1.
const QEMU_8_0_VERSIONS: [&str; 32] = [
    "1.4", "1.5", "1.6", "1.7", "2.0", "2.1", "2.2", "2.3", "2.4", "2.5", "2.6", "2.7", "2.8",
    "2.9", "2.10", "2.11", "2.12", "3.0", "3.1", "4.0", "4.1", "4.2", "5.0", "5.1", "5.2", "6.0",
    "6.1", "6.2", "7.0", "7.1", "7.2", "8.0",
];

/// Whether a machine name is no versioned pc/q35 machine, or one QEMU 8.0
/// has (`true` for every other name: those are checked elsewhere).
fn qemu_8_0_has_versioned(name: &str) -> bool {
    let known = |v: &str| QEMU_8_0_VERSIONS.contains(&v);
    if let Some(v) = name.strip_prefix("pc-i440fx-") {
        return known(v);
    }
    if let Some(v) = name.strip_prefix("pc-q35-") {
        return v == "4.0.1"
            || (known(v)
                && !matches!(
                    v,
                    "1.4" | "1.5" | "1.6" | "1.7" | "2.0" | "2.1" | "2.2" | "2.3"
                ));
    }
    true
}

/// [`ConfigError::Limit`] when `count` is above `max`.
fn limit(count: usize, max: usize, what: &'static str) -> Result<(), Error> {
    if count > max {
        return Err(ConfigError::Limit { what, limit: max }.into());
    }
    Ok(())
}

/// libvirt moves a video with `primary='yes'` to the front of the video
/// list (videos are appended, so the list keeps their XML order otherwise).
fn move_primary_video(plan: &mut Plan, primary: Option<usize>) {
    let Some(token) = primary else { return };
    let devices = &mut plan.devices;
    let is_video = |d: &Device| matches!(d.kind, DeviceKind::Video(_));
    let first = devices.iter().position(is_video);
    let at = devices.iter().position(|d| d.origin == Some(token));
    if let (Some(first), Some(at)) = (first, at)
        && at > first
        && let Some(part) = devices.get_mut(first..=at)
    {
        part.rotate_right(1);
    }
}

/// Element children in no namespace: the only ones libvirt reads (its
/// XPath names carry no prefix); namespaced ones pass through (rule 29).
fn elements<'a, 'i>(node: Node<'a, 'i>) -> impl Iterator<Item = Node<'a, 'i>> {
    node.children()
        .filter(|n| n.is_element() && n.tag_name().namespace().is_none())
}

/// An attribute as libvirt's `virXMLPropString` (libxml2's `xmlGetProp`)
/// reads it: the first of that local name, in whatever namespace (rule 29).
fn prop<'a>(node: Node<'a, '_>, name: &str) -> Option<&'a str> {
    node.attributes()
        .find(|a| a.name() == name)
        .map(|a| a.value())
}

fn child<'a, 'i>(node: Node<'a, 'i>, name: &str) -> Option<Node<'a, 'i>> {
    elements(node).find(|c| c.tag_name().name() == name)
}

/// The first children of a device element that every device reads, found
/// in one pass (each as [`child`] finds it).
struct Kids<'a, 'i> {
    address: Option<Node<'a, 'i>>,
    alias: Option<Node<'a, 'i>>,
    model: Option<Node<'a, 'i>>,
    target: Option<Node<'a, 'i>>,
}

impl<'a, 'i> Kids<'a, 'i> {
    fn of(node: Node<'a, 'i>) -> Self {
        let mut kids = Kids {
            address: None,
            alias: None,
            model: None,
            target: None,
        };
        for c in elements(node) {
            let slot = match c.tag_name().name() {
                "address" => &mut kids.address,
                "alias" => &mut kids.alias,
                "model" => &mut kids.model,
                "target" => &mut kids.target,
                _ => continue,
            };
            if slot.is_none() {
                *slot = Some(c);
            }
        }
        kids
    }
}

/// The device's name for messages: disk target (input: its `type`, which
/// libvirt's input messages name), else alias, else empty.
fn label(node: Node<'_, '_>, kids: &Kids<'_, '_>) -> String {
    let target = match node.tag_name().name() {
        "disk" => kids.target.and_then(|t| prop(t, "dev")),
        "input" => prop(node, "type"),
        _ => None,
    };
    target
        .or_else(|| kids.alias.and_then(|a| prop(a, "name")))
        .unwrap_or_default()
        .to_string()
}

/// The whitespace in front of `start` on its line, if only whitespace.
pub(super) fn line_indent(text: &str, start: usize) -> &str {
    text.get(line_indent_range(text, start)).unwrap_or_default()
}

/// Where [`line_indent`] is in the text (empty when it is empty).
pub(super) fn line_indent_range(text: &str, start: usize) -> Range<usize> {
    // Walk back over spaces and tabs only, so that long one-line documents
    // cost nothing per element.
    let before = text.as_bytes().get(..start).unwrap_or_default();
    let mut from = before.len();
    while let Some(b' ' | b'\t') = before.get(from.wrapping_sub(1)) {
        from -= 1;
    }
    if from == 0 || before.get(from - 1) == Some(&b'\n') {
        from..before.len()
    } else {
        before.len()..before.len()
    }
}

/// The document's indentation step: `<devices>` children minus `<devices>`.
fn indent_unit<'a>(text: &'a str, devices: Node<'_, '_>) -> &'a str {
    let outer = line_indent(text, devices.range().start);
    elements(devices)
        .next()
        .map(|c| line_indent(text, c.range().start))
        .and_then(|inner| inner.strip_prefix(outer))
        .filter(|u| !u.is_empty())
        .unwrap_or("  ")
}

fn bad_attr(element: &str, attr: &str, value: &str, reason: &str) -> Error {
    XmlError::Attribute {
        element: element.to_string(),
        attr: attr.to_string(),
        value: value.to_string(),
        reason: reason.to_string(),
    }
    .into()
}

/// libvirt's message for a number attribute it cannot read.
const NOT_A_NUMBER: &str = "Expected non-negative integer value";

/// A number as C's `strtoul` with base 0 reads it, as libvirt's
/// `virStrToLong_ul*p` accept it (rule 31): leading white space and one
/// `+` are allowed, `-` is not, nothing may follow the digits (a trailing
/// space is refused), `0x` means hexadecimal and a leading `0` octal.
pub(super) fn strtoul(s: &str) -> Option<u64> {
    let b = s.as_bytes();
    // The usual form: `0x` and 1 to 15 hex digits, which cannot overflow.
    if let [b'0', b'x', digits @ ..] = b
        && (1..=15).contains(&digits.len())
    {
        let mut n: u64 = 0;
        for &c in digits {
            n = (n << 4) | digit_value(c)?;
        }
        return Some(n);
    }
    strtoul_any(s)
}

/// The value of a digit of base 16 or less.
fn digit_value(c: u8) -> Option<u64> {
    let d = match c {
        b'0'..=b'9' => c - b'0',
        b'a'..=b'f' => c - b'a' + 10,
        b'A'..=b'F' => c - b'A' + 10,
        _ => return None,
    };
    Some(u64::from(d))
}

/// [`strtoul`] for every form, one digit at a time.
fn strtoul_any(s: &str) -> Option<u64> {
    let b = s.as_bytes();
    let mut i = 0;
    while matches!(b.get(i), Some(b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)) {
        i += 1;
    }
    if b.get(i) == Some(&b'+') {
        i += 1;
    }
    let zero = b.get(i) == Some(&b'0');
    let (start, radix) = match b.get(i + 1) {
        Some(b'x' | b'X') if zero => (i + 2, 16u64),
        Some(_) if zero => (i + 1, 8),
        _ => (i, 10),
    };
    let digits = b.get(start..)?;
    if digits.is_empty() {
        return None;
    }
    // One pass: every byte a digit of the radix, no overflow.
    let mut n: u64 = 0;
    for &c in digits {
        let d = digit_value(c).filter(|&d| d < radix)?;
        n = n.checked_mul(radix)?.checked_add(d)?;
    }
    Some(n)
}

/// A number of an address element that must fit 32 bits (0 when absent),
/// as libvirt's `virXMLPropUInt` reads it.
fn address_u32(node: Node<'_, '_>, attr: &str) -> Result<u32, Error> {
    number_u32(node, attr, prop(node, attr))
}

/// [`address_u32`] for the value of `attr` already looked up.
fn number_u32(node: Node<'_, '_>, attr: &str, value: Option<&str>) -> Result<u32, Error> {
    let Some(v) = value else { return Ok(0) };
    strtoul(v)
        .and_then(|n| u32::try_from(n).ok())
        .ok_or_else(|| bad_attr(node.tag_name().name(), attr, v, NOT_A_NUMBER))
}

/// A 64-bit number of an address element (0 when absent).
fn address_part(node: Node<'_, '_>, attr: &str) -> Result<u64, Error> {
    match prop(node, attr) {
        None => Ok(0),
        Some(v) => {
            strtoul(v).ok_or_else(|| bad_attr(node.tag_name().name(), attr, v, NOT_A_NUMBER))
        }
    }
}

/// Reads domain, bus, slot, function (and multifunction) of an address
/// element; `check` forces the range checks even for an empty address.
fn pci_address(node: Node<'_, '_>, check: bool) -> Result<PciAddress, Error> {
    // The first attribute of each name, found in one pass (as `prop`
    // finds it).
    const NAMES: [&str; 5] = ["domain", "bus", "slot", "function", "multifunction"];
    let mut values: [Option<&str>; 5] = [None; 5];
    for a in node.attributes() {
        if let Some(k) = NAMES.iter().position(|n| *n == a.name())
            && let Some(v @ None) = values.get_mut(k)
        {
            *v = Some(a.value());
        }
    }
    let [domain, bus, slot, function, multifunction] = values;
    let domain = number_u32(node, "domain", domain)?;
    let bus = number_u32(node, "bus", bus)?;
    let slot = number_u32(node, "slot", slot)?;
    let function = number_u32(node, "function", function)?;
    let mut addr = if check || domain != 0 || bus != 0 || slot != 0 {
        let domain = u16::try_from(domain).map_err(|_| AddressError::Domain(domain))?;
        let bus = u8::try_from(bus).map_err(|_| AddressError::Bus(bus))?;
        let slot = u8::try_from(slot)
            .map_err(|_| AddressError::Slot(slot))
            .and_then(Slot::new)
            .map_err(|_| AddressError::Slot(slot))?;
        let function = u8::try_from(function)
            .map_err(|_| AddressError::Function(function))
            .and_then(Function::new)
            .map_err(|_| AddressError::Function(function))?;
        PciAddress::new(domain, bus, slot, function)
    } else {
        // An empty address: libvirt checks nothing and assigns one.
        let function = u8::try_from(function)
            .ok()
            .and_then(|f| Function::new(f).ok())
            .unwrap_or(Function::ZERO);
        PciAddress::new(0, 0, Slot::ZERO, function)
    };
    match multifunction {
        None => {}
        Some("on") => addr = addr.with_multifunction(Multifunction::On),
        Some("off") => addr = addr.with_multifunction(Multifunction::Off),
        Some(v) => {
            return Err(bad_attr(
                "address",
                "multifunction",
                v,
                "Expected 'on' or 'off'",
            ));
        }
    }
    Ok(addr)
}

/// libvirt 9.0's address types other than `pci` (`none` is not one the
/// parser takes: `virDomainDeviceAddressTypeFromString(..) <= 0`).
const KNOWN_ADDRESS_TYPES: [&str; 11] = [
    "drive",
    "virtio-serial",
    "ccid",
    "usb",
    "spapr-vio",
    "virtio-s390",
    "ccw",
    "virtio-mmio",
    "isa",
    "dimm",
    "unassigned",
];

/// An `<address>` element of a device.
pub(super) fn parse_address(node: Node<'_, '_>) -> Result<DeviceAddress, Error> {
    match prop(node, "type") {
        None => Err(XmlError::Rejected("No type specified for device address".into()).into()),
        Some("pci") => Ok(DeviceAddress::Pci(pci_address(node, false)?)),
        Some(t) if KNOWN_ADDRESS_TYPES.contains(&t) => Ok(DeviceAddress::Other(t.to_string())),
        Some(t) => Err(ConfigError::UnknownAddressType {
            address_type: t.to_string(),
        }
        .into()),
    }
}

/// `<source><address .../>` of a PCI host device.
fn host_address(node: Node<'_, '_>) -> Result<Option<PciAddress>, Error> {
    child(node, "source")
        .and_then(|s| child(s, "address"))
        .map(|a| pci_address(a, true))
        .transpose()
}

/// A model-like attribute parsed by `f`; `None` when absent.
fn enum_attr<T>(
    node: Node<'_, '_>,
    attr: &str,
    f: impl Fn(&str) -> Option<T>,
) -> Result<Option<T>, Error> {
    match prop(node, attr) {
        None => Ok(None),
        Some(v) => f(v)
            .map(Some)
            .ok_or_else(|| bad_attr(node.tag_name().name(), attr, v, "Unknown value")),
    }
}

/// A required model-like attribute.
fn required_attr<T>(
    node: Node<'_, '_>,
    attr: &str,
    f: impl Fn(&str) -> Option<T>,
) -> Result<T, Error> {
    enum_attr(node, attr, f)?.ok_or_else(|| {
        XmlError::Invalid {
            element: node.tag_name().name().to_string(),
            message: format!("missing attribute '{attr}'"),
        }
        .into()
    })
}

fn virtio_model(node: Node<'_, '_>) -> Result<VirtioModel, Error> {
    Ok(enum_attr(node, "model", VirtioModel::parse)?.unwrap_or_default())
}

/// The `type` of a child element (`<target type>`, `<driver type>`, …).
fn child_attr<'a>(node: Node<'a, '_>, name: &str, attr: &str) -> Option<(Node<'a, 'a>, &'a str)> {
    child(node, name).and_then(|c| prop(c, attr).map(|v| (c, v)))
}

/// The model of a device element, or `None` for elements pciplan ignores.
fn device_kind(node: Node<'_, '_>, kids: &Kids<'_, '_>) -> Result<Option<DeviceKind>, Error> {
    let kind = match node.tag_name().name() {
        "disk" => disk(node)?,
        "controller" => DeviceKind::Controller(controller(node)?),
        "interface" => interface(node, kids)?,
        "hostdev" => DeviceKind::Hostdev(hostdev(node)?),
        "sound" => DeviceKind::Sound(required_attr(node, "model", sound_model)?),
        // An empty model type is the default model (rule 35).
        "video" => DeviceKind::Video(
            match child_attr(node, "model", "type").filter(|(_, v)| !v.is_empty()) {
                None => VideoModel::Default,
                Some((m, v)) => video_model(v)
                    .ok_or_else(|| bad_attr(m.tag_name().name(), "type", v, "Unknown value"))?,
            },
        ),
        "input" => DeviceKind::Input {
            // Without a bus, x86 puts tablets on USB and mice/keyboards on PS/2.
            bus: match (prop(node, "bus"), prop(node, "type")) {
                (Some("virtio"), _) => InputBus::Virtio,
                (Some("usb"), _) | (None, Some("tablet")) => InputBus::Usb,
                _ => InputBus::Other,
            },
            model: virtio_model(node)?,
        },
        "filesystem" => DeviceKind::Filesystem {
            driver: match child_attr(node, "driver", "type") {
                None => FsDriver::Default,
                Some((d, v)) => fs_driver(v)
                    .ok_or_else(|| bad_attr(d.tag_name().name(), "type", v, "Unknown value"))?,
            },
            model: virtio_model(node)?,
        },
        "memballoon" => DeviceKind::Memballoon(required_attr(node, "model", balloon_model)?),
        "rng" => DeviceKind::Rng(virtio_model(node)?),
        "watchdog" => DeviceKind::Watchdog(required_attr(node, "model", watchdog_model)?),
        "shmem" => DeviceKind::Shmem(match child(node, "model").and_then(|m| prop(m, "type")) {
            Some("ivshmem-plain") => ShmemModel::Plain,
            Some("ivshmem-doorbell") => ShmemModel::Doorbell,
            _ => ShmemModel::Ivshmem,
        }),
        "serial" => {
            DeviceKind::Serial(target_type(node, serial_target)?.unwrap_or(SerialTarget::None))
        }
        "channel" => DeviceKind::Channel(
            match target_type(node, channel_target)?.unwrap_or(ChannelTarget::None) {
                ChannelTarget::Virtio { .. } => ChannelTarget::Virtio {
                    controller: vserial_controller(node)?,
                },
                t => t,
            },
        ),
        "console" => DeviceKind::Console(
            match target_type(node, console_target)?.unwrap_or(ConsoleTarget::None) {
                ConsoleTarget::Virtio { .. } => ConsoleTarget::Virtio {
                    controller: vserial_controller(node)?,
                },
                t => t,
            },
        ),
        "iommu" => DeviceKind::Iommu(required_attr(node, "model", iommu_model)?),
        "vsock" => DeviceKind::Vsock(virtio_model(node)?),
        "memory" => DeviceKind::Memory(required_attr(node, "model", memory_model)?),
        "smartcard" => DeviceKind::Smartcard,
        "parallel" => DeviceKind::Parallel,
        "nvram" => DeviceKind::Nvram,
        "hub" => DeviceKind::Hub,
        "tpm" => DeviceKind::Tpm {
            spapr_proxy: prop(node, "model") == Some("spapr-tpm-proxy"),
        },
        "panic" => DeviceKind::Panic,
        "redirdev" => DeviceKind::Redirdev,
        _ => return Ok(None),
    };
    Ok(Some(kind))
}

/// The controller of a `<address type='virtio-serial' controller='N'>`
/// (0 when absent).
fn vserial_controller(node: Node<'_, '_>) -> Result<u32, Error> {
    match child(node, "address").filter(|a| prop(*a, "type") == Some("virtio-serial")) {
        None => Ok(0),
        Some(a) => address_u32(a, "controller"),
    }
}

fn target_type<T>(node: Node<'_, '_>, f: impl Fn(&str) -> Option<T>) -> Result<Option<T>, Error> {
    match child(node, "target") {
        None => Ok(None),
        Some(t) => enum_attr(t, "type", f),
    }
}

fn disk(node: Node<'_, '_>) -> Result<DeviceKind, Error> {
    let target = child(node, "target");
    let dev = target.and_then(|t| prop(t, "dev")).unwrap_or_default();
    let bus = match target.and_then(|t| prop(t, "bus")) {
        Some(b) => disk_bus(b),
        None => bus_from_dev(dev),
    };
    let divisor = match bus {
        DiskBus::Ide => Some(4),
        DiskBus::Scsi => Some(7),
        DiskBus::Sata => Some(6),
        DiskBus::Fdc => Some(2),
        _ => None,
    };
    let drive_controller = match divisor {
        None => None,
        Some(div) => match child(node, "address").filter(|a| prop(*a, "type") == Some("drive")) {
            Some(a) => Some(address_u32(a, "controller")?),
            None => crate::plan::disk_name_index(dev).map(|i| i / div),
        },
    };
    Ok(DeviceKind::Disk {
        bus,
        model: virtio_model(node)?,
        drive_controller,
    })
}

/// The drive address of a disk on a drive bus: the given one, or the one
/// libvirt derives from the target name (IDE: 2 buses × 2 units per
/// controller; SCSI: 7 units; SATA: 6 units; FDC: 2 units).
fn disk_drive(node: Node<'_, '_>) -> Result<Option<Drive>, Error> {
    let target = child(node, "target");
    let dev = target.and_then(|t| prop(t, "dev")).unwrap_or_default();
    let bus = match target.and_then(|t| prop(t, "bus")) {
        Some(b) => disk_bus(b),
        None => bus_from_dev(dev),
    };
    if let Some(a) = child(node, "address").filter(|a| prop(*a, "type") == Some("drive")) {
        return Ok(Some(Drive {
            controller: address_u32(a, "controller")?,
            bus: address_u32(a, "bus")?,
            target: address_u32(a, "target")?,
            unit: address_u32(a, "unit")?,
        }));
    }
    if child(node, "address").is_some() {
        return Ok(None);
    }
    let Some(i) = crate::plan::disk_name_index(dev) else {
        return Ok(None);
    };
    let drive = |controller, bus, unit| {
        Some(Drive {
            controller,
            bus,
            target: 0,
            unit,
        })
    };
    Ok(match bus {
        DiskBus::Ide => drive(i / 4, (i % 4) / 2, i % 2),
        DiskBus::Scsi => drive(i / 7, 0, i % 7),
        DiskBus::Sata => drive(i / 6, 0, i % 6),
        DiskBus::Fdc => drive(i / 2, 0, i % 2),
        _ => None,
    })
}

/// The numbers of a given CCW or spapr-vio address (`None` when it has
/// none: libvirt then assigns them).
fn bus_id(address: Option<Node<'_, '_>>) -> Result<Option<BusId>, Error> {
    let Some(a) = address else { return Ok(None) };
    match prop(a, "type") {
        Some("ccw") if prop(a, "devno").is_some() => Ok(Some(BusId::Ccw {
            cssid: address_u32(a, "cssid")?,
            ssid: address_u32(a, "ssid")?,
            devno: address_u32(a, "devno")?,
        })),
        Some("spapr-vio") if prop(a, "reg").is_some() => Ok(Some(BusId::SpaprVio {
            reg: address_part(a, "reg")?,
        })),
        _ => Ok(None),
    }
}

fn disk_bus(s: &str) -> DiskBus {
    match s {
        "virtio" => DiskBus::Virtio,
        "ide" => DiskBus::Ide,
        "scsi" => DiskBus::Scsi,
        "sata" => DiskBus::Sata,
        "fdc" => DiskBus::Fdc,
        "usb" => DiskBus::Usb,
        "xen" => DiskBus::Xen,
        "sd" => DiskBus::Sd,
        "uml" => DiskBus::Uml,
        _ => DiskBus::None,
    }
}

fn bus_from_dev(dev: &str) -> DiskBus {
    if dev.starts_with("hd") {
        DiskBus::Ide
    } else if dev.starts_with("sd") {
        DiskBus::Scsi
    } else if dev.starts_with("vd") {
        DiskBus::Virtio
    } else if dev.starts_with("xvd") {
        DiskBus::Xen
    } else if dev.starts_with("fd") {
        DiskBus::Fdc
    } else if dev.starts_with("ubd") {
        DiskBus::Uml
    } else {
        DiskBus::None
    }
}

/// A non-negative integer attribute in libvirt's generic form (C-style
/// base unless `decimal`).
fn int_attr(node: Node<'_, '_>, attr: &str, decimal: bool) -> Result<Option<u32>, Error> {
    let Some(v) = prop(node, attr) else {
        return Ok(None);
    };
    let element = node.tag_name().name();
    let t = v.trim();
    let parsed = if decimal {
        t.parse::<i64>().ok()
    } else if let Some(neg) = t.strip_prefix('-') {
        parse_c_uint(neg)
            .and_then(|n| i64::try_from(n).ok())
            .map(|n| -n)
    } else {
        parse_c_uint(t).and_then(|n| i64::try_from(n).ok())
    };
    match parsed {
        None => Err(bad_attr(element, attr, v, "Expected integer value")),
        Some(n) if n < 0 => Err(bad_attr(element, attr, v, "Expected non-negative value")),
        Some(n) => u32::try_from(n)
            .map(Some)
            .map_err(|_| bad_attr(element, attr, v, "Expected integer value")),
    }
}

fn unknown_model(model: &str) -> Error {
    ConfigError::UnknownModel {
        model: model.to_string(),
    }
    .into()
}

fn controller(node: Node<'_, '_>) -> Result<Controller, Error> {
    let ty = prop(node, "type").unwrap_or("ide");
    let model = prop(node, "model");
    let kind = match ty {
        "ide" => {
            if let Some(m) = model.filter(|m| !matches!(*m, "piix3" | "piix4" | "ich6")) {
                return Err(unknown_model(m));
            }
            ControllerKind::Ide
        }
        "fdc" => ControllerKind::Fdc,
        "sata" => ControllerKind::Sata,
        "ccid" => ControllerKind::Ccid,
        "xenbus" => ControllerKind::Xenbus,
        "isa" => ControllerKind::Isa,
        "scsi" => ControllerKind::Scsi(
            model
                .map(|m| scsi_model(m).ok_or_else(|| unknown_model(m)))
                .transpose()?,
        ),
        "usb" => ControllerKind::Usb(
            model
                .map(|m| UsbModel::parse(m).ok_or_else(|| unknown_model(m)))
                .transpose()?,
        ),
        "virtio-serial" => ControllerKind::VirtioSerial(match model {
            None => VirtioModel::Default,
            Some(m) => VirtioModel::parse(m).ok_or_else(|| unknown_model(m))?,
        }),
        "pci" => ControllerKind::Pci(pci_controller(node, model)?),
        other => {
            return Err(bad_attr(
                "controller",
                "type",
                other,
                "Unknown controller type",
            ));
        }
    };
    Ok(Controller {
        kind,
        index: int_attr(node, "index", true)?,
        companion: child(node, "master").is_some(),
    })
}

fn only_one<'a, 'i>(node: Node<'a, 'i>, name: &str) -> Result<Option<Node<'a, 'i>>, Error> {
    let mut all = elements(node).filter(|c| c.tag_name().name() == name);
    let first = all.next();
    if all.next().is_some() {
        return Err(XmlError::Rejected(format!(
            "Multiple <{name}> elements in controller definition not allowed"
        ))
        .into());
    }
    Ok(first)
}

fn pci_controller(node: Node<'_, '_>, model: Option<&str>) -> Result<PciController, Error> {
    let model = model.map(str::parse::<ControllerModel>).transpose()?;
    let model_name = only_one(node, "model")?
        .and_then(|m| prop(m, "name"))
        .map(|n| std::borrow::Cow::Owned(n.to_string()));
    let mut target = PciTarget::default();
    if let Some(t) = only_one(node, "target")? {
        target.chassis_nr = int_attr(t, "chassisNr", false)?;
        target.chassis = int_attr(t, "chassis", false)?;
        target.port = int_attr(t, "port", false)?;
        target.bus_nr = int_attr(t, "busNr", false)?;
        target.index = int_attr(t, "index", false)?;
        target.hotplug = match prop(t, "hotplug") {
            None => None,
            Some("on") => Some(true),
            Some("off") => Some(false),
            Some(v) => return Err(bad_attr("target", "hotplug", v, "Expected 'on' or 'off'")),
        };
        if let Some(n) = child(t, "node") {
            let text = n.text().unwrap_or_default().trim();
            target.node = Some(
                text.parse::<u32>()
                    .map_err(|_| XmlError::Rejected("invalid NUMA node in target".into()))?,
            );
        }
    }
    Ok(PciController {
        model,
        model_name,
        target,
        pcihole64: child(node, "pcihole64").is_some(),
    })
}

fn interface(node: Node<'_, '_>, kids: &Kids<'_, '_>) -> Result<DeviceKind, Error> {
    // libvirt reads the NIC model by XPath (`string(./model/@type)`): an
    // attribute in no namespace only (rule 29).
    let model = kids
        .model
        .and_then(|m| m.attribute("type"))
        .filter(|v| !v.is_empty())
        .map(NicModel::parse);
    let hostdev = if prop(node, "type") == Some("hostdev") {
        Some(HostdevSource::Pci(host_address(node)?))
    } else {
        None
    };
    Ok(DeviceKind::Interface { model, hostdev })
}

fn hostdev(node: Node<'_, '_>) -> Result<HostdevSource, Error> {
    if prop(node, "mode").is_some_and(|m| m != "subsystem") {
        return Ok(HostdevSource::Other);
    }
    Ok(match prop(node, "type") {
        Some("pci") => HostdevSource::Pci(host_address(node)?),
        Some("scsi_host") => HostdevSource::ScsiHost(virtio_model(node)?),
        Some("mdev") if prop(node, "model") == Some("vfio-pci") => HostdevSource::MdevVfioPci,
        Some("mdev") if prop(node, "model") == Some("vfio-ccw") => HostdevSource::MdevVfioCcw,
        Some("mdev") => HostdevSource::MdevOther,
        Some("scsi") => HostdevSource::Scsi(drive_address(node)?),
        _ => HostdevSource::Other,
    })
}

/// The (controller, unit) of a device's `<address type='drive'>`.
fn drive_address(node: Node<'_, '_>) -> Result<Option<(u32, u32)>, Error> {
    let Some(a) = child(node, "address").filter(|a| prop(*a, "type") == Some("drive")) else {
        return Ok(None);
    };
    Ok(Some((
        address_u32(a, "controller")?,
        address_u32(a, "unit")?,
    )))
}

fn sound_model(s: &str) -> Option<SoundModel> {
    Some(match s {
        "sb16" => SoundModel::Sb16,
        "es1370" => SoundModel::Es1370,
        "pcspk" => SoundModel::Pcspk,
        "ac97" => SoundModel::Ac97,
        "ich6" => SoundModel::Ich6,
        "ich9" => SoundModel::Ich9,
        "usb" => SoundModel::Usb,
        "ich7" => SoundModel::Ich7,
        _ => return None,
    })
}

/// libvirt's spelling of each video model (`Default` has none).
pub(super) const VIDEO_MODELS: [(VideoModel, &str); 12] = [
    (VideoModel::Vga, "vga"),
    (VideoModel::Cirrus, "cirrus"),
    (VideoModel::Vmvga, "vmvga"),
    (VideoModel::Xen, "xen"),
    (VideoModel::Vbox, "vbox"),
    (VideoModel::Qxl, "qxl"),
    (VideoModel::Parallels, "parallels"),
    (VideoModel::Virtio, "virtio"),
    (VideoModel::Gop, "gop"),
    (VideoModel::None, "none"),
    (VideoModel::Bochs, "bochs"),
    (VideoModel::Ramfb, "ramfb"),
];

fn video_model(s: &str) -> Option<VideoModel> {
    VIDEO_MODELS.iter().find(|(_, n)| *n == s).map(|(m, _)| *m)
}

fn fs_driver(s: &str) -> Option<FsDriver> {
    Some(match s {
        "path" => FsDriver::Path,
        "handle" => FsDriver::Handle,
        "loop" => FsDriver::Loop,
        "nbd" => FsDriver::Nbd,
        "ploop" => FsDriver::Ploop,
        "virtiofs" => FsDriver::Virtiofs,
        _ => return None,
    })
}

fn balloon_model(s: &str) -> Option<BalloonModel> {
    Some(match s {
        "virtio" => BalloonModel::Virtio,
        "virtio-transitional" => BalloonModel::VirtioTransitional,
        "virtio-non-transitional" => BalloonModel::VirtioNonTransitional,
        "xen" => BalloonModel::Xen,
        "none" => BalloonModel::None,
        _ => return None,
    })
}

fn watchdog_model(s: &str) -> Option<WatchdogModel> {
    Some(match s {
        "i6300esb" => WatchdogModel::I6300esb,
        "ib700" => WatchdogModel::Ib700,
        "diag288" => WatchdogModel::Diag288,
        "itco" => WatchdogModel::Itco,
        _ => return None,
    })
}

fn serial_target(s: &str) -> Option<SerialTarget> {
    Some(match s {
        // isa-debug is an ISA device too; the model has no own variant.
        "isa-serial" | "isa-debug" => SerialTarget::Isa,
        "usb-serial" => SerialTarget::Usb,
        "pci-serial" => SerialTarget::Pci,
        "spapr-vio-serial" => SerialTarget::SpaprVio,
        "system-serial" => SerialTarget::System,
        "sclp-serial" => SerialTarget::Sclp,
        _ => return None,
    })
}

fn channel_target(s: &str) -> Option<ChannelTarget> {
    Some(match s {
        "guestfwd" => ChannelTarget::Guestfwd,
        "virtio" => ChannelTarget::Virtio { controller: 0 },
        "xen" => ChannelTarget::Xen,
        _ => return None,
    })
}

fn console_target(s: &str) -> Option<ConsoleTarget> {
    Some(match s {
        "serial" => ConsoleTarget::Serial,
        "xen" => ConsoleTarget::Xen,
        "uml" => ConsoleTarget::Uml,
        "virtio" => ConsoleTarget::Virtio { controller: 0 },
        "lxc" | "openvz" | "sclp" | "sclplm" => ConsoleTarget::Other,
        _ => return None,
    })
}

fn iommu_model(s: &str) -> Option<IommuModel> {
    Some(match s {
        "intel" => IommuModel::Intel,
        "smmuv3" => IommuModel::Smmuv3,
        "virtio" => IommuModel::Virtio,
        _ => return None,
    })
}

fn memory_model(s: &str) -> Option<MemoryModel> {
    Some(match s {
        "dimm" => MemoryModel::Dimm,
        "nvdimm" => MemoryModel::Nvdimm,
        "virtio-pmem" => MemoryModel::VirtioPmem,
        "virtio-mem" => MemoryModel::VirtioMem,
        "sgx-epc" => MemoryModel::SgxEpc,
        _ => return None,
    })
}

/// libvirt's spelling of each SCSI controller model.
pub(super) const SCSI_MODELS: [(ScsiModel, &str); 13] = [
    (ScsiModel::Auto, "auto"),
    (ScsiModel::Buslogic, "buslogic"),
    (ScsiModel::Lsilogic, "lsilogic"),
    (ScsiModel::Lsisas1068, "lsisas1068"),
    (ScsiModel::Vmpvscsi, "vmpvscsi"),
    (ScsiModel::Ibmvscsi, "ibmvscsi"),
    (ScsiModel::VirtioScsi, "virtio-scsi"),
    (ScsiModel::Lsisas1078, "lsisas1078"),
    (ScsiModel::VirtioTransitional, "virtio-transitional"),
    (ScsiModel::VirtioNonTransitional, "virtio-non-transitional"),
    (ScsiModel::Ncr53c90, "ncr53c90"),
    (ScsiModel::Am53c974, "am53c974"),
    (ScsiModel::Dc390, "dc390"),
];

fn scsi_model(s: &str) -> Option<ScsiModel> {
    SCSI_MODELS.iter().find(|(_, n)| *n == s).map(|(m, _)| *m)
}

#[cfg(test)]
mod tests {
    use super::{strtoul, strtoul_any};

    #[test]
    fn hex_numbers_read_as_every_form_reads_them() {
        let mut cases = vec![
            String::new(),
            "0x".into(),
            "0X1f".into(),
            " 0x1".into(),
            "+0x1".into(),
            "0x-1".into(),
            "0x1 ".into(),
            "017".into(),
        ];
        for len in 1..=17 {
            for digits in [
                "0123456789abcdef",
                "FEDCBA9876543210",
                "ffffffffffffffff",
                "12g4",
            ] {
                let d: String = digits.chars().cycle().take(len).collect();
                cases.push(format!("0x{d}"));
            }
        }
        for s in cases {
            assert_eq!(strtoul(&s), strtoul_any(&s), "{s:?}");
        }
    }
}
