//! [`Plan`] → domain XML: in-place edits of the original text (spec §7).

use std::fmt::Write as _;

use super::parse::{SCSI_MODELS, VIDEO_MODELS, line_indent};
use super::{Document, Elem};
use crate::address::{Multifunction, PciAddress};
use crate::controller::PciTarget;
use crate::device::{
    BalloonModel, Controller, ControllerKind, Device, DeviceAddress, DeviceKind, PciController,
    SoundModel, UsbModel, VirtioModel, Zpci,
};
use crate::error::{Error, XmlError};
use crate::plan::Plan;

/// The order in which libvirt writes device elements.
const LIBVIRT_ORDER: [&str; 30] = [
    "emulator",
    "disk",
    "controller",
    "lease",
    "filesystem",
    "interface",
    "smartcard",
    "serial",
    "parallel",
    "console",
    "channel",
    "input",
    "tpm",
    "graphics",
    "sound",
    "audio",
    "video",
    "hostdev",
    "redirdev",
    "redirfilter",
    "hub",
    "watchdog",
    "memballoon",
    "rng",
    "nvram",
    "panic",
    "shmem",
    "memory",
    "iommu",
    "vsock",
];

/// One text replacement; an insertion has `start == end`.
struct Edit {
    start: usize,
    end: usize,
    text: String,
}

/// The edits of one write, applied in one pass.
struct Edits<'d> {
    doc: &'d Document,
    list: Vec<Edit>,
}

impl Edits<'_> {
    fn insert(&mut self, at: usize, text: String) {
        self.replace(at, at, text);
    }

    fn replace(&mut self, start: usize, end: usize, text: String) {
        self.list.push(Edit { start, end, text });
    }

    /// Adds children (already rendered for the element's child indentation)
    /// at the end of an element's content.
    fn append_children(&mut self, e: &Elem, children: &[String]) {
        if children.is_empty() {
            return;
        }
        let mut body = String::new();
        for c in children {
            let _ = write!(body, "\n{}{c}", e.child_indent);
        }
        if e.self_closing {
            let text = self.doc.text.as_str();
            let mut at = e.range.end.saturating_sub(2);
            while at > e.range.start
                && text
                    .get(at.saturating_sub(1)..at)
                    .is_some_and(|c| c.trim().is_empty())
            {
                at = at.saturating_sub(1);
            }
            self.replace(
                at,
                e.range.end,
                format!(">{body}\n{}</{}>", e.indent, e.name),
            );
        } else if let Some(end) = e.last_child_end {
            self.insert(end, body);
        } else {
            self.replace(
                e.content_start,
                e.close_start,
                format!("{body}\n{}", e.indent),
            );
        }
    }

    /// Applies the edits (all inside `start..end`) to that part of the text.
    fn apply_within(mut self, start: usize, end: usize) -> Result<String, Error> {
        self.list.sort_by_key(|e| (e.start, e.end > e.start));
        let text = self.doc.text.as_str();
        let mut out = String::new();
        let mut at = start;
        for e in &self.list {
            if e.start < at || e.end > end {
                return Err(internal("an edit falls outside its element"));
            }
            out.push_str(text.get(at..e.start).unwrap_or_default());
            out.push_str(&e.text);
            at = e.end.max(at);
        }
        out.push_str(text.get(at..end).unwrap_or_default());
        Ok(out)
    }

    fn apply(mut self) -> Result<String, Error> {
        // Insertions before replacements at the same place; otherwise the
        // order the edits were made in.
        self.list.sort_by_key(|e| (e.start, e.end > e.start));
        let text = self.doc.text.as_str();
        let mut out = String::with_capacity(
            text.len()
                .saturating_add(self.list.len().saturating_mul(80)),
        );
        let mut at = 0;
        for e in &self.list {
            let kept = text
                .get(at..e.start)
                .ok_or_else(|| internal("overlapping edits"))?;
            out.push_str(kept);
            out.push_str(&e.text);
            at = e.end.max(at);
        }
        out.push_str(text.get(at..).unwrap_or_default());
        Ok(out)
    }
}

fn internal(message: &str) -> Error {
    XmlError::Invalid {
        element: "devices".into(),
        message: message.into(),
    }
    .into()
}

