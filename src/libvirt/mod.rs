//! libvirt domain XML in and out.
//!
//! [`parse_domain`] reads a `<domain>` definition into a [`Plan`] and keeps the
//! original text in a [`Document`]; [`write_domain`] puts the plan's addresses
//! and added controllers back into that text by editing it in place, so every
//! part pciplan did not change stays byte for byte as the user wrote it.
//! [`assign_xml`] does all three steps at once.
//!
//! ```
//! use pciplan::{Capabilities, machine::HostPci};
//! let xml = "<domain type='kvm'>\n  <os>\n    <type arch='x86_64' machine='pc'>hvm</type>\n  </os>\n  \
//!            <devices>\n    <rng model='virtio'/>\n  </devices>\n</domain>\n";
//! let (doc, plan) = pciplan::libvirt::parse_domain(xml, &Capabilities::qemu_8_0_x86_64(), &HostPci::default())?;
//! assert_eq!(plan.devices().len(), 1);
//! assert_eq!(pciplan::libvirt::write_domain(&doc, &plan)?, xml);
//! # Ok::<(), pciplan::Error>(())
//! ```
//!
//! Only the facts that decide PCI placement are read (spec §3); everything
//! else in the definition is carried along untouched.
//!
//! # Limits
//!
//! Input comes from users, so [`parse_domain`] bounds what it reads and
//! rejects anything larger with [`crate::ConfigError::Limit`] (an
//! `XML error: <what> exceeds the limit of <n>`), before doing any work that
//! grows with it:
//!
//! | limit | value | why this value |
//! |---|---|---|
//! | input size | [`MAX_INPUT_BYTES`] = 4 MiB | libvirt's RPC string limit (`REMOTE_STRING_MAX`): no larger definition reaches libvirtd |
//! | element nesting depth | [`MAX_DEPTH`] = 256 | libxml2's default `xmlParserMaxDepth`, which libvirt parses with |
//! | elements in `<devices>` | [`crate::limits::MAX_DEVICES`] = 65,536 | the number of PCI functions of 256 buses |
//! | `<controller>` elements | [`MAX_CONTROLLERS`] = 1,024 | 256 PCI controllers (indexes 0–255) plus ample room for the other types |
//! | attributes of one element | [`MAX_ATTRIBUTES`] = 128 | libvirt's elements have at most about 20; the XML parser's duplicate check is quadratic in this count |
//! | `xmlns` declarations | [`MAX_NAMESPACES`] = 1,024 | the parser copies the namespaces in scope into every declaring element |
//! | XML nodes | [`MAX_NODES`] = 300,000 | 65,536 one-element devices (with the white space between them) fit; the tree of a 4 MiB document of empty elements would take 80 MB, with this limit the parse stays under 45 MB |
//! | `<` and `=` characters | [`MAX_MARKUP_CHARS`] = 800,000 | the XML parser reserves a node for every `<` and an attribute for every `=` of the text, wherever they stand (in a comment, in text), about 72 bytes each, before it reads anything: 4 MiB of `=` would reserve 300 MB; a dense real domain of 4 MiB has about 280,000 |
//!
//! Attributes, namespace declarations and depth are counted by a linear
//! scan of the raw text before the XML parser runs, so the parser never
//! sees input on which it is slow.
//!
//! DTDs are refused outright (`XML with DTD detected`), so entity expansion
//! ("billion laughs") and external entities cannot happen: nothing the input
//! points at is ever read.

mod caps;
mod device;
mod error;
mod identity;
mod inputs;
mod live;
mod live_error;
mod parse;
mod scan;
mod write;

use std::borrow::Cow;
use std::ops::Range;

use roxmltree::NodeId;

use crate::address::PciAddress;
use crate::caps::Capabilities;
use crate::device::DeviceAddress;
use crate::error::Error;
use crate::machine::HostPci;
use crate::plan::Plan;
pub use device::{DeviceXml, parse_device};
pub use error::XmlError;
pub use live::{Attached, DetachTarget, Detached, LiveDomain, libvirt_message};
pub use live_error::LiveError;

pub use caps::parse_caps_xml;
pub use identity::identities;
pub use inputs::{ExplainText, InputError, Inputs};

/// Largest domain XML accepted, in bytes (4 MiB, libvirt's
/// `REMOTE_STRING_MAX`). See [Limits](self#limits).
pub const MAX_INPUT_BYTES: usize = 4 * 1024 * 1024;

