//! libvirt's QEMU capabilities XML (`<qemuCaps>`) → [`Capabilities`].

use crate::caps::{Capabilities, MachineType};
use crate::error::{Error, XmlError};

/// Reads libvirt's QEMU capabilities XML (the `caps_<ver>.<arch>.xml` files
/// of libvirt's tests, or a `qemuCaps` cache file): every
/// `<flag name='..'/>` becomes a capability and every
/// `<machine name='..' alias='..' default='yes'/>` a [`MachineType`]
/// (a machine listed for several accelerators is kept once).
///
/// ```
/// let caps = pciplan::libvirt::parse_caps_xml(
///     "<qemuCaps><flag name='pcie-root-port'/>\
///      <machine type='kvm' name='pc-i440fx-7.0' alias='pc' default='yes'/></qemuCaps>")?;
/// assert!(caps.has("pcie-root-port"));
/// assert_eq!(caps.canonical_machine("pc"), "pc-i440fx-7.0");
/// # Ok::<(), pciplan::Error>(())
/// ```
///
/// Linear in the input: the same [limits](super#limits) as for a domain
/// hold (size, attributes per element, namespaces, depth), and repeated
/// machines are found through a hash set.
///
/// # Errors
/// [`XmlError::Syntax`] for malformed XML or a DTD;
/// [`XmlError::Invalid`] when the root is not `<qemuCaps>`;
/// [`crate::ConfigError::Limit`] beyond the limits.
pub fn parse_caps_xml(xml: &str) -> Result<Capabilities, Error> {
    let tree = super::parse_tree(xml)?;
    let root = tree.root_element();
    if root.tag_name().name() != "qemuCaps" {
        return Err(XmlError::Invalid {
            element: root.tag_name().name().to_string(),
            message: "expected root element <qemuCaps>".into(),
        }
        .into());
    }
    let mut caps = Capabilities::empty();
    let mut seen: std::collections::HashSet<&str> = std::collections::HashSet::new();
    for node in root.children().filter(roxmltree::Node::is_element) {
        match node.tag_name().name() {
            "flag" => {
                if let Some(name) = node.attribute("name") {
                    caps.insert(name);
                }
            }
            "machine" => {
                let Some(name) = node.attribute("name") else {
                    continue;
                };
                if !seen.insert(name) {
                    continue;
                }
                caps.add_machine(MachineType {
                    name: name.to_string(),
                    alias: node.attribute("alias").map(str::to_string),
                    default: node.attribute("default") == Some("yes"),
                });
            }
            _ => {}
        }
    }
    Ok(caps)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_and_machines_are_read() {
        let caps = parse_caps_xml(
            "<qemuCaps><flag name='pci-bridge'/>\
             <machine type='kvm' name='pc-q35-7.0' alias='q35'/>\
             <machine type='tcg' name='pc-q35-7.0' alias='q35'/></qemuCaps>",
        )
        .unwrap();
        assert!(caps.has("pci-bridge"));
        assert_eq!(caps.machines().len(), 1);
    }

    #[test]
    fn wrong_root_is_rejected() {
        assert!(parse_caps_xml("<domain/>").is_err());
    }

    #[test]
    fn corpus_caps_file_has_default_machine() {
        let path = "/work/shared/conformance/libvirt-9.0/caps/caps_7.0.0.x86_64.xml";
        let Ok(text) = std::fs::read_to_string(path) else {
            return;
        };
        let caps = parse_caps_xml(&text).unwrap();
        assert_eq!(caps.default_machine(), Some("pc"));
        assert_eq!(caps.canonical_machine("pc"), "pc-i440fx-7.0");
        assert!(caps.has("piix3-usb-uhci"));
    }
}
