//! The PCI view of a libvirt domain XML, and a diff of two views.
//!
//! A port of the corpus's `tools/pci_view.py` (see `NOTES.md` §3): it keeps
//! what PCI assignment decides (the PCI controllers and every device's
//! `<address>`) and drops the rest.
//!
//! * Numbers are normalised, so `'0x02'` equals `'2'`.
//! * In `<address type='pci'>`, a missing domain/bus/slot/function means 0.
//! * Devices are keyed `<tag>#<n>` (n = position among elements with that tag,
//!   in document order); controllers are keyed `controller:<type>:<index>`,
//!   with `#k` added when several share type and index; USB controllers
//!   sharing an index are keyed `controller:usb:<index>:<model>`, so EHCI
//!   companions compare as model → address pairs (libvirt's own output is
//!   not a fixed point of its parser there).
//! * PCI controllers are compared by index: model, `<model name>`, every
//!   `<target>` attribute plus `<target><node>`, and their address.
//! * Only address differences that involve a PCI address count.

use std::collections::BTreeMap;
use std::fmt;

/// An attribute value: a number when it parses as one, text otherwise
/// (Python's `int(v, 0)` rules).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Val {
    /// A number.
    Num(i128),
    /// Anything else.
    Text(String),
}

impl fmt::Display for Val {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Val::Num(n) => write!(f, "{n}"),
            Val::Text(s) => write!(f, "{s:?}"),
        }
    }
}

/// `int(v, 0)`: decimal without leading zeros, or `0x`/`0o`/`0b` prefixed;
/// underscores between digits allowed. Anything else stays text.
fn num(v: &str) -> Val {
    parse_int(v).map_or_else(|| Val::Text(v.to_string()), Val::Num)
}

fn parse_int(v: &str) -> Option<i128> {
    let s = v.trim();
    let (neg, s) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let lower = s.to_ascii_lowercase();
    let (radix, digits) = if let Some(d) = lower.strip_prefix("0x") {
        (16, d)
    } else if let Some(d) = lower.strip_prefix("0o") {
        (8, d)
    } else if let Some(d) = lower.strip_prefix("0b") {
        (2, d)
    } else {
        // Python rejects "010" in base 0, but accepts "0", "00".
        if lower.len() > 1 && lower.starts_with('0') && lower.chars().any(|c| c != '0') {
            return None;
        }
        (10, lower.as_str())
    };
    let digits = digits.strip_prefix('_').unwrap_or(digits);
    if digits.is_empty()
        || digits.starts_with('_')
        || digits.ends_with('_')
        || digits.contains("__")
    {
        return None;
    }
    let clean: String = digits.chars().filter(|&c| c != '_').collect();
    let n = i128::from_str_radix(&clean, radix).ok()?;
    Some(if neg { -n } else { n })
}

const PCI_NUM_ATTRS: [&str; 4] = ["domain", "bus", "slot", "function"];
const OTHER_NUM_ATTRS: [&str; 9] = [
    "controller",
    "target",
    "unit",
    "port",
    "reg",
    "cssid",
    "ssid",
    "devno",
    "base",
];
const TARGET_NUM_ATTRS: [&str; 5] = ["chassisNr", "chassis", "port", "busNr", "index"];

/// A device's `<address>`: its attributes (with `type`), plus `zpci.<attr>`
/// entries for a `<zpci>` child.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Address(pub BTreeMap<String, Val>);