/// Deepest element nesting accepted (`<domain>` alone is depth 1); 256 is
/// libxml2's default. See [Limits](self#limits).
pub const MAX_DEPTH: usize = 256;

/// Most `<controller>` elements accepted. See [Limits](self#limits).
pub const MAX_CONTROLLERS: usize = 1024;

/// Most attributes (namespace declarations included) on one element.
/// See [Limits](self#limits).
pub const MAX_ATTRIBUTES: usize = 128;

/// Most `xmlns` declarations in one document. See [Limits](self#limits).
pub const MAX_NAMESPACES: usize = 1024;

/// Most XML nodes (elements, text, comments) in one document. See
/// [Limits](self#limits).
pub const MAX_NODES: usize = 300_000;

/// Most `<` and `=` characters, together, in one document (the XML
/// parser sizes its tables by them). See [Limits](self#limits).
pub const MAX_MARKUP_CHARS: usize = 800_000;

/// Parses the text into a tree within every input limit: the size, the
/// pre-scan's counts (attributes, namespaces, depth), the `<`/`=` count and
/// the node limit; DTDs are refused. Every XML input goes through here.
fn parse_tree(xml: &str) -> Result<roxmltree::Document<'_>, Error> {
    if xml.len() > MAX_INPUT_BYTES {
        return Err(crate::ConfigError::Limit {
            what: "input size in bytes",
            limit: MAX_INPUT_BYTES,
        }
        .into());
    }
    // The pre-scan's limits come first. The usual document needs no
    // pre-scan before parsing (`scan::needs_prescan`): then a failure, or a
    // tree nested too deep, runs it afterwards, so that every input gets
    // the answer the pre-scan first would give.
    if scan::needs_prescan(xml) {
        scan::prescan(xml)?;
        return parse_scanned(xml);
    }
    match parse_scanned(xml) {
        Ok(tree) if !scan::deeper_than(&tree, MAX_DEPTH) => Ok(tree),
        Ok(_) => {
            scan::prescan(xml)?;
            Err(crate::ConfigError::Limit {
                what: "element nesting depth",
                limit: MAX_DEPTH,
            }
            .into())
        }
        Err(e) => {
            scan::prescan(xml)?;
            Err(e)
        }
    }
}

/// [`parse_tree`] after the pre-scan: the `<`/`=` count, then the parser
/// with its node limit.
fn parse_scanned(xml: &str) -> Result<roxmltree::Document<'_>, Error> {
    // Counted before the parser runs: it reserves room by these counts (a
    // text no longer than the limit cannot exceed it).
    if xml.len() > MAX_MARKUP_CHARS && count_markup(xml.as_bytes()) > MAX_MARKUP_CHARS {
        return Err(crate::ConfigError::Limit {
            what: "'<' and '=' characters",
            limit: MAX_MARKUP_CHARS,
        }
        .into());
    }
    let options = roxmltree::ParsingOptions {
        nodes_limit: u32::try_from(MAX_NODES).unwrap_or(u32::MAX),
        ..roxmltree::ParsingOptions::default()
    };
    roxmltree::Document::parse_with_options(xml, options).map_err(|e| match e {
        roxmltree::Error::NodesLimitReached => crate::ConfigError::Limit {
            what: "XML nodes",
            limit: MAX_NODES,
        }
        .into(),
        e => XmlError::Syntax(e.to_string()).into(),
    })
}

/// The number of `<` and `=` bytes of `bytes`, counted in blocks of 64
/// bytes into byte-wide counters (a loop the compiler turns into vector
/// instructions), each flushed before it can overflow.
fn count_markup(bytes: &[u8]) -> usize {
    const BLOCK: usize = 64;
    // A counter takes at most one per block: 255 blocks fill it.
    const BLOCKS_PER_FLUSH: usize = 255;
    let mut total = 0usize;
    let mut blocks = bytes.chunks_exact(BLOCK);
    loop {
        let mut counters = [0u8; BLOCK];
        let mut filled = 0;
        for block in blocks.by_ref().take(BLOCKS_PER_FLUSH) {
            for (c, &b) in counters.iter_mut().zip(block) {
                *c = c.wrapping_add(u8::from(b == b'<') | u8::from(b == b'='));
            }
            filled += 1;
        }
        total = total.saturating_add(counters.iter().map(|&c| usize::from(c)).sum());
        if filled < BLOCKS_PER_FLUSH {
            break;
        }
    }
    let tail = blocks.remainder();
    total.saturating_add(tail.iter().filter(|&&b| b == b'<' || b == b'=').count())
}