/// See [`super::write_domain`].
///
/// libvirt writes controllers in its controller array order and videos with
/// the primary one first (§7.2, §5.14). Where that differs from the
/// document order, the elements of that name trade places: the k-th such
/// element of the document is replaced by the (edited) text of the k-th one
/// in plan order. Each element's own text is kept.
pub(super) fn write_domain(doc: &Document, plan: &Plan) -> Result<String, Error> {
    let mut edits = Edits {
        doc,
        list: Vec::new(),
    };
    write_machine(doc, plan, &mut edits);
    // The edited text of every device element, and the slots it may move to.
    let mut texts: Vec<(usize, &str, std::ops::Range<usize>, String)> = Vec::new();
    for d in plan.devices() {
        if let Some(k) = d.origin {
            let e = doc.elements.get(k).ok_or_else(|| {
                internal("the plan refers to an element the document does not have")
            })?;
            let mut own = Edits {
                doc,
                list: Vec::new(),
            };
            edit_device(doc, e, d, &mut own);
            let text = own.apply_within(e.range.start, e.range.end)?;
            texts.push((k, d.kind.element(), e.range.clone(), text));
        }
    }
    // Disks and videos: the k-th slot of the document takes the k-th
    // device of that kind in plan order (libvirt sorts disks by bus and
    // target name, and writes the primary video first).
    for name in ["disk", "video"] {
        let mut slots: Vec<std::ops::Range<usize>> = texts
            .iter()
            .filter(|t| t.1 == name)
            .map(|t| t.2.clone())
            .collect();
        slots.sort_by_key(|r| r.start);
        for (t, slot) in texts.iter_mut().filter(|t| t.1 == name).zip(slots) {
            t.2 = slot;
        }
    }
    // Controllers: every controller, given or added, in the order libvirt's
    // parser would hold them; given ones fill the document's controller
    // slots, the rest follow the last of them.
    let mut ctrl_slots: Vec<std::ops::Range<usize>> = texts
        .iter()
        .filter(|t| t.1 == "controller")
        .map(|t| t.2.clone())
        .collect();
    ctrl_slots.sort_by_key(|r| r.start);
    let mut controllers_placed = false;
    if let Some(last) = ctrl_slots.last().cloned() {
        controllers_placed = true;
        let indent = line_indent(&doc.text, last.start);
        let unit = doc.indent_unit.as_str();
        let mut tail = String::new();
        let mut slot_iter = ctrl_slots.into_iter();
        for i in plan.controller_output_order() {
            let Some(d) = plan.devices().get(i) else {
                continue;
            };
            let text = match d.origin {
                Some(k) => texts.iter().find(|t| t.0 == k).map(|t| t.3.clone()),
                None => render_new(d, &indent, unit),
            };
            let Some(text) = text else { continue };
            match slot_iter.next() {
                Some(slot) => {
                    if doc.text.get(slot.clone()) != Some(text.as_str()) {
                        edits.replace(slot.start, slot.end, text);
                    }
                }
                None => {
                    let _ = write!(tail, "\n{indent}{text}");
                }
            }
        }
        if !tail.is_empty() {
            edits.insert(last.end, tail);
        }
        texts.retain(|t| t.1 != "controller");
    }
    for (_, _, range, text) in texts {
        if doc.text.get(range.clone()) != Some(text.as_str()) {
            edits.replace(range.start, range.end, text);
        }
    }
    add_new_devices(doc, plan, &mut edits, controllers_placed);
    edits.apply()
}

/// Escapes a value for a single-quoted attribute.
fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('\'', "&apos;")
}

fn write_machine(doc: &Document, plan: &Plan, edits: &mut Edits<'_>) {
    let Some(t) = &doc.os_type else {
        return;
    };
    let after_name = t.range.start.saturating_add(5);
    let arch = t.attr("arch");
    if arch.is_none() {
        // libvirt fills in the architecture it used.
        let value = plan.machine().arch().as_str();
        edits.insert(after_name, format!(" arch='{value}'"));
    }
    let name = plan.machine().name();
    match t.attr("machine") {
        Some(a) if a.value != name => {
            edits.replace(a.value_range.start, a.value_range.end, escape(name))
        }
        Some(_) => {}
        None => {
            let at = arch.map_or(after_name, |a| a.range.end);
            edits.insert(at, format!(" machine='{}'", escape(name)));
        }
    }
}

