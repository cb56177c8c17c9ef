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
//!
//! DTDs are refused outright (`XML with DTD detected`), so entity expansion
//! ("billion laughs") and external entities cannot happen: nothing the input
//! points at is ever read.

mod caps;
mod error;
mod identity;
mod parse;
mod write;

use std::ops::Range;

use crate::caps::Capabilities;
use crate::device::DeviceAddress;
use crate::error::Error;
use crate::machine::HostPci;
use crate::plan::Plan;
pub use error::XmlError;

pub use caps::parse_caps_xml;
pub use identity::identities;

/// Largest domain XML accepted, in bytes (4 MiB, libvirt's
/// `REMOTE_STRING_MAX`). See [Limits](self#limits).
pub const MAX_INPUT_BYTES: usize = 4 * 1024 * 1024;

/// Deepest element nesting accepted (`<domain>` alone is depth 1); 256 is
/// libxml2's default. See [Limits](self#limits).
pub const MAX_DEPTH: usize = 256;

/// Most `<controller>` elements accepted. See [Limits](self#limits).
pub const MAX_CONTROLLERS: usize = 1024;

/// A parsed libvirt domain definition: the original text, plus the positions
/// of everything [`write_domain`] may edit.
///
/// Devices of the [`Plan`] returned with it refer to their element through
/// [`crate::Device::origin`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Document {
    /// The original XML text.
    text: String,
    /// Device elements; a device's `origin` indexes this list.
    elements: Vec<Elem>,
    /// The `<devices>` element; `None` when the definition has none
    /// (libvirt accepts that).
    devices: Option<Elem>,
    /// The `<domain>` element, for adding `<devices>`.
    domain: Elem,
    /// Element children of `<devices>`, in XML order: (name, byte range).
    order: Vec<(String, Range<usize>)>,
    /// The `<os><type>` element, when present.
    os_type: Option<Elem>,
    /// One level of indentation, as the document uses it.
    indent_unit: String,
}

/// One element of the original text, with what the writer needs to know.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Elem {
    /// Tag name.
    name: String,
    /// The whole element.
    range: Range<usize>,
    /// Written as `<name .../>`.
    self_closing: bool,
    /// Start of the content (just after the start tag's `>`).
    content_start: usize,
    /// Start of the end tag (`</name>`); the element end when self-closing.
    close_start: usize,
    /// End of the last non-whitespace child node, if any.
    last_child_end: Option<usize>,
    /// Whitespace in front of the element on its line.
    indent: String,
    /// Indentation of the element's children.
    child_indent: String,
    /// Attributes: name, whole range, value range, value.
    attrs: Vec<Attr>,
    /// Element children, one level deep (their own children not kept).
    children: Vec<Elem>,
    /// The `<address>` child and what it parsed to.
    address: Option<(Range<usize>, DeviceAddress)>,
}

/// An attribute of an [`Elem`].
#[derive(Clone, Debug, PartialEq, Eq)]
struct Attr {
    name: String,
    range: Range<usize>,
    value_range: Range<usize>,
    value: String,
}

impl Elem {
    fn attr(&self, name: &str) -> Option<&Attr> {
        self.attrs.iter().find(|a| a.name == name)
    }

    fn child(&self, name: &str) -> Option<&Elem> {
        self.children.iter().find(|c| c.name == name)
    }
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
pub fn parse_domain(
    xml: &str,
    caps: &Capabilities,
    host: &HostPci,
) -> Result<(Document, Plan), Error> {
    parse::parse_domain(xml, Some(caps), crate::LibvirtVersion::V9_0, host)
}

/// [`parse_domain`] with the built-in capability set of the domain's own
/// architecture for that libvirt ([`Capabilities::builtin_for`]), the plan
/// set to answer as that libvirt.
///
/// ```
/// use pciplan::machine::HostPci;
/// let xml = "<domain><os><type arch='aarch64' machine='virt'/></os><devices/></domain>";
/// let (_, plan) = pciplan::libvirt::parse_domain_builtin(xml, &HostPci::default(), Default::default())?;
/// assert!(plan.caps().has("gpex-pcihost"));
/// # Ok::<(), pciplan::Error>(())
/// ```
///
/// # Errors
/// As [`parse_domain`].
pub fn parse_domain_builtin(
    xml: &str,
    host: &HostPci,
    libvirt: crate::LibvirtVersion,
) -> Result<(Document, Plan), Error> {
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
pub fn write_domain(doc: &Document, plan: &Plan) -> Result<String, Error> {
    write::write_domain(doc, plan)
}

/// [`parse_domain`], [`Plan::assign`] and [`write_domain`] in one step.
///
/// ```
/// use pciplan::{Capabilities, machine::HostPci};
/// let xml = "<domain><devices/></domain>";
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