/// A parsed libvirt domain definition: the original text and its XML tree,
/// borrowed from the input, plus the device elements the plan refers to.
///
/// Devices of the [`Plan`] returned with it refer to their element through
/// [`crate::Device::origin`]. Nothing of the text is copied: the writer
/// reads positions from the tree and edits the text in one pass.
#[derive(Debug)]
pub struct Document<'a> {
    /// The original XML text.
    text: &'a str,
    /// The parsed tree (positions into `text`).
    tree: roxmltree::Document<'a>,
    /// Device elements; a device's `origin` indexes this list.
    elements: Vec<NodeId>,
    /// The `<address>` each device element had when read (parallel to
    /// `elements`).
    written: Vec<Written>,
    /// The `<devices>` element; `None` when the definition has none
    /// (libvirt accepts that).
    devices: Option<NodeId>,
    /// The `<os><type>` element, when present.
    os_type: Option<NodeId>,
    /// One level of indentation, as the document uses it.
    indent_unit: &'a str,
}

impl<'a> Document<'a> {
    /// The element behind a node id of this document's tree.
    fn elem(&self, id: NodeId) -> Option<Elem<'_, 'a>> {
        self.tree.get_node(id).map(|node| Elem {
            node,
            text: self.text,
            unit: self.indent_unit,
        })
    }

    /// The `<domain>` element.
    fn domain(&self) -> Elem<'_, 'a> {
        Elem {
            node: self.tree.root_element(),
            text: self.text,
            unit: self.indent_unit,
        }
    }
}

/// The first `<address>` child a device element had when the document
/// was read, as the reader parsed it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Written {
    /// No `<address>` child.
    Absent,
    /// A PCI address.
    Pci(PciAddress),
    /// An address of another type.
    Other,
}

impl Written {
    /// What the reader made of a device's `<address>`.
    fn of(address: &DeviceAddress) -> Written {
        match address {
            DeviceAddress::None => Written::Absent,
            DeviceAddress::Pci(a) => Written::Pci(*a),
            DeviceAddress::Other(_) => Written::Other,
        }
    }

    /// Reads it from the element (for an element of no [`Document`]).
    fn read(e: &Elem<'_, '_>) -> Written {
        e.child("address")
            .and_then(|a| a.parsed_address())
            .map_or(Written::Absent, |(_, a)| Written::of(&a))
    }
}

/// One element of the original text, seen through the tree: what the
/// writer needs to know, computed when asked.
#[derive(Clone, Copy, Debug)]
struct Elem<'d, 'a> {
    node: roxmltree::Node<'d, 'a>,
    text: &'a str,
    /// The document's indentation step.
    unit: &'a str,
}

/// An attribute of an [`Elem`].
#[derive(Clone, Debug)]
struct Attr<'a> {
    /// The whole attribute (`name='value'`).
    range: Range<usize>,
    /// The value between the quotes.
    value_range: Range<usize>,
    /// The value, entities resolved.
    value: &'a str,
}