/// libvirt's full form of a PCI address.
fn render_address(a: &PciAddress) -> String {
    let mut s = format!(
        "<address type='pci' domain='0x{:04x}' bus='0x{:02x}' slot='0x{:02x}' function='0x{:x}'",
        a.domain(),
        a.bus(),
        a.slot().as_u8(),
        a.function().as_u8()
    );
    match a.multifunction() {
        Multifunction::Absent => {}
        Multifunction::On => s.push_str(" multifunction='on'"),
        Multifunction::Off => s.push_str(" multifunction='off'"),
    }
    s.push_str("/>");
    s
}

/// Address types the plan gives devices that had none, written back so
/// that the device is never placed on PCI by a later run.
const NON_PCI_WRITTEN: [&str; 3] = ["ccw", "virtio-mmio", "spapr-vio"];

/// A CCW / virtio-mmio / spapr-vio address: with libvirt's numbers when the
/// plan has them, else the type alone.
fn render_other_address(address_type: &str, d: &Device) -> String {
    d.bus_id.map_or_else(
        || format!("<address type='{}'/>", escape(address_type)),
        |id| id.to_string(),
    )
}

/// A device's PCI address with its zPCI ids when it has them.
fn render_device_address(a: &PciAddress, d: &Device, indent: &str, unit: &str) -> String {
    let plain = render_address(a);
    match d.zpci {
        Some(Zpci {
            uid: Some(uid),
            fid: Some(fid),
        }) => {
            let open = plain.trim_end_matches("/>");
            format!(
                "{open}>\n{indent}{unit}<zpci uid='0x{uid:04x}' fid='0x{fid:08x}'/>\n{indent}</address>"
            )
        }
        _ => plain,
    }
}

/// `<target>` attributes in libvirt's order.
fn target_attrs(t: &PciTarget) -> Vec<(&'static str, String)> {
    let mut v = Vec::new();
    if let Some(n) = t.chassis_nr {
        v.push(("chassisNr", n.to_string()));
    }
    if let Some(n) = t.chassis {
        v.push(("chassis", n.to_string()));
    }
    if let Some(n) = t.port {
        v.push(("port", format!("0x{n:x}")));
    }
    if let Some(n) = t.bus_nr {
        v.push(("busNr", n.to_string()));
    }
    if let Some(n) = t.index {
        v.push(("index", n.to_string()));
    }
    if let Some(h) = t.hotplug {
        v.push(("hotplug", if h { "on" } else { "off" }.to_string()));
    }
    v
}

/// A `<target>` element (rendered at `indent`), or `None` when empty.
fn render_target(t: &PciTarget, indent: &str, unit: &str) -> Option<String> {
    if t.is_empty() {
        return None;
    }
    let mut s = String::from("<target");
    for (name, value) in target_attrs(t) {
        let _ = write!(s, " {name}='{value}'");
    }
    match t.node {
        None => s.push_str("/>"),
        Some(n) => {
            let _ = write!(s, ">\n{indent}{unit}<node>{n}</node>\n{indent}</target>");
        }
    }
    Some(s)
}

/// Position of the first child among `names`, to insert in front of it.
fn first_child_of<'e>(e: &'e Elem, names: &[&str]) -> Option<&'e Elem> {
    e.children.iter().find(|c| names.contains(&c.name.as_str()))
}

