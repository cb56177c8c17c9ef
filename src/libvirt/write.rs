//! [`Plan`] → domain XML: in-place edits of the original text (spec §7).

use std::fmt::Write as _;
use std::ops::Range;

use super::parse::{SCSI_MODELS, VIDEO_MODELS, line_indent};
use super::{Document, Elem, Written};
use crate::address::{Multifunction, PciAddress};
use crate::address::{hex_digit, hex_pair};
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

/// One text replacement; an insertion has `start == end`. Positions fit
/// `u32`: the input is at most [`super::MAX_INPUT_BYTES`].
struct Edit {
    start: u32,
    end: u32,
    text: NewText,
}

/// The new text of an [`Edit`].
enum NewText {
    /// `buf[start..end]` of the edit list.
    Buf(u32, u32),
    /// A PCI `<address/>` as a new last child: a line break, the indent
    /// `text[at..at + len]`, the address; rendered straight into the
    /// output (the usual edit of a device element).
    Address {
        at: u32,
        len: u32,
        address: PciAddress,
    },
}

/// The edits of one write, applied in one pass. The new texts of all edits
/// share one buffer.
pub(super) struct Edits<'t> {
    text: &'t str,
    list: Vec<Edit>,
    buf: String,
    /// The bytes [`NewText::Address`] edits add.
    rendered: usize,
}

/// A position as an [`Edit`] holds it.
fn pos(at: usize) -> u32 {
    // Inputs are at most 4 MiB (checked before parsing).
    u32::try_from(at).unwrap_or(u32::MAX)
}

impl<'t> Edits<'t> {
    fn new(text: &'t str) -> Self {
        Edits {
            text,
            list: Vec::new(),
            buf: String::new(),
            rendered: 0,
        }
    }

    /// Replaces `start..end` with what `f` writes.
    fn replace_with(&mut self, start: usize, end: usize, f: impl FnOnce(&mut String)) {
        let from = self.buf.len();
        f(&mut self.buf);
        self.list.push(Edit {
            start: pos(start),
            end: pos(end),
            text: NewText::Buf(pos(from), pos(self.buf.len())),
        });
    }

    fn replace(&mut self, start: usize, end: usize, text: &str) {
        self.replace_with(start, end, |b| b.push_str(text));
    }

    fn insert(&mut self, at: usize, text: &str) {
        self.replace(at, at, text);
    }

    /// Inserts `\n`, the indent `indent` (a range of the text) and the
    /// address at `at`.
    fn insert_address(&mut self, at: usize, indent: Range<usize>, address: PciAddress) {
        self.rendered = self
            .rendered
            .saturating_add(indent.len() + ADDRESS_OPEN_LEN + " multifunction='off'/>\n".len());
        self.list.push(Edit {
            start: pos(at),
            end: pos(at),
            text: NewText::Address {
                at: pos(indent.start),
                len: pos(indent.len()),
                address,
            },
        });
    }

    /// Appends the new text of `e` to `out`.
    fn push_new(&self, out: &mut String, e: &Edit) {
        match e.text {
            NewText::Buf(from, to) => {
                out.push_str(self.buf.get(from as usize..to as usize).unwrap_or_default());
            }
            NewText::Address { at, len, address } => {
                let at = at as usize;
                out.push('\n');
                out.push_str(self.text.get(at..at + len as usize).unwrap_or_default());
                push_address_open(out, &address);
                out.push_str("/>");
            }
        }
    }

    /// Adds children at the end of an element's content; `body` holds them
    /// already rendered, each as `\n<child indent><child>`.
    fn append_children(&mut self, e: &Elem<'_, '_>, body: &str) {
        if body.is_empty() {
            return;
        }
        if e.self_closing() {
            let r = e.range();
            let mut at = r.end.saturating_sub(2);
            while at > r.start
                && self
                    .text
                    .get(at.saturating_sub(1)..at)
                    .is_some_and(|c| c.trim().is_empty())
            {
                at = at.saturating_sub(1);
            }
            let (indent, qname) = (e.indent(), e.qname());
            self.replace_with(at, r.end, |b| {
                let _ = write!(b, ">{body}\n{indent}</{qname}>");
            });
        } else if let Some(end) = e.last_child_end() {
            self.insert(end, body);
        } else {
            let indent = e.indent();
            self.replace_with(e.content_start(), e.close_start(), |b| {
                let _ = write!(b, "{body}\n{indent}");
            });
        }
    }