impl<'d, 'a: 'd> Elem<'d, 'a> {
    /// The whole element.
    fn range(&self) -> Range<usize> {
        self.node.range()
    }

    /// The tag name as written (with its prefix, if any).
    fn qname(&self) -> &'a str {
        let start = self.range().start.saturating_add(1);
        let rest = self.text.get(start..).unwrap_or_default();
        let len = rest
            .find(|c: char| c.is_ascii_whitespace() || c == '/' || c == '>')
            .unwrap_or(rest.len());
        rest.get(..len).unwrap_or_default()
    }

    /// The local tag name.
    fn name(&self) -> &'a str {
        self.node.tag_name().name()
    }

    /// Written as `<name .../>`.
    fn self_closing(&self) -> bool {
        let r = self.range();
        !self.node.has_children() && self.text.get(r).is_some_and(|raw| raw.ends_with("/>"))
    }

    /// Start of the end tag (`</name>`); the element end when self-closing.
    fn close_start(&self) -> usize {
        let r = self.range();
        if self.self_closing() {
            return r.end;
        }
        self.text
            .get(r.clone())
            .and_then(|raw| raw.rfind("</"))
            .map_or(r.end, |p| r.start.saturating_add(p))
    }

    /// Start of the content (just after the start tag's `>`).
    fn content_start(&self) -> usize {
        self.node
            .first_child()
            .map_or_else(|| self.close_start(), |c| c.range().start)
    }

    /// End of the last child node that is not whitespace, if any.
    fn last_child_end(&self) -> Option<usize> {
        // Walked by hand from the last child: the usual element ends in one
        // blank text after its last element.
        let mut c = self.node.last_child();
        while let Some(n) = c {
            if !(n.is_text() && n.text().is_some_and(blank)) {
                return Some(n.range().end);
            }
            c = n.prev_sibling();
        }
        None
    }

    /// Whitespace in front of the element on its line.
    fn indent(&self) -> &'a str {
        parse::line_indent(self.text, self.range().start)
    }

    /// Indentation of the element's children: that of its first element
    /// child, else its own plus one step.
    fn child_indent(&self) -> Cow<'a, str> {
        match self.child_indent_range() {
            Some(r) => Cow::Borrowed(self.text.get(r).unwrap_or_default()),
            None => Cow::Owned(format!("{}{}", self.indent(), self.unit)),
        }
    }

    /// Where the indentation of the first element child is in the text
    /// (`None` without an element child).
    fn child_indent_range(&self) -> Option<Range<usize>> {
        // The first child is the node after this one: walked by hand, as
        // the usual element starts with one blank text.
        let mut c = self.node.first_child();
        while let Some(n) = c.filter(|n| !n.is_element()) {
            c = n.next_sibling();
        }
        c.map(|c| parse::line_indent_range(self.text, c.range().start))
    }

    /// The first attribute of that local name, in any namespace: what
    /// libvirt's `virXMLPropString` (libxml2's `xmlGetProp`) reads for a
    /// device (rule 29).
    fn attr(&self, name: &str) -> Option<Attr<'d>> {
        self.node
            .attributes()
            .find(|a| a.name() == name)
            .map(|a| Attr {
                range: a.range(),
                value_range: a.range_value(),
                value: a.value(),
            })
    }

    /// The attribute of that name in no namespace: what libvirt's XPath
    /// lookups (`string(./os/type[1]/@machine)`) read.
    fn plain_attr(&self, name: &str) -> Option<Attr<'d>> {
        self.node
            .attributes()
            .find(|a| a.name() == name && a.namespace().is_none())
            .map(|a| Attr {
                range: a.range(),
                value_range: a.range_value(),
                value: a.value(),
            })
    }

    /// Element children in no namespace (libvirt's own; rule 29).
    fn children(&self) -> impl Iterator<Item = Elem<'d, 'a>> + '_ {
        self.node
            .children()
            .filter(|n| n.is_element() && n.tag_name().namespace().is_none())
            .map(|node| Elem { node, ..*self })
    }

    fn child(&self, name: &str) -> Option<Elem<'d, 'a>> {
        self.children().find(|c| c.name() == name)
    }

    /// What this `<address>` element parses to, with its range (`None`
    /// when it does not parse: the reader refused such documents already).
    fn parsed_address(&self) -> Option<(Range<usize>, DeviceAddress)> {
        parse::parse_address(self.node)
            .ok()
            .map(|p| (self.range(), p))
    }
}

/// Whether a text is white space only (as `str::trim` sees it); the usual
/// indentation is decided without decoding characters.
fn blank(t: &str) -> bool {
    t.bytes().all(|b| matches!(b, b' ' | b'\n' | b'\t' | b'\r')) || t.trim().is_empty()
}

/// Parses a libvirt domain XML into the engine's model.
///
/// The plan holds the machine of `<os><type>` (aliases resolved through
/// `caps`), the guest's NUMA cell count, whether it has graphics, the host
/// PCI facts and one device per device element, with `origin` set to the
/// element's token. DTDs are refused, never fetched.
///
/// # Errors
/// [`crate::ConfigError::Limit`] for input beyond the [limits](self#limits);
/// [`crate::XmlError`] for XML that is not well formed, has a DTD, has no
/// `<domain>` root, or has a malformed attribute (a missing `<devices>` is
/// accepted, as libvirt does);
/// [`crate::AddressError`] for an out-of-range PCI address;
/// [`crate::ConfigError::UnknownModel`] for an unknown controller model;
/// [`crate::ConfigError::UnsupportedArch`] for an architecture libvirt does not know.
pub fn parse_domain<'a>(
    xml: &'a str,
    caps: &Capabilities,
    host: &HostPci,
) -> Result<(Document<'a>, Plan), Error> {
    parse::parse_domain(xml, Some(caps), crate::LibvirtVersion::V9_0, host)
}

