//! One device element on its own: what `virsh attach-device` and
//! `virsh detach-device` read (an `<interface>`, `<disk>`, `<controller>`,
//! … as the root of its own document).
//!
//! [`parse_device`] reads the element as the domain parser reads a device
//! (same rules, same limits) and keeps the text; [`DeviceXml::write`] gives
//! the text back with what libvirt adds on attach (the `<address>`, a
//! controller's `index`, a virtio-serial port), every other byte as it was:
//! attributes, children, comments, namespaced and unknown nodes, the XML
//! declaration and the white space around the element.

use roxmltree::Node;

use crate::device::{Device, DeviceAddress};
use crate::error::{Error, XmlError};

/// A device element parsed on its own, borrowing its text.
///
/// ```
/// let dev = pciplan::libvirt::parse_device(
///     "<interface type='user'>\n  <mac address='52:54:00:00:00:01'/>\n  <model type='virtio'/>\n</interface>\n",
/// )?;
/// assert_eq!(dev.element(), "interface");
/// assert_eq!(dev.mac(), Some("52:54:00:00:00:01".to_string()));
/// # Ok::<(), pciplan::Error>(())
/// ```
#[derive(Debug)]
pub struct DeviceXml<'a> {
    text: &'a str,
    tree: roxmltree::Document<'a>,
    device: Device,
}

/// Parses one device element (the root of `xml`).
///
/// The element is read as a device of a domain is (spec §3 and the
/// front end's rules): its kind and model, its `<address>`, disk target and
/// drive address. Elements pciplan does not model (`<graphics>`,
/// `<lease>`, …) are refused.
///
/// # Errors
/// [`crate::ConfigError::Limit`] beyond the [limits](super#limits);
/// [`XmlError::Syntax`] for text that is not well formed;
/// [`XmlError::Invalid`] for a root element that is no device pciplan
/// knows; the device errors of [`super::parse_domain`] (bad address, unknown
/// model, bad attribute).
pub fn parse_device(xml: &str) -> Result<DeviceXml<'_>, Error> {
    let tree = super::parse_tree(xml)?;
    let root = tree.root_element();
    let unsupported = || XmlError::Invalid {
        element: root.tag_name().name().to_string(),
        message: "not a device element pciplan can attach or detach".into(),
    };
    if root.tag_name().namespace().is_some() {
        return Err(unsupported().into());
    }
    let device = super::parse::device_of(root)?.ok_or_else(unsupported)?;
    Ok(DeviceXml {
        text: xml,
        tree,
        device,
    })
}

impl<'a> DeviceXml<'a> {
    /// The device as the plan models it (no `origin`).
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// The element's local name (`interface`, `disk`, …).
    pub fn element(&self) -> &str {
        self.root().tag_name().name()
    }

    /// The original text.
    pub fn text(&self) -> &'a str {
        self.text
    }

    fn root(&self) -> Node<'_, 'a> {
        self.tree.root_element()
    }

    /// An attribute of a direct child in no namespace (attributes by local
    /// name, as libvirt reads them).
    fn child_attr(&self, child: &str, attr: &str) -> Option<&str> {
        self.root()
            .children()
            .find(|c| c.is_element() && c.tag_name().namespace().is_none() && c.has_tag_name(child))
            .and_then(|c| c.attributes().find(|a| a.name() == attr))
            .map(|a| a.value())
    }

    /// `<alias name>`, when given.
    pub fn alias(&self) -> Option<&str> {
        self.child_attr("alias", "name")
    }

    /// `<mac address>` of an interface, lower case.
    pub fn mac(&self) -> Option<String> {
        (self.element() == "interface")
            .then(|| self.child_attr("mac", "address"))
            .flatten()
            .map(str::to_ascii_lowercase)
    }

    /// `<target dev>` of a disk.
    pub fn disk_target(&self) -> Option<&str> {
        (self.element() == "disk")
            .then(|| self.child_attr("target", "dev"))
            .flatten()
    }

    /// `<backend model>` of an RNG.
    pub(super) fn rng_backend(&self) -> Option<&str> {
        self.child_attr("backend", "model")
    }

    /// The (controller, bus, port) of a `<address type='virtio-serial'>`.
    pub(super) fn virtio_serial_address(&self) -> Option<(u32, u32, u32)> {
        if self.child_attr("address", "type") != Some("virtio-serial") {
            return None;
        }
        let num = |name: &str| {
            self.child_attr("address", name)
                .and_then(super::parse::strtoul)
                .and_then(|v| u32::try_from(v).ok())
                .unwrap_or(0)
        };
        Some((num("controller"), num("bus"), num("port")))
    }

    /// Whether the element has an `<address>` child.
    pub(super) fn has_address(&self) -> bool {
        self.child_attr("address", "type").is_some()
    }

    /// The text with what the placed device `placed` carries that the
    /// element lacks: its PCI address (or a controller's index), written as
    /// the domain writer writes it (rule 39: everything else is kept).
    ///
    /// ```
    /// use pciplan::{DeviceAddress, PciAddress};
    /// let dev = pciplan::libvirt::parse_device("<rng model='virtio'>\n  <backend model='random'>/dev/urandom</backend>\n</rng>\n")?;
    /// let placed = dev.device().clone().with_address(DeviceAddress::Pci("0000:00:05.0".parse::<PciAddress>()?));
    /// assert_eq!(
    ///     dev.write(&placed)?,
    ///     "<rng model='virtio'>\n  <backend model='random'>/dev/urandom</backend>\n  \
    ///      <address type='pci' domain='0x0000' bus='0x00' slot='0x05' function='0x0'/>\n</rng>\n"
    /// );
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`XmlError::Invalid`] only on an internal inconsistency of the
    /// edits (none is known).
    pub fn write(&self, placed: &Device) -> Result<String, Error> {
        super::write::write_element(self.text, self.root(), UNIT, placed)
    }

    /// The text with one more child line (`child`, rendered) at the end of
    /// the element, indented as its children are.
    pub(super) fn write_child(&self, child: &str) -> Result<String, Error> {
        super::write::append_element_child(self.text, self.root(), UNIT, child)
    }

    /// Whether the element's `<address>` is a PCI one.
    pub(super) fn pci_address_given(&self) -> bool {
        matches!(self.device.address, DeviceAddress::Pci(_))
    }
}

/// The indentation step of a device file: libvirt's two spaces.
const UNIT: &str = "  ";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_device_of_a_graphics_element_is_refused() {
        let err = parse_device("<graphics type='vnc'/>").unwrap_err();
        assert!(err.to_string().contains("not a device element"));
    }

    #[test]
    fn write_keeps_comments_and_namespaced_children() -> Result<(), Box<dyn std::error::Error>> {
        let xml = "<interface type='user' xmlns:x='urn:x'>\n  <!-- kept -->\n  <x:tag a='1'/>\n  <model type='e1000'/>\n</interface>\n";
        let dev = parse_device(xml)?;
        let placed = dev
            .device()
            .clone()
            .with_address(DeviceAddress::Pci("0000:00:03.0".parse()?));
        let out = dev.write(&placed)?;
        assert_eq!(
            out,
            "<interface type='user' xmlns:x='urn:x'>\n  <!-- kept -->\n  <x:tag a='1'/>\n  <model type='e1000'/>\n  \
             <address type='pci' domain='0x0000' bus='0x00' slot='0x03' function='0x0'/>\n</interface>\n"
        );
        Ok(())
    }
}