    /// The edits in text order: insertions before replacements at the same
    /// place, otherwise in the order they were made.
    fn sorted(&mut self) {
        let key = |e: &Edit| (e.start, e.end > e.start);
        // Device edits are made in document order: usually nothing moves.
        if !self.list.is_sorted_by_key(key) {
            self.list.sort_by_key(key);
        }
    }

    /// Applies the edits (all inside `start..end`) to that part of the text.
    fn apply_within(mut self, start: usize, end: usize) -> Result<String, Error> {
        self.sorted();
        let mut out = String::with_capacity(
            end.saturating_sub(start)
                .saturating_add(self.buf.len())
                .saturating_add(self.rendered),
        );
        let mut at = start;
        for e in &self.list {
            let (from, to) = (e.start as usize, e.end as usize);
            if from < at || to > end {
                return Err(internal("an edit falls outside its element"));
            }
            out.push_str(self.text.get(at..from).unwrap_or_default());
            self.push_new(&mut out, e);
            at = to.max(at);
        }
        out.push_str(self.text.get(at..end).unwrap_or_default());
        Ok(out)
    }

    fn apply(mut self) -> Result<String, Error> {
        self.check()?;
        Ok(self.into_string())
    }

    /// How many edits there are.
    pub(super) fn list_len(&self) -> usize {
        self.list.len()
    }

    /// Puts the edits in text order and checks that none overlaps the
    /// ones before it (then [`Edits::into_string`] and [`Edits::write_to`]
    /// cannot fail).
    pub(super) fn check(&mut self) -> Result<(), Error> {
        self.sorted();
        let mut at = 0;
        for e in &self.list {
            if self.text.get(at..e.start as usize).is_none() {
                return Err(internal("overlapping edits"));
            }
            at = (e.end as usize).max(at);
        }
        Ok(())
    }

    /// Calls `f` with each piece of the new text in order: the kept parts
    /// of the text and the new texts, pushed onto `out` (which `f` may
    /// empty). The edits are [checked](Edits::check).
    fn pieces<E>(
        &self,
        out: &mut String,
        mut f: impl FnMut(&mut String) -> Result<(), E>,
    ) -> Result<(), E> {
        let mut at = 0;
        for e in &self.list {
            out.push_str(self.text.get(at..e.start as usize).unwrap_or_default());
            self.push_new(out, e);
            f(out)?;
            at = (e.end as usize).max(at);
        }
        out.push_str(self.text.get(at..).unwrap_or_default());
        f(out)
    }

    /// The whole new text of [checked](Edits::check) edits.
    pub(super) fn into_string(self) -> String {
        let mut out = String::with_capacity(
            self.text
                .len()
                .saturating_add(self.buf.len())
                .saturating_add(self.rendered),
        );
        let _ = self.pieces(&mut out, |_| Ok::<(), ()>(()));
        out
    }

    /// Writes the new text of [checked](Edits::check) edits to `w` in
    /// pieces of about [`PIECE`] bytes.
    pub(super) fn write_to<W: std::io::Write + ?Sized>(&self, w: &mut W) -> std::io::Result<()> {
        let mut out = String::with_capacity(PIECE.saturating_mul(2));
        self.pieces(&mut out, |out| {
            if out.len() >= PIECE {
                w.write_all(out.as_bytes())?;
                out.clear();
            }
            Ok::<(), std::io::Error>(())
        })?;
        w.write_all(out.as_bytes())
    }
}

/// The size of the pieces [`Edits::write_to`] writes.
const PIECE: usize = 64 * 1024;

fn internal(message: &str) -> Error {
    XmlError::Invalid {
        element: "devices".into(),
        message: message.into(),
    }
    .into()
}

/// Elements whose texts may trade places with others of their name (disks,
/// videos, controllers; see [`write_domain`]); every other element is
/// edited where it stands.
fn reordered(kind: &DeviceKind) -> bool {
    matches!(
        kind,
        DeviceKind::Disk { .. } | DeviceKind::Video(_) | DeviceKind::Controller(_)
    )
}

/// See [`super::write_domain`].
///
/// libvirt writes controllers in its controller array order and videos with
/// the primary one first (§7.2, §5.14). Where that differs from the
/// document order, the elements of that name trade places: the k-th such
/// element of the document is replaced by the (edited) text of the k-th one
/// in plan order. Each element's own text is kept.
pub(super) fn write_domain(doc: &Document<'_>, plan: &Plan) -> Result<String, Error> {
    domain_edits(doc, plan)?.apply()
}

