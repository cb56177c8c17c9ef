//! Device identities read from the XML (alias, MAC, disk target, serial),
//! for [`crate::diff`] and device selectors, from the document's tree: the
//! parser's model is not changed.

use super::Document;
use crate::diff::Identity;
use crate::plan::Plan;

/// One [`Identity`] per device of `plan` (a plan parsed from `doc`, or
/// assigned from one): the model's keys plus the XML's `<alias name>`,
/// `<mac address>`, `<target dev>` (disks) and `<serial>`. Devices pciplan
/// added have only the model's keys.
///
/// ```
/// use pciplan::machine::HostPci;
/// let xml = "<domain><os><type arch='x86_64' machine='pc'>hvm</type></os><devices>\
///            <interface type='network'><mac address='52:54:00:00:00:01'/><alias name='ua-net0'/></interface>\
///            </devices></domain>";
/// let (doc, plan) = pciplan::libvirt::parse_domain_builtin(xml, &HostPci::default(), Default::default())?;
/// let ids = pciplan::libvirt::identities(&doc, &plan);
/// assert_eq!(ids[0].mac.as_deref(), Some("52:54:00:00:00:01"));
/// assert_eq!(ids[0].alias.as_deref(), Some("ua-net0"));
/// # Ok::<(), pciplan::Error>(())
/// ```
pub fn identities(doc: &Document<'_>, plan: &Plan) -> Vec<Identity> {
    plan.devices()
        .iter()
        .map(|d| {
            let mut id = Identity::of_device(d);
            let elem = d
                .origin
                .and_then(|o| doc.elements.get(o))
                .and_then(|&e| doc.elem(e));
            if let Some(elem) = elem {
                read_keys(elem.node, &mut id);
            }
            id
        })
        .collect()
}

/// Fills alias, MAC, target and serial from one device element.
fn read_keys(root: roxmltree::Node<'_, '_>, id: &mut Identity) {
    // libvirt's own children only (no namespace), attributes by local name.
    let child = |name: &str| {
        root.children()
            .find(|c| c.is_element() && c.tag_name().namespace().is_none() && c.has_tag_name(name))
    };
    let attr = |name: &str, a: &str| {
        child(name)
            .and_then(|c| c.attributes().find(|x| x.name() == a).map(|x| x.value()))
            .map(str::to_string)
    };
    id.alias = attr("alias", "name");
    if root.has_tag_name("interface") {
        id.mac = attr("mac", "address").map(|m| m.to_ascii_lowercase());
    }
    if root.has_tag_name("disk") {
        id.target = attr("target", "dev").or(id.target.take());
        id.serial = child("serial")
            .and_then(|s| s.text())
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty());
    }
}
