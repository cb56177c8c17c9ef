//! Device selectors: `interface[2]`, `alias:net0`, a MAC, a disk target,
//! a host source address.

use std::str::FromStr;

use super::DeviceExplanation;
use crate::address::PciAddress;
use crate::diff::Identity;

/// Picks devices out of an explanation.
///
/// Forms: `ELEMENT[N]` (the N-th device of that element, 1-based, in the
/// assigned plan's order), `alias:NAME`, `mac:ADDR`, `target:DEV`,
/// `host:ADDR` (a passthrough device's host PCI address); a bare MAC or PCI
/// address means `mac:` or `host:`, any other bare word an alias or a disk
/// target.
///
/// ```
/// use pciplan::explain::Selector;
/// assert_eq!("interface[2]".parse::<Selector>()?, Selector::Element { element: "interface".into(), ordinal: 2 });
/// assert_eq!("52:54:00:aa:bb:cc".parse::<Selector>()?, Selector::Mac("52:54:00:aa:bb:cc".into()));
/// assert_eq!("vda".parse::<Selector>()?, Selector::Name("vda".into()));
/// # Ok::<(), pciplan::explain::SelectorError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Selector {
    /// Element name and 1-based ordinal.
    Element {
        /// Element name.
        element: String,
        /// 1-based ordinal.
        ordinal: usize,
    },
    /// `<alias name>`.
    Alias(String),
    /// `<mac address>` (compared case-insensitively).
    Mac(String),
    /// A disk's `<target dev>`.
    Target(String),
    /// A passthrough device's host PCI address.
    HostSource(PciAddress),
    /// An alias or a disk target.
    Name(String),
}

/// A selector that cannot be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid device selector '{0}': use ELEMENT[N] (N from 1), alias:NAME, mac:ADDR, target:DEV or host:ADDR"
)]
///
/// ```
/// let e = "interface[0]".parse::<pciplan::explain::Selector>();
/// assert!(e.is_err());
/// ```
pub struct SelectorError(pub String);

impl FromStr for Selector {
    type Err = SelectorError;

    fn from_str(s: &str) -> Result<Selector, SelectorError> {
        let bad = || SelectorError(s.to_string());
        let s = s.trim();
        if s.is_empty() {
            return Err(bad());
        }
        if let Some((kind, value)) = s.split_once(':')
            && matches!(kind, "alias" | "mac" | "target" | "host")
        {
            if value.is_empty() {
                return Err(bad());
            }
            return Ok(match kind {
                "alias" => Selector::Alias(value.to_string()),
                "mac" => Selector::Mac(value.to_ascii_lowercase()),
                "target" => Selector::Target(value.to_string()),
                _ => Selector::HostSource(value.parse().map_err(|_| bad())?),
            });
        }
        if let Some(rest) = s.strip_suffix(']')
            && let Some((element, n)) = rest.split_once('[')
        {
            let ordinal: usize = n.parse().map_err(|_| bad())?;
            if ordinal == 0 || element.is_empty() {
                return Err(bad());
            }
            return Ok(Selector::Element {
                element: element.to_string(),
                ordinal,
            });
        }
        if is_mac(s) {
            return Ok(Selector::Mac(s.to_ascii_lowercase()));
        }
        if let Ok(a) = s.parse::<PciAddress>() {
            return Ok(Selector::HostSource(a));
        }
        Ok(Selector::Name(s.to_string()))
    }
}

impl Selector {
    /// Whether the selector picks this device (with its identity).
    ///
    /// ```
    /// use pciplan::{Capabilities, Machine, Plan};
    /// use pciplan::explain::{explain, Selector};
    /// let e = explain(&Plan::new(Machine::pc(), Capabilities::qemu_8_0_x86_64())).map_err(|r| *r.error)?;
    /// let id = pciplan::diff::Identity::default();
    /// if let Ok(sel) = "controller[1]".parse::<Selector>() {
    ///     assert_eq!(e.devices.iter().filter(|d| sel.matches(d, &id)).count(), 1);
    /// }
    /// # Ok::<(), pciplan::Error>(())
    /// ```
    pub fn matches(&self, d: &DeviceExplanation, id: &Identity) -> bool {
        match self {
            Selector::Element { element, ordinal } => {
                d.element == element.as_str() && d.ordinal == *ordinal
            }
            _ => self.matches_identity(id),
        }
    }

    /// Whether a selector other than `ELEMENT[N]` picks the device with
    /// this identity (`ELEMENT[N]` needs the device's position: false).
    ///
    /// ```
    /// use pciplan::explain::Selector;
    /// let id = pciplan::diff::Identity { alias: Some("ua-net0".into()), ..Default::default() };
    /// assert!("alias:ua-net0".parse::<Selector>()?.matches_identity(&id));
    /// assert!(!"interface[1]".parse::<Selector>()?.matches_identity(&id));
    /// # Ok::<(), pciplan::explain::SelectorError>(())
    /// ```
    pub fn matches_identity(&self, id: &Identity) -> bool {
        match self {
            Selector::Element { .. } => false,
            Selector::Alias(a) => id.alias.as_deref() == Some(a.as_str()),
            Selector::Mac(m) => id.mac.as_deref().is_some_and(|x| x.eq_ignore_ascii_case(m)),
            Selector::Target(t) => id.target.as_deref() == Some(t.as_str()),
            Selector::HostSource(a) => id.host_source.is_some_and(|h| h.key() == a.key()),
            Selector::Name(n) => {
                id.alias.as_deref() == Some(n.as_str()) || id.target.as_deref() == Some(n.as_str())
            }
        }
    }
}

fn is_mac(s: &str) -> bool {
    let parts: Vec<&str> = s.split(':').collect();
    parts.len() == 6
        && parts
            .iter()
            .all(|p| p.len() == 2 && p.chars().all(|c| c.is_ascii_hexdigit()))
}