/// The edits [`write_domain`] makes, [checked](Edits::check).
pub(super) fn checked_edits<'t>(doc: &Document<'t>, plan: &Plan) -> Result<Edits<'t>, Error> {
    let mut edits = domain_edits(doc, plan)?;
    edits.check()?;
    Ok(edits)
}

/// The edits of [`write_domain`], not yet in order.
fn domain_edits<'t>(doc: &Document<'t>, plan: &Plan) -> Result<Edits<'t>, Error> {
    let text = doc.text;
    let mut edits = Edits::new(text);
    // About one edit of one address line per device.
    edits.list.reserve(plan.devices().len());
    write_machine(doc, plan, &mut edits);
    // The edited text of every element that may move, and the slots it may
    // move to.
    let mut texts: Vec<(usize, &str, Range<usize>, String)> = Vec::new();
    let mut scratch = String::new();
    for d in plan.devices() {
        if let Some(k) = d.origin {
            let e = doc
                .elements
                .get(k)
                .and_then(|&id| doc.elem(id))
                .ok_or_else(|| {
                    internal("the plan refers to an element the document does not have")
                })?;
            let written = doc
                .written
                .get(k)
                .copied()
                .unwrap_or_else(|| Written::read(&e));
            if reordered(&d.kind) {
                let mut mine = Edits::new(text);
                edit_device(&e, d, written, &mut mine, &mut scratch);
                let r = e.range();
                let t = mine.apply_within(r.start, r.end)?;
                texts.push((k, d.kind.element(), r, t));
            } else if !untouched(d, written) {
                edit_device(&e, d, written, &mut edits, &mut scratch);
            }
        }
    }
    // Disks and videos: the k-th slot of the document takes the k-th
    // device of that kind in plan order (libvirt sorts disks by bus and
    // target name, and writes the primary video first).
    for name in ["disk", "video"] {
        let mut slots: Vec<Range<usize>> = texts
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
    let controller_order = plan.controller_output_order();
    // Element k's position in `texts`, by k (only the elements that may
    // move have one).
    let mut own: Vec<(usize, usize)> = texts.iter().enumerate().map(|(j, t)| (t.0, j)).collect();
    own.sort_unstable();
    let mut ctrl_slots: Vec<Range<usize>> = texts
        .iter()
        .filter(|t| t.1 == "controller")
        .map(|t| t.2.clone())
        .collect();
    ctrl_slots.sort_by_key(|r| r.start);
    let mut controllers_placed = false;
    if let Some(last) = ctrl_slots.last().cloned() {
        controllers_placed = true;
        let indent = line_indent(text, last.start);
        let unit = doc.indent_unit;
        let mut tail = String::new();
        let mut slot_iter = ctrl_slots.into_iter();
        for &i in &controller_order {
            let Some(d) = plan.devices().get(i) else {
                continue;
            };
            let new;
            let t = match d.origin {
                Some(k) => own
                    .binary_search_by_key(&k, |&(k, _)| k)
                    .ok()
                    .and_then(|at| own.get(at))
                    .and_then(|&(_, j)| texts.get(j))
                    .map(|t| t.3.as_str()),
                None => {
                    new = render_new(d, indent, unit);
                    new.as_deref()
                }
            };
            let Some(t) = t else { continue };
            match slot_iter.next() {
                Some(slot) => {
                    if text.get(slot.clone()) != Some(t) {
                        edits.replace(slot.start, slot.end, t);
                    }
                }
                None => {
                    let _ = write!(tail, "\n{indent}{t}");
                }
            }
        }
        if !tail.is_empty() {
            edits.insert(last.end, &tail);
        }
        texts.retain(|t| t.1 != "controller");
    }
    for (_, _, range, t) in &texts {
        if text.get(range.clone()) != Some(t.as_str()) {
            edits.replace(range.start, range.end, t);
        }
    }
    add_new_devices(doc, plan, &controller_order, &mut edits, controllers_placed);
    Ok(edits)
}

/// The text of `text` with one element (`node`) edited as [`write_domain`]
/// edits a device element for `d`: its address added or replaced (and a
/// controller's index); every other byte of `text` is kept. Used for single
/// device elements (live attach, `device.rs`).
pub(super) fn write_element(
    text: &str,
    node: roxmltree::Node<'_, '_>,
    unit: &str,
    d: &Device,
) -> Result<String, Error> {
    let e = Elem { node, text, unit };
    let mut edits = Edits::new(text);
    let mut scratch = String::new();
    edit_device(&e, d, Written::read(&e), &mut edits, &mut scratch);
    edits.apply()
}