impl Address {
    /// Whether this is a PCI address.
    pub fn is_pci(&self) -> bool {
        matches!(self.0.get("type"), Some(Val::Text(t)) if t == "pci")
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{{")?;
        for (i, (k, v)) in self.0.iter().enumerate() {
            if i > 0 {
                write!(f, ", ")?;
            }
            write!(f, "{k}={v}")?;
        }
        write!(f, "}}")
    }
}

/// One `<controller type='pci'>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PciController {
    /// `model` attribute.
    pub model: Option<String>,
    /// `<model name>`.
    pub model_name: Option<String>,
    /// `<target>` attributes and `node`.
    pub target: BTreeMap<String, Val>,
    /// Its address.
    pub address: Option<Address>,
}

impl fmt::Display for PciController {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{{model={:?}, model_name={:?}, target={{",
            self.model, self.model_name
        )?;
        for (i, (k, v)) in self.target.iter().enumerate() {
            if i > 0 {
                write!(f, ", ")?;
            }
            write!(f, "{k}={v}")?;
        }
        write!(f, "}}, address=")?;
        match &self.address {
            Some(a) => write!(f, "{a}}}"),
            None => write!(f, "none}}"),
        }
    }
}

/// The PCI view of one document.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct View {
    /// `<os><type arch>`.
    pub arch: Option<String>,
    /// `<os><type machine>`.
    pub machine: Option<String>,
    /// PCI controllers by index (normalised), or `?<n>` without index.
    pub pci_controllers: BTreeMap<String, PciController>,
    /// Every device that has an `<address>`, by device key.
    pub addresses: BTreeMap<String, Address>,
}

/// libvirt reads only elements in no namespace (docs/libvirt-rules.md, rule 29).
fn own(c: &roxmltree::Node<'_, '_>) -> bool {
    c.is_element() && c.tag_name().namespace().is_none()
}

fn child<'a, 'i>(node: roxmltree::Node<'a, 'i>, name: &str) -> Option<roxmltree::Node<'a, 'i>> {
    node.children()
        .find(|c| own(c) && c.tag_name().name() == name)
}

fn address_of(el: roxmltree::Node<'_, '_>) -> Option<Address> {
    let a = child(el, "address")?;
    let mut out = BTreeMap::new();
    let ty = a
        .attributes()
        .find(|x| x.name() == "type")
        .map(|x| x.value());
    out.insert(
        "type".to_string(),
        ty.map_or(Val::Text("None".into()), |t| Val::Text(t.to_string())),
    );
    // The first attribute of a local name wins, in any namespace (rule 29).
    for attr in a.attributes() {
        let k = attr.name();
        if k == "type" {
            continue;
        }
        let v = if PCI_NUM_ATTRS.contains(&k) || OTHER_NUM_ATTRS.contains(&k) {
            num(attr.value())
        } else {
            Val::Text(attr.value().to_string())
        };
        out.entry(k.to_string()).or_insert(v);
    }
    if ty == Some("pci") {
        for k in PCI_NUM_ATTRS {
            out.entry(k.to_string()).or_insert(Val::Num(0));
        }
        if let Some(z) = child(a, "zpci") {
            for attr in z.attributes() {
                out.insert(format!("zpci.{}", attr.name()), num(attr.value()));
            }
        }
    }
    Some(Address(out))
}

/// Builds the view of a domain XML document.
///
/// # Errors
/// The XML parser's message when the text is not well-formed.
pub fn view(xml: &str) -> Result<View, String> {
    let opts = roxmltree::ParsingOptions {
        allow_dtd: true,
        ..roxmltree::ParsingOptions::default()
    };
    let doc = roxmltree::Document::parse_with_options(xml, opts).map_err(|e| e.to_string())?;
    let root = doc.root_element();
    let mut res = View::default();
    if let Some(t) = child(root, "os").and_then(|os| child(os, "type")) {
        res.arch = t.attribute("arch").map(str::to_string);
        res.machine = t.attribute("machine").map(str::to_string);
    }
    // Every `<devices>` block, as libvirt reads them (rule 30).
    let all = || {
        root.children()
            .filter(|c| own(c) && c.tag_name().name() == "devices")
            .flat_map(|d| d.children().filter(own))
    };
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for el in all() {
        let tag = el.tag_name().name();
        let key = if tag == "controller" {
            // USB controllers sharing an index (EHCI companions) are keyed
            // by model as well: libvirt's own output does not keep their
            // document order on a re-read, so model → address is what counts.
            let shared = el.attribute("type") == Some("usb")
                && all()
                    .filter(|o| {
                        o.tag_name().name() == "controller"
                            && o.attribute("type") == Some("usb")
                            && o.attribute("index") == el.attribute("index")
                    })
                    .count()
                    > 1;
            let base = match (el.attribute("type"), el.attribute("model")) {
                (Some("usb"), Some(model)) if shared => format!(
                    "controller:usb:{}:{model}",
                    el.attribute("index").unwrap_or("?")
                ),
                _ => format!(
                    "controller:{}:{}",
                    el.attribute("type").unwrap_or("None"),
                    el.attribute("index").unwrap_or("?")
                ),
            };
            let n = counts.entry(base.clone()).or_insert(0);
            let seen = *n;
            *n = seen.saturating_add(1);
            let key = if seen == 0 {
                base.clone()
            } else {
                format!("{base}#{seen}")
            };
            if el.attribute("type") == Some("pci") {
                let mut target = BTreeMap::new();
                if let Some(tgt) = child(el, "target") {
                    for attr in tgt.attributes() {
                        let v = if TARGET_NUM_ATTRS.contains(&attr.name()) {
                            num(attr.value())
                        } else {
                            Val::Text(attr.value().to_string())
                        };
                        target.insert(attr.name().to_string(), v);
                    }
                    if let Some(node) = child(tgt, "node") {
                        target.insert("node".into(), num(node.text().unwrap_or("").trim()));
                    }
                }
                let ckey = match el.attribute("index") {
                    Some(idx) => match num(idx) {
                        Val::Num(n) => n.to_string(),
                        Val::Text(t) => t,
                    },
                    None => format!("?{}", seen.saturating_add(1)),
                };
                res.pci_controllers.insert(
                    ckey,
                    PciController {
                        model: el.attribute("model").map(str::to_string),
                        model_name: child(el, "model")
                            .and_then(|m| m.attribute("name"))
                            .map(str::to_string),
                        target,
                        address: address_of(el),
                    },
                );
            }
            key
        } else {
            let n = counts.entry(tag.to_string()).or_insert(0);
            let seen = *n;
            *n = seen.saturating_add(1);
            format!("{tag}#{seen}")
        };
        if let Some(addr) = address_of(el) {
            res.addresses.insert(key, addr);
        }
    }
    Ok(res)
}

fn show<T: fmt::Display>(v: Option<&T>) -> String {
    v.map_or_else(|| "none".to_string(), ToString::to_string)
}

/// Differences between the expected and the actual view, one line each,
/// in the order of `pci_view.py --diff`.
pub fn diff(exp: &View, act: &View) -> Vec<String> {
    let mut out = Vec::new();
    if exp.arch != act.arch {
        out.push(format!("arch: expected {:?}, got {:?}", exp.arch, act.arch));
    }
    if exp.machine != act.machine {
        out.push(format!(
            "machine: expected {:?}, got {:?}",
            exp.machine, act.machine
        ));
    }
    let mut idxs: Vec<&String> = exp
        .pci_controllers
        .keys()
        .chain(act.pci_controllers.keys())
        .collect();
    idxs.sort_by_key(|k| match k.parse::<u64>() {
        Ok(n) if k.bytes().all(|b| b.is_ascii_digit()) => (0, n, String::new()),
        _ => (1, 0, (*k).clone()),
    });
    idxs.dedup();
    for idx in idxs {
        let (e, a) = (exp.pci_controllers.get(idx), act.pci_controllers.get(idx));
        if e != a {
            out.push(format!(
                "pci controller {idx}: expected {}, got {}",
                show(e),
                show(a)
            ));
        }
    }
    let mut keys: Vec<&String> = exp.addresses.keys().chain(act.addresses.keys()).collect();
    keys.sort();
    keys.dedup();
    for key in keys {
        let (e, a) = (exp.addresses.get(key), act.addresses.get(key));
        let involves_pci = e.is_some_and(Address::is_pci) || a.is_some_and(Address::is_pci);
        if e == a || !involves_pci {
            continue;
        }
        out.push(format!("{key}: expected {}, got {}", show(e), show(a)));
    }
    out
}

/// Differences in CCW device numbers and spapr-vio registers: not PCI, but
/// every number pciplan writes must be libvirt's (devices pciplan writes no
/// number for, such as a console that mirrors a serial port, are skipped).
pub fn numbered_diff(exp: &View, act: &View) -> Vec<String> {
    let numbered = |a: &Address| a.0.contains_key("devno") || a.0.contains_key("reg");
    let mut out = Vec::new();
    for (key, want) in &exp.addresses {
        let got = act.addresses.get(key);
        if numbered(want) && got.is_some_and(numbered) && got != Some(want) {
            out.push(format!("{key}: expected {want}, got {}", show(got)));
        }
    }
    out
}

/// Whether two views differ only in zPCI ids that PCI controllers gained.
/// libvirt's own output is not a fixed point there: a pci-bridge the dry
/// run added carries no zPCI ids, and defining that output again gives it
/// some (`docs/libvirt-rules.md`, rule 25).
pub fn same_but_controller_zpci(a: &View, b: &View) -> bool {
    let strip = |v: &View| {
        let mut v = v.clone();
        for c in v.pci_controllers.values_mut() {
            if let Some(addr) = c.address.as_mut() {
                addr.0.retain(|k, _| !k.starts_with("zpci."));
            }
        }
        for (k, addr) in &mut v.addresses {
            if k.starts_with("controller:pci:") {
                addr.0.retain(|k, _| !k.starts_with("zpci."));
            }
        }
        v
    };
    strip(a) == strip(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_and_decimal_numbers_are_equal() {
        assert_eq!(num("0x02"), num("2"));
    }

    #[test]
    fn leading_zero_decimal_stays_text() {
        assert_eq!(num("010"), Val::Text("010".into()));
    }

    #[test]
    fn missing_pci_attributes_mean_zero() {
        let a = view(
            "<domain><devices><disk><address type='pci' slot='0x03'/></disk></devices></domain>",
        )
        .unwrap();
        let b = view(
            "<domain><devices><disk><address type='pci' domain='0x0000' bus='0x00' slot='3' function='0'/></disk></devices></domain>",
        )
        .unwrap();
        assert!(diff(&a, &b).is_empty());
    }

    #[test]
    fn non_pci_address_differences_are_ignored() {
        let a = view(
            "<domain><devices><disk><address type='drive' unit='0'/></disk></devices></domain>",
        )
        .unwrap();
        let b = view(
            "<domain><devices><disk><address type='drive' unit='1'/></disk></devices></domain>",
        )
        .unwrap();
        assert!(diff(&a, &b).is_empty());
    }

    #[test]
    fn companions_get_distinct_keys() {
        let v = view(
            "<domain><devices>\
             <controller type='usb' index='0'><address type='pci' slot='7' function='7'/></controller>\
             <controller type='usb' index='0'><address type='pci' slot='7'/></controller>\
             </devices></domain>",
        )
        .unwrap();
        assert!(v.addresses.contains_key("controller:usb:0"));
        assert!(v.addresses.contains_key("controller:usb:0#1"));
    }

    #[test]
    fn companions_are_keyed_by_model() {
        let v = view(
            "<domain><devices>\
             <controller type='usb' index='0' model='ich9-uhci1'><address type='pci' slot='7'/></controller>\
             <controller type='usb' index='0' model='ich9-ehci1'><address type='pci' slot='7' function='7'/></controller>\
             </devices></domain>",
        )
        .unwrap();
        assert!(v.addresses.contains_key("controller:usb:0:ich9-ehci1"));
        assert!(v.addresses.contains_key("controller:usb:0:ich9-uhci1"));
    }
}