fn edit_device(doc: &Document, e: &Elem, d: &Device, edits: &mut Edits<'_>) {
    let mut append = Vec::new();
    if let DeviceKind::Controller(c) = &d.kind {
        // libvirt writes every controller's index (§7.2).
        if let (Some(i), None) = (c.index, e.attr("index")) {
            let at = e
                .attr("type")
                .map_or(e.range.start.saturating_add(11), |a| a.range.end);
            edits.insert(at, format!(" index='{i}'"));
        }
        if let ControllerKind::Pci(p) = &c.kind {
            edit_pci_controller(doc, e, p, edits, &mut append);
        }
    }
    if let DeviceAddress::Pci(a) = &d.address
        && !a.is_empty()
    {
        let zpci_written = e.child("address").is_some_and(|x| {
            x.child("zpci")
                .is_some_and(|z| z.attr("uid").is_some() && z.attr("fid").is_some())
        });
        match &e.address {
            Some((_, DeviceAddress::Pci(old)))
                if old == a && (d.zpci.is_none() || zpci_written) => {}
            Some((range, _)) => edits.replace(
                range.start,
                range.end,
                render_device_address(a, d, &e.child_indent, &doc.indent_unit),
            ),
            None => append.push(render_device_address(
                a,
                d,
                &e.child_indent,
                &doc.indent_unit,
            )),
        }
    }
    if d.address == DeviceAddress::None
        && let Some((range, DeviceAddress::Pci(_))) = &e.address
    {
        // The plan dropped the address (a disabled USB controller): remove
        // the element with the whitespace before it.
        let text = doc.text.as_str();
        let mut start = range.start;
        while start > e.range.start
            && text
                .get(start.saturating_sub(1)..start)
                .is_some_and(|c| c.trim().is_empty())
        {
            start = start.saturating_sub(1);
        }
        edits.replace(start, range.end, String::new());
    }
    // A numberless CCW/spapr-vio address, or a PCI address libvirt turned
    // into a spapr-vio one (rule 26), is replaced by the numbered one.
    if let (DeviceAddress::Other(t), Some((range, old))) = (&d.address, &e.address)
        && NON_PCI_WRITTEN.contains(&t.as_str())
    {
        let numberless = e
            .child("address")
            .is_some_and(|a| a.attr("devno").is_none() && a.attr("reg").is_none());
        let text = render_other_address(t, d);
        let replace = match old {
            DeviceAddress::Pci(_) => true,
            DeviceAddress::Other(_) => numberless && d.bus_id.is_some(),
            DeviceAddress::None => false,
        };
        if replace {
            edits.replace(range.start, range.end, text);
        }
    }
    if let DeviceAddress::Other(t) = &d.address
        && e.address.is_none()
        && NON_PCI_WRITTEN.contains(&t.as_str())
    {
        append.push(render_other_address(t, d));
    }
    edits.append_children(e, &append);
}

/// The `<model name>` and `<target>` values a PCI controller
/// gained; children to add at the end go into `append`.
fn edit_pci_controller(
    doc: &Document,
    e: &Elem,
    p: &PciController,
    edits: &mut Edits<'_>,
    append: &mut Vec<String>,
) {
    let has_name = e.child("model").is_some_and(|m| m.attr("name").is_some());
    if let (Some(name), false, Some(m)) = (&p.model_name, has_name, e.child("model")) {
        // A `<model/>` without a name: fill it in rather than add another.
        let at = m.range.start.saturating_add(1).saturating_add(m.name.len());
        edits.insert(at, format!(" name='{}'", escape(name)));
    } else if let (Some(name), false) = (&p.model_name, has_name) {
        let child = format!("<model name='{}'/>", escape(name));
        match first_child_of(e, &["driver", "target", "alias", "address"]) {
            Some(before) => edits.insert(before.range.start, format!("{child}\n{}", before.indent)),
            None => append.push(child),
        }
    }
    match e.child("target") {
        Some(t) => merge_target(t, &p.target, edits),
        None => {
            if let Some(child) = render_target(&p.target, &e.child_indent, &doc.indent_unit) {
                match first_child_of(e, &["alias", "address"]) {
                    Some(before) => {
                        edits.insert(before.range.start, format!("{child}\n{}", before.indent))
                    }
                    None => append.push(child),
                }
            }
        }
    }
}

/// Adds the target attributes the plan has and the element lacks, each in
/// libvirt's order relative to the ones already there.
fn merge_target(t: &Elem, target: &PciTarget, edits: &mut Edits<'_>) {
    let wanted = target_attrs(target);
    let after_name = t.range.start.saturating_add(1).saturating_add(t.name.len());
    for (i, (name, value)) in wanted.iter().enumerate() {
        if t.attr(name).is_some() {
            continue;
        }
        let at = wanted
            .get(..i)
            .unwrap_or_default()
            .iter()
            .rev()
            .find_map(|(prev, _)| t.attr(prev))
            .map_or(after_name, |a| a.range.end);
        edits.insert(at, format!(" {name}='{value}'"));
    }
}