/// The text of `text` with `child` (rendered, one line) added as the last
/// child of the element `node`, indented as its children are. Used for
/// the `<address>` libvirt gives a hot-plugged virtio-serial port.
pub(super) fn append_element_child(
    text: &str,
    node: roxmltree::Node<'_, '_>,
    unit: &str,
    child: &str,
) -> Result<String, Error> {
    let e = Elem { node, text, unit };
    let mut edits = Edits::new(text);
    let mut body = String::new();
    push_child(&mut body, e.child_indent().as_ref(), |b| b.push_str(child));
    edits.append_children(&e, &body);
    edits.apply()
}

/// Escapes a value for a single-quoted attribute.
fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('\'', "&apos;")
}

fn write_machine(doc: &Document<'_>, plan: &Plan, edits: &mut Edits<'_>) {
    let Some(t) = doc.os_type.and_then(|id| doc.elem(id)) else {
        return;
    };
    let after_name = t
        .range()
        .start
        .saturating_add(1)
        .saturating_add(t.qname().len());
    let arch = t.plain_attr("arch");
    if arch.is_none() {
        // libvirt fills in the architecture it used.
        let value = plan.machine().arch().as_str();
        edits.replace_with(after_name, after_name, |b| {
            let _ = write!(b, " arch='{value}'");
        });
    }
    let name = plan.machine().name();
    match t.plain_attr("machine") {
        Some(a) if a.value != name => {
            edits.replace(a.value_range.start, a.value_range.end, &escape(name));
        }
        Some(_) => {}
        None => {
            let at = arch.map_or(after_name, |a| a.range.end);
            edits.replace_with(at, at, |b| {
                let _ = write!(b, " machine='{}'", escape(name));
            });
        }
    }
}

/// Appends `value` as `width` lower-case hex digits (more when it needs
/// them), without the formatting machinery.
fn push_hex(b: &mut String, value: u32, width: usize) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut digits = [0u8; 8];
    let mut n = value;
    let mut len = 0;
    while len < digits.len() && (n != 0 || len < width.max(1)) {
        if let Some(slot) = digits.get_mut(len) {
            *slot = DIGITS.get((n & 0xf) as usize).copied().unwrap_or(b'0');
        }
        n >>= 4;
        len += 1;
    }
    for &d in digits.get(..len).unwrap_or_default().iter().rev() {
        b.push(char::from(d));
    }
}

/// Appends libvirt's full form of a PCI address, up to and without the
/// closing `/>`. Every number has a fixed width (domain 4 hex digits, bus
/// and slot 2, function 1); the texts are taken from tables, with no
/// formatting and no digit-by-digit work.
fn push_address_open(b: &mut String, a: &PciAddress) {
    let domain = a.domain();
    if domain == 0 {
        b.push_str("<address type='pci' domain='0x0000' bus='0x");
    } else {
        let [hi, lo] = domain.to_be_bytes();
        b.push_str("<address type='pci' domain='0x");
        b.push_str(hex_pair(hi));
        b.push_str(hex_pair(lo));
        b.push_str("' bus='0x");
    }
    b.push_str(hex_pair(a.bus()));
    b.push_str(slot_function(a.slot().as_u8(), a.function().as_u8()));
    match a.multifunction() {
        Multifunction::Absent => {}
        Multifunction::On => b.push_str(" multifunction='on'"),
        Multifunction::Off => b.push_str(" multifunction='off'"),
    }
}

/// The length of [`push_address_open`]'s text without multifunction.
const ADDRESS_OPEN_LEN: usize =
    "<address type='pci' domain='0x0000' bus='0x00' slot='0x00' function='0x0'".len();

/// One entry of [`SLOT_FUNCTIONS`]: `' slot='0xSS' function='0xF'`.
const SLOT_FUNCTION_LEN: usize = "' slot='0x00' function='0x0'".len();

/// The end of an address from its bus on, for every slot (0 to 31) and
/// function (0 to 7), slot-major.
const SLOT_FUNCTIONS: &str = match std::str::from_utf8(&slot_functions()) {
    Ok(s) => s,
    Err(_) => "",
};