/// [`parse_domain`] with the built-in capability set of the domain's own
/// architecture for that libvirt ([`Capabilities::builtin_for`]), the plan
/// set to answer as that libvirt.
///
/// ```
/// use pciplan::machine::HostPci;
/// let xml = "<domain><os><type arch='aarch64' machine='virt'>hvm</type></os><devices/></domain>";
/// let (_, plan) = pciplan::libvirt::parse_domain_builtin(xml, &HostPci::default(), Default::default())?;
/// assert!(plan.caps().has("gpex-pcihost"));
/// # Ok::<(), pciplan::Error>(())
/// ```
///
/// # Errors
/// As [`parse_domain`].
pub fn parse_domain_builtin<'a>(
    xml: &'a str,
    host: &HostPci,
    libvirt: crate::LibvirtVersion,
) -> Result<(Document<'a>, Plan), Error> {
    let (doc, mut plan) = parse::parse_domain(xml, None, libvirt, host)?;
    plan.set_libvirt(libvirt);
    Ok((doc, plan))
}

/// Writes the plan back into the document text.
///
/// Untouched parts keep their bytes; addresses are added or replaced,
/// PCI controllers get the `index`, `<model name>` and `<target>` values the
/// plan added, and devices pciplan added are written in full. Writing the
/// output of a re-parse and re-assignment gives the same text again.
///
/// # Errors
/// [`crate::XmlError::Invalid`] when the plan refers to an element the
/// document does not have (a plan from another document).
pub fn write_domain(doc: &Document<'_>, plan: &Plan) -> Result<String, Error> {
    write::write_domain(doc, plan)
}

/// [`write_domain`]'s text, kept as the edits it makes to the document's
/// text, to be written out in pieces: the whole new text is never held
/// at once (the CLI writes a 7,679-device domain this way).
///
/// ```
/// use pciplan::{Capabilities, machine::HostPci};
/// let xml = "<domain><os><type arch='x86_64' machine='pc'>hvm</type></os><devices/></domain>";
/// let (doc, mut plan) = pciplan::libvirt::parse_domain(xml, &Capabilities::qemu_8_0_x86_64(), &HostPci::default())?;
/// plan.assign()?;
/// let text = pciplan::libvirt::domain_text(&doc, &plan)?;
/// let mut out = Vec::new();
/// text.write_to(&mut out).expect("a Vec takes every byte");
/// assert_eq!(out, pciplan::libvirt::write_domain(&doc, &plan)?.into_bytes());
/// # Ok::<(), pciplan::Error>(())
/// ```
pub struct DomainText<'a> {
    edits: write::Edits<'a>,
}

impl DomainText<'_> {
    /// Writes the text to `w`, in pieces of about 64 KiB.
    ///
    /// # Errors
    /// The first error of `w`.
    pub fn write_to<W: std::io::Write + ?Sized>(&self, w: &mut W) -> std::io::Result<()> {
        self.edits.write_to(w)
    }

    /// The whole text, as [`write_domain`] returns it.
    pub fn into_string(self) -> String {
        self.edits.into_string()
    }
}

impl std::fmt::Debug for DomainText<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DomainText")
            .field("edits", &self.edits.list_len())
            .finish_non_exhaustive()
    }
}

/// [`write_domain`] as a [`DomainText`], to be written out in pieces.
///
/// # Errors
/// As [`write_domain`].
pub fn domain_text<'a>(doc: &Document<'a>, plan: &Plan) -> Result<DomainText<'a>, Error> {
    write::checked_edits(doc, plan).map(|edits| DomainText { edits })
}

/// [`parse_domain`], [`Plan::assign`] and [`write_domain`] in one step.
///
/// ```
/// use pciplan::{Capabilities, machine::HostPci};
/// let xml = "<domain><os><type arch='x86_64' machine='pc'>hvm</type></os><devices/></domain>";
/// let out = pciplan::libvirt::assign_xml(xml, &Capabilities::qemu_8_0_x86_64(), &HostPci::default())?;
/// assert!(out.starts_with("<domain>"));
/// # Ok::<(), pciplan::Error>(())
/// ```
///
/// # Errors
/// Every error of the three steps.
pub fn assign_xml(xml: &str, caps: &Capabilities, host: &HostPci) -> Result<String, Error> {
    let (doc, mut plan) = parse_domain(xml, caps, host)?;
    plan.assign()?;
    write_domain(&doc, &plan)
}

#[cfg(test)]
mod tests;