/// Where new elements of one name go.
enum Anchor {
    /// After the element ending here.
    After(usize, String),
    /// Before the element starting here.
    Before(usize, String),
    /// At the end of `<devices>`.
    Append,
}

fn anchor(doc: &Document, name: &str) -> Anchor {
    if let Some((_, r)) = doc.order.iter().rev().find(|(n, _)| n == name) {
        return Anchor::After(r.end, line_indent(&doc.text, r.start));
    }
    let later = LIBVIRT_ORDER
        .iter()
        .position(|n| *n == name)
        .and_then(|p| LIBVIRT_ORDER.get(p.saturating_add(1)..))
        .unwrap_or_default();
    doc.order
        .iter()
        .find(|(n, _)| later.contains(&n.as_str()))
        .map_or(Anchor::Append, |(_, r)| {
            Anchor::Before(r.start, line_indent(&doc.text, r.start))
        })
}

fn add_new_devices(doc: &Document, plan: &Plan, edits: &mut Edits<'_>, controllers_placed: bool) {
    let unit = doc.indent_unit.as_str();
    let mut at_end = Vec::new();
    let rank = |d: &&Device| LIBVIRT_ORDER.iter().position(|n| *n == d.kind.element());
    // New controllers in the order libvirt's parser would hold them.
    let mut new: Vec<&Device> = plan
        .controller_output_order()
        .into_iter()
        .filter_map(|i| plan.devices().get(i))
        .filter(|d| d.origin.is_none() && !controllers_placed)
        .collect();
    new.extend(
        plan.devices()
            .iter()
            .filter(|d| d.origin.is_none() && d.kind.controller().is_none()),
    );
    new.sort_by_key(rank);
    for d in new {
        let name = d.kind.element();
        match anchor(doc, name) {
            Anchor::After(pos, indent) => {
                if let Some(s) = render_new(d, &indent, unit) {
                    edits.insert(pos, format!("\n{indent}{s}"));
                }
            }
            Anchor::Before(pos, indent) => {
                if let Some(s) = render_new(d, &indent, unit) {
                    edits.insert(pos, format!("{s}\n{indent}"));
                }
            }
            Anchor::Append => {
                let indent = match &doc.devices {
                    Some(e) => e.child_indent.clone(),
                    None => format!("{}{unit}", doc.domain.child_indent),
                };
                if let Some(s) = render_new(d, &indent, unit) {
                    at_end.push(s);
                }
            }
        }
    }
    match &doc.devices {
        Some(e) => edits.append_children(e, &at_end),
        None if !at_end.is_empty() => {
            let devices = element("devices", "", &at_end, &doc.domain.child_indent, unit);
            edits.append_children(&doc.domain, &[devices]);
        }
        None => {}
    }
}

/// An element with attributes and children, at `indent`.
fn element(name: &str, attrs: &str, children: &[String], indent: &str, unit: &str) -> String {
    if children.is_empty() {
        return format!("<{name}{attrs}/>");
    }
    let mut s = format!("<{name}{attrs}>");
    for c in children {
        let _ = write!(s, "\n{indent}{unit}{c}");
    }
    let _ = write!(s, "\n{indent}</{name}>");
    s
}

/// A device pciplan added, written in full; `None` for devices that carry
/// nothing for the XML (no PCI address and no known rendering).
fn render_new(d: &Device, indent: &str, unit: &str) -> Option<String> {
    let address = match &d.address {
        DeviceAddress::Pci(a) if !a.is_empty() => Some(render_device_address(
            a,
            d,
            &format!("{indent}{unit}"),
            unit,
        )),
        DeviceAddress::Other(t) if NON_PCI_WRITTEN.contains(&t.as_str()) => {
            Some(render_other_address(t, d))
        }
        _ => None,
    };
    let mut children: Vec<String> = Vec::new();
    let attrs = match &d.kind {
        DeviceKind::Controller(c) => controller_attrs(c, &mut children, indent, unit),
        DeviceKind::Memballoon(m) => format!(" model='{}'", balloon_name(*m)),
        DeviceKind::Video(m) => {
            if let Some((_, n)) = VIDEO_MODELS.iter().find(|(v, _)| v == m) {
                children.push(format!("<model type='{n}'/>"));
            }
            String::new()
        }
        DeviceKind::Sound(m) => format!(" model='{}'", sound_name(*m)),
        _ if address.is_some() => String::new(),
        _ => return None,
    };
    children.extend(address);
    Some(element(d.kind.element(), &attrs, &children, indent, unit))
}