const fn slot_functions() -> [u8; 256 * SLOT_FUNCTION_LEN] {
    let mut t = [0u8; 256 * SLOT_FUNCTION_LEN];
    let mut rest: &mut [u8] = &mut t;
    // Entry k is slot k / 8, function k % 8: the template, but for the
    // slot's two digits (bytes 10 and 11) and the function's (byte 26).
    let mut k = 0;
    while rest.len() >= SLOT_FUNCTION_LEN {
        let (entry, tail) = rest.split_at_mut(SLOT_FUNCTION_LEN);
        let mut e: &mut [u8] = entry;
        let mut template: &[u8] = b"' slot='0x00' function='0x0'";
        let mut i = 0;
        while let ([b, e_rest @ ..], [c, t_rest @ ..]) = (e, template) {
            *b = match i {
                10 => hex_digit(k >> 7),
                11 => hex_digit(k >> 3),
                26 => hex_digit(k & 7),
                _ => *c,
            };
            e = e_rest;
            template = t_rest;
            i += 1;
        }
        k += 1;
        rest = tail;
    }
    t
}

/// `' slot='0xSS' function='0xF'` for a slot (below 32) and function
/// (below 8).
fn slot_function(slot: u8, function: u8) -> &'static str {
    let at = (usize::from(slot & 31) * 8 + usize::from(function & 7)) * SLOT_FUNCTION_LEN;
    SLOT_FUNCTIONS
        .get(at..at + SLOT_FUNCTION_LEN)
        .unwrap_or("' slot='0x00' function='0x0'")
}

/// libvirt's full form of a PCI address.
#[cfg(test)]
fn render_address(a: &PciAddress) -> String {
    let mut s = String::new();
    push_address_open(&mut s, a);
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

/// Appends a device's PCI address, with its zPCI ids when it has them.
fn push_device_address(b: &mut String, a: &PciAddress, d: &Device, indent: &str, unit: &str) {
    push_address_open(b, a);
    match d.zpci {
        Some(Zpci {
            uid: Some(uid),
            fid: Some(fid),
        }) => {
            let _ = write!(
                b,
                ">\n{indent}{unit}<zpci uid='0x{uid:04x}' fid='0x{fid:08x}'/>\n{indent}</address>"
            );
        }
        _ => b.push_str("/>"),
    }
}

/// [`push_device_address`] into a new string.
fn render_device_address(a: &PciAddress, d: &Device, indent: &str, unit: &str) -> String {
    let mut s = String::new();
    push_device_address(&mut s, a, d, indent, unit);
    s
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

/// The first child among `names`, to insert in front of it.
fn first_child_of<'d, 'a>(e: &Elem<'d, 'a>, names: &[&str]) -> Option<Elem<'d, 'a>> {
    e.children().find(|c| names.contains(&c.name()))
}

/// Appends one child for [`Edits::append_children`].
fn push_child(body: &mut String, child_indent: &str, child: impl FnOnce(&mut String)) {
    body.push('\n');
    body.push_str(child_indent);
    child(body);
}

/// Whether [`edit_device`] would leave the element as it is: a device that
/// is no controller (those gain an index, a model name, a target) and has
/// no zPCI ids, whose PCI address is the one the element had when read.
fn untouched(d: &Device, written: Written) -> bool {
    matches!((written, &d.address), (Written::Pci(old), DeviceAddress::Pci(a)) if old == *a)
        && d.zpci.is_none()
        && d.kind.controller().is_none()
}

/// The edits of one device element, whose `<address>` was `written` when
/// read; `scratch` is a reusable buffer.
fn edit_device(
    e: &Elem<'_, '_>,
    d: &Device,
    written: Written,
    edits: &mut Edits<'_>,
    scratch: &mut String,
) {
    // The usual case: a device that had no address gains a PCI one as its
    // new last child, indented as its first element child.
    if written == Written::Absent
        && d.kind.controller().is_none()
        && let DeviceAddress::Pci(a) = &d.address
        && !a.is_empty()
        && !matches!(
            d.zpci,
            Some(Zpci {
                uid: Some(_),
                fid: Some(_)
            })
        )
        && !e.self_closing()
        && let Some(indent) = e.child_indent_range()
        && let Some(end) = e.last_child_end()
    {
        edits.insert_address(end, indent, *a);
    } else {
        edit_device_in_full(e, d, written, edits, scratch);
    }
}

/// [`edit_device`] for every other case.
fn edit_device_in_full(
    e: &Elem<'_, '_>,
    d: &Device,
    written: Written,
    edits: &mut Edits<'_>,
    scratch: &mut String,
) {
    scratch.clear();
    let child_indent = e.child_indent();
    let ci = child_indent.as_ref();
    let unit = e.unit;
    // The first `<address>` child, looked up once (and only when there is
    // one); a PCI one is not read again.
    let given = match written {
        Written::Absent => None,
        Written::Pci(_) | Written::Other => e.child("address"),
    };
    // What the element's `<address>` was, as a plain value (nothing to
    // drop).
    let old_address = match (written, given) {
        (Written::Pci(a), Some(x)) => Some((x.range(), Written::Pci(a))),
        _ => given
            .and_then(|a| a.parsed_address())
            .map(|(r, a)| (r, Written::of(&a))),
    };
    if let DeviceKind::Controller(c) = &d.kind {
        // libvirt writes every controller's index (§7.2).
        if let (Some(i), None) = (c.index, e.attr("index")) {
            let at = e
                .attr("type")
                .map_or(e.range().start.saturating_add(11), |a| a.range.end);
            edits.replace_with(at, at, |b| {
                let _ = write!(b, " index='{i}'");
            });
        }
        if let ControllerKind::Pci(p) = &c.kind {
            edit_pci_controller(e, p, edits, scratch);
        }
    }
    if let DeviceAddress::Pci(a) = &d.address
        && !a.is_empty()
    {
        let zpci_written = || {
            given.is_some_and(|x| {
                x.child("zpci")
                    .is_some_and(|z| z.attr("uid").is_some() && z.attr("fid").is_some())
            })
        };
        match &old_address {
            Some((_, Written::Pci(old))) if old == a && (d.zpci.is_none() || zpci_written()) => {}
            // Rule 39: an address with more than libvirt's attributes keeps
            // all of it; only the numbers change.
            Some((_, Written::Pci(_))) if given.is_some_and(|x| has_extras(&x)) => {
                if let Some(x) = given {
                    edit_address_in_place(&x, a, edits);
                }
            }
            Some((range, _)) => edits.replace_with(range.start, range.end, |b| {
                push_device_address(b, a, d, ci, unit);
            }),
            None => push_child(scratch, ci, |b| push_device_address(b, a, d, ci, unit)),
        }
    }
    if d.address == DeviceAddress::None
        && let Some((range, Written::Pci(_))) = &old_address
    {
        // The plan dropped the address (a disabled USB controller): remove
        // the element with the whitespace before it.
        let text = e.text;
        let mut start = range.start;
        while start > e.range().start
            && text
                .get(start.saturating_sub(1)..start)
                .is_some_and(|c| c.trim().is_empty())
        {
            start = start.saturating_sub(1);
        }
        edits.replace(start, range.end, "");
    }
    // A numberless CCW/spapr-vio address, or a PCI address libvirt turned
    // into a spapr-vio one (rule 26), is replaced by the numbered one.
    if let (DeviceAddress::Other(t), Some((range, old))) = (&d.address, &old_address)
        && NON_PCI_WRITTEN.contains(&t.as_str())
    {
        let numberless = e
            .child("address")
            .is_some_and(|a| a.attr("devno").is_none() && a.attr("reg").is_none());
        let replace = match old {
            Written::Pci(_) => true,
            Written::Other => numberless && d.bus_id.is_some(),
            Written::Absent => false,
        };
        if replace {
            edits.replace(range.start, range.end, &render_other_address(t, d));
        }
    }
    if let DeviceAddress::Other(t) = &d.address
        && old_address.is_none()
        && NON_PCI_WRITTEN.contains(&t.as_str())
    {
        push_child(scratch, ci, |b| b.push_str(&render_other_address(t, d)));
    }
    edits.append_children(e, scratch);
}

/// The attributes of libvirt's PCI address element.
const ADDRESS_ATTRS: [&str; 6] = ["type", "domain", "bus", "slot", "function", "multifunction"];

/// Whether an `<address>` holds anything libvirt's own form would lose:
/// another attribute (or one in a namespace, or one twice), a namespace
/// declaration, or content other than white space and `<zpci>`.
fn has_extras(x: &Elem<'_, '_>) -> bool {
    let mut seen = 0u8;
    for a in x.node.attributes() {
        let Some(k) = ADDRESS_ATTRS.iter().position(|n| *n == a.name()) else {
            return true;
        };
        let bit = 1u8 << k;
        if a.namespace().is_some() || seen & bit != 0 {
            return true;
        }
        seen |= bit;
    }
    let r = x.range();
    let head_end = x.node.first_child().map_or(r.end, |c| c.range().start);
    if x.text
        .get(r.start..head_end)
        .is_some_and(|t| t.contains("xmlns"))
    {
        return true;
    }
    x.node.children().any(|c| {
        if c.is_text() {
            return !c.text().is_some_and(|t| t.trim().is_empty());
        }
        !(c.is_element() && c.tag_name().namespace().is_none() && c.tag_name().name() == "zpci")
    })
}

/// Changes the numbers of a given `<address>` where they stand: a value
/// that differs is replaced, a missing one is added after the attribute
/// before it in libvirt's order; everything else stays as written.
fn edit_address_in_place(x: &Elem<'_, '_>, a: &PciAddress, edits: &mut Edits<'_>) {
    let mut at = x.attr("type").map_or_else(
        || {
            x.range()
                .start
                .saturating_add(1)
                .saturating_add(x.qname().len())
        },
        |t| t.range.end,
    );
    let parts: [(&str, u32, usize); 4] = [
        ("domain", u32::from(a.domain()), 4),
        ("bus", u32::from(a.bus()), 2),
        ("slot", u32::from(a.slot().as_u8()), 2),
        ("function", u32::from(a.function().as_u8()), 1),
    ];
    for (name, value, width) in parts {
        match x.attr(name) {
            Some(attr) => {
                // What is written counts, not what the reader made of it
                // (an empty address ignores its function, for one).
                if super::parse::strtoul(attr.value) != Some(u64::from(value)) {
                    edits.replace_with(attr.value_range.start, attr.value_range.end, |b| {
                        b.push_str("0x");
                        push_hex(b, value, width);
                    });
                }
                at = attr.range.end;
            }
            None => edits.replace_with(at, at, |b| {
                let _ = write!(b, " {name}='0x");
                push_hex(b, value, width);
                b.push('\'');
            }),
        }
    }
    let wanted = match a.multifunction() {
        Multifunction::Absent => return,
        Multifunction::On => "on",
        Multifunction::Off => "off",
    };
    match x.attr("multifunction") {
        Some(m) if m.value != wanted => {
            edits.replace(m.value_range.start, m.value_range.end, wanted)
        }
        Some(_) => {}
        None => edits.replace_with(at, at, |b| {
            let _ = write!(b, " multifunction='{wanted}'");
        }),
    }
}

/// The `<model name>` and `<target>` values a PCI controller
/// gained; children to add at the end go into `body`.
fn edit_pci_controller(
    e: &Elem<'_, '_>,
    p: &PciController,
    edits: &mut Edits<'_>,
    body: &mut String,
) {
    let child_indent = e.child_indent();
    let ci = child_indent.as_ref();
    let model = e.child("model");
    let has_name = model.is_some_and(|m| m.attr("name").is_some());
    if let (Some(name), false, Some(m)) = (&p.model_name, has_name, model) {
        // A `<model/>` without a name: fill it in rather than add another.
        let at = m
            .range()
            .start
            .saturating_add(1)
            .saturating_add(m.qname().len());
        edits.replace_with(at, at, |b| {
            let _ = write!(b, " name='{}'", escape(name));
        });
    } else if let (Some(name), false) = (&p.model_name, has_name) {
        let child = format!("<model name='{}'/>", escape(name));
        match first_child_of(e, &["driver", "target", "alias", "address"]) {
            Some(before) => {
                let indent = before.indent();
                edits.replace_with(before.range().start, before.range().start, |b| {
                    let _ = write!(b, "{child}\n{indent}");
                });
            }
            None => push_child(body, ci, |b| b.push_str(&child)),
        }
    }
    match e.child("target") {
        Some(t) => merge_target(&t, &p.target, edits),
        None => {
            if let Some(child) = render_target(&p.target, ci, e.unit) {
                match first_child_of(e, &["alias", "address"]) {
                    Some(before) => {
                        let indent = before.indent();
                        edits.replace_with(before.range().start, before.range().start, |b| {
                            let _ = write!(b, "{child}\n{indent}");
                        });
                    }
                    None => push_child(body, ci, |b| b.push_str(&child)),
                }
            }
        }
    }
}

/// Adds the target attributes the plan has and the element lacks, each in
/// libvirt's order relative to the ones already there.
fn merge_target(t: &Elem<'_, '_>, target: &PciTarget, edits: &mut Edits<'_>) {
    let wanted = target_attrs(target);
    let after_name = t
        .range()
        .start
        .saturating_add(1)
        .saturating_add(t.qname().len());
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
        edits.replace_with(at, at, |b| {
            let _ = write!(b, " {name}='{value}'");
        });
    }
}

/// Where new elements of one name go.
#[derive(Clone)]
enum Anchor<'a> {
    /// After the element ending here.
    After(usize, &'a str),
    /// Before the element starting here.
    Before(usize, &'a str),
    /// At the end of `<devices>`.
    Append,
}

fn anchor<'a>(doc: &Document<'a>, name: &str) -> Anchor<'a> {
    let Some(devices) = doc.devices.and_then(|id| doc.elem(id)) else {
        return Anchor::Append;
    };
    let text = doc.text;
    if let Some(last) = devices.children().filter(|c| c.name() == name).last() {
        let r = last.range();
        return Anchor::After(r.end, line_indent(text, r.start));
    }
    let later = LIBVIRT_ORDER
        .iter()
        .position(|n| *n == name)
        .and_then(|p| LIBVIRT_ORDER.get(p.saturating_add(1)..))
        .unwrap_or_default();
    devices
        .children()
        .find(|c| later.contains(&c.name()))
        .map_or(Anchor::Append, |c| {
            let r = c.range();
            Anchor::Before(r.start, line_indent(text, r.start))
        })
}