/// The attributes of a new controller; its model/target/master children go
/// into `children`.
fn controller_attrs(
    c: &Controller,
    children: &mut Vec<String>,
    indent: &str,
    unit: &str,
) -> String {
    let mut s = format!(" type='{}'", c.kind.type_name());
    if let Some(i) = c.index {
        let _ = write!(s, " index='{i}'");
    }
    let model: Option<&str> = match &c.kind {
        ControllerKind::Usb(m) => m.map(UsbModel::as_str),
        ControllerKind::Scsi(m) => m
            .and_then(|m| SCSI_MODELS.iter().find(|(x, _)| *x == m))
            .map(|(_, n)| *n),
        ControllerKind::VirtioSerial(m) => match m {
            VirtioModel::Virtio => Some("virtio"),
            VirtioModel::Transitional => Some("virtio-transitional"),
            VirtioModel::NonTransitional => Some("virtio-non-transitional"),
            VirtioModel::Default | VirtioModel::Invalid => None,
        },
        ControllerKind::Pci(p) => p.model.map(|m| m.as_str()),
        ControllerKind::Ide
        | ControllerKind::Fdc
        | ControllerKind::Sata
        | ControllerKind::Ccid
        | ControllerKind::Xenbus
        | ControllerKind::Isa => None,
    };
    if let Some(m) = model {
        let _ = write!(s, " model='{m}'");
    }
    match &c.kind {
        ControllerKind::Pci(p) => {
            if let Some(n) = &p.model_name {
                children.push(format!("<model name='{}'/>", escape(n)));
            }
            let inner = format!("{indent}{unit}");
            children.extend(render_target(&p.target, &inner, unit));
        }
        ControllerKind::Usb(Some(m)) if c.companion => {
            let port = match m {
                UsbModel::Ich9Uhci2 => 2,
                UsbModel::Ich9Uhci3 => 4,
                _ => 0,
            };
            children.push(format!("<master startport='{port}'/>"));
        }
        _ => {}
    }
    s
}

fn balloon_name(m: BalloonModel) -> &'static str {
    match m {
        BalloonModel::Virtio => "virtio",
        BalloonModel::VirtioTransitional => "virtio-transitional",
        BalloonModel::VirtioNonTransitional => "virtio-non-transitional",
        BalloonModel::Xen => "xen",
        BalloonModel::None => "none",
    }
}

fn sound_name(m: SoundModel) -> &'static str {
    match m {
        SoundModel::Sb16 => "sb16",
        SoundModel::Es1370 => "es1370",
        SoundModel::Pcspk => "pcspk",
        SoundModel::Ac97 => "ac97",
        SoundModel::Ich6 => "ich6",
        SoundModel::Ich9 => "ich9",
        SoundModel::Usb => "usb",
        SoundModel::Ich7 => "ich7",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::VideoModel;

    #[test]
    fn address_is_written_in_libvirt_form() {
        let a = PciAddress::from_parts(1, 0x1f, 2)
            .unwrap()
            .with_multifunction(Multifunction::On);
        assert_eq!(
            render_address(&a),
            "<address type='pci' domain='0x0000' bus='0x01' slot='0x1f' function='0x2' multifunction='on'/>"
        );
    }

    #[test]
    fn target_port_is_hex() {
        let t = PciTarget {
            chassis: Some(1),
            port: Some(0x10),
            ..PciTarget::default()
        };
        assert_eq!(
            render_target(&t, "", "  ").unwrap(),
            "<target chassis='1' port='0x10'/>"
        );
    }

    #[test]
    fn video_model_default_gets_no_model_child() {
        let d = Device::new(DeviceKind::Video(VideoModel::Default));
        assert_eq!(render_new(&d, "", "  ").unwrap(), "<video/>");
    }
}