fn add_new_devices(
    doc: &Document<'_>,
    plan: &Plan,
    controller_order: &[usize],
    edits: &mut Edits<'_>,
    controllers_placed: bool,
) {
    let unit = doc.indent_unit;
    let mut at_end = String::new();
    let rank = |d: &&Device| LIBVIRT_ORDER.iter().position(|n| *n == d.kind.element());
    // New controllers in the order libvirt's parser would hold them.
    let mut new: Vec<&Device> = controller_order
        .iter()
        .filter_map(|&i| plan.devices().get(i))
        .filter(|d| d.origin.is_none() && !controllers_placed)
        .collect();
    new.extend(
        plan.devices()
            .iter()
            .filter(|d| d.origin.is_none() && d.kind.controller().is_none()),
    );
    new.sort_by_key(rank);
    let devices = doc.devices.and_then(|id| doc.elem(id));
    let append_indent = match &devices {
        Some(e) => e.child_indent(),
        None => std::borrow::Cow::Owned(format!("{}{unit}", doc.domain().child_indent())),
    };
    // The anchor of the last name seen: new devices come sorted by name.
    let mut last: Option<(&str, Anchor<'_>)> = None;
    for d in new {
        let name = d.kind.element();
        let place = match &last {
            Some((n, a)) if *n == name => a.clone(),
            _ => {
                let a = anchor(doc, name);
                last = Some((name, a.clone()));
                a
            }
        };
        match place {
            Anchor::After(pos, indent) => {
                if let Some(s) = render_new(d, indent, unit) {
                    edits.replace_with(pos, pos, |b| {
                        let _ = write!(b, "\n{indent}{s}");
                    });
                }
            }
            Anchor::Before(pos, indent) => {
                if let Some(s) = render_new(d, indent, unit) {
                    edits.replace_with(pos, pos, |b| {
                        let _ = write!(b, "{s}\n{indent}");
                    });
                }
            }
            Anchor::Append => {
                let indent = append_indent.as_ref();
                if let Some(s) = render_new(d, indent, unit) {
                    push_child(&mut at_end, indent, |b| b.push_str(&s));
                }
            }
        }
    }
    match &devices {
        Some(e) => edits.append_children(e, &at_end),
        None if !at_end.is_empty() => {
            let domain = doc.domain();
            let ci = domain.child_indent();
            // `<devices>` with the new children, one step deeper.
            let mut wrapped = String::from("<devices>");
            wrapped.push_str(&at_end);
            let _ = write!(wrapped, "\n{ci}</devices>");
            let mut body = String::new();
            push_child(&mut body, &ci, |b| b.push_str(&wrapped));
            edits.append_children(&domain, &body);
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
    fn address_tables_write_every_number_in_full() {
        let mut cases = vec![(0xabcd_u16, 0xff_u8, 0x1f_u8, 7_u8), (0x10, 0x9, 0xd, 3)];
        for slot in 0..32 {
            for function in 0..8 {
                cases.push((0, slot * 8 + function, slot, function));
            }
        }
        for (domain, bus, slot, function) in cases {
            let a = PciAddress::new(
                domain,
                bus,
                crate::address::Slot::new(slot).unwrap(),
                crate::address::Function::new(function).unwrap(),
            );
            assert_eq!(
                render_address(&a),
                format!(
                    "<address type='pci' domain='0x{domain:04x}' bus='0x{bus:02x}' slot='0x{slot:02x}' function='0x{function:x}'/>"
                )
            );
        }
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
