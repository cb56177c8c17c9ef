//! Guest-ABI diff of two assigned plans: which devices moved, appeared or
//! disappeared, and which controllers changed.
//!
//! Devices are matched by identity first (alias, MAC, disk target, serial,
//! host source address, controller type and index, in that order of
//! preference), then the rest by element name and order.
//!
//! ```
//! use pciplan::{Capabilities, Device, DeviceKind, Machine, Plan, VirtioModel};
//! let mut old = Plan::new(Machine::q35(), Capabilities::qemu_8_0_x86_64());
//! old.assign()?;
//! let mut new = old.clone();
//! new.hotplug_add(Device::new(DeviceKind::Rng(VirtioModel::Default)))?;
//! let d = pciplan::diff::diff_plans(&old, &new);
//! assert_eq!(d.count(pciplan::diff::Change::Added), 1);
//! assert!(!d.abi_unchanged());
//! # Ok::<(), pciplan::Error>(())
//! ```

mod identity;

use std::collections::HashMap;

pub use identity::Identity;

use crate::address::PciAddress;
use crate::device::{ControllerKind, Device};
use crate::plan::Plan;

/// What happened to one device.
///
/// ```
/// assert_ne!(pciplan::diff::Change::Moved, pciplan::diff::Change::Unchanged);
/// ```
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum Change {
    /// Same address (or no PCI address) on both sides.
    Unchanged,
    /// Its PCI address differs.
    Moved,
    /// Only in the new plan.
    Added,
    /// Only in the old plan.
    Removed,
}

/// One device in the diff.
///
/// ```
/// use pciplan::{Capabilities, Device, DeviceKind, Machine, Plan, VirtioModel};
/// let mut old = Plan::new(Machine::pc(), Capabilities::qemu_8_0_x86_64());
/// old.assign()?;
/// let mut new = old.clone();
/// new.hotplug_add(Device::new(DeviceKind::Rng(VirtioModel::Default)))?;
/// let d = pciplan::diff::diff_plans(&old, &new);
/// let added = d.devices.iter().find(|c| c.change == pciplan::diff::Change::Added);
/// assert_eq!(added.map(|c| c.element), Some("rng"));
/// # Ok::<(), pciplan::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct DeviceChange {
    /// What happened.
    pub change: Change,
    /// XML element name.
    pub element: &'static str,
    /// The device as libvirt names it (from the new plan when it is there).
    pub name: String,
    /// Position in the old plan.
    pub old: Option<usize>,
    /// Position in the new plan.
    pub new: Option<usize>,
    /// Old PCI address.
    #[cfg_attr(
        feature = "serde",
        serde(serialize_with = "crate::serde_text::opt_addr")
    )]
    pub old_address: Option<PciAddress>,
    /// New PCI address.
    #[cfg_attr(
        feature = "serde",
        serde(serialize_with = "crate::serde_text::opt_addr")
    )]
    pub new_address: Option<PciAddress>,
    /// The identity key that matched the two sides (`alias`, `mac`, …,
    /// `order`), when matched.
    pub matched_by: Option<&'static str>,
}

/// A controller that appeared, disappeared or changed.
///
/// ```
/// use pciplan::{Capabilities, Device, DeviceKind, Machine, Plan, VirtioModel};
/// let mut old = Plan::new(Machine::pc(), Capabilities::qemu_8_0_x86_64());
/// old.assign()?;
/// let mut new = old.clone();
/// new.hotplug_add(Device::new(DeviceKind::Rng(VirtioModel::Default)))?;
/// let d = pciplan::diff::diff_plans(&old, &new);
/// assert!(d.controllers.is_empty()); // a live attach adds no controller
/// # Ok::<(), pciplan::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct ControllerChange {
    /// What happened (`Moved` means changed: model, target or address).
    pub change: Change,
    /// Controller type (`pci`, `usb`, …).
    pub controller_type: &'static str,
    /// Its index.
    pub index: Option<u32>,
    /// What differs, in words (for a changed controller).
    pub what: Vec<String>,
}

/// The diff of two plans.
///
/// ```
/// use pciplan::{Capabilities, Device, DeviceKind, Machine, Plan, VirtioModel};
/// let mut old = Plan::new(Machine::pc(), Capabilities::qemu_8_0_x86_64());
/// old.assign()?;
/// let mut new = old.clone();
/// new.hotplug_add(Device::new(DeviceKind::Rng(VirtioModel::Default)))?;
/// let d = pciplan::diff::diff_plans(&old, &new);
/// assert_eq!(d.devices.len(), new.devices().len());
/// # Ok::<(), pciplan::Error>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct PlanDiff {
    /// Every device of either plan, old plan order first, then the added.
    pub devices: Vec<DeviceChange>,
    /// Controllers added, removed or changed.
    pub controllers: Vec<ControllerChange>,
}

impl PlanDiff {
    /// Nothing a guest sees changed: no device moved, appeared or
    /// disappeared, and no controller changed.
    ///
    /// ```
    /// use pciplan::{Capabilities, Machine, Plan};
    /// let mut p = Plan::new(Machine::pc(), Capabilities::qemu_8_0_x86_64());
    /// p.assign()?;
    /// assert!(pciplan::diff::diff_plans(&p, &p).abi_unchanged());
    /// # Ok::<(), pciplan::Error>(())
    /// ```
    pub fn abi_unchanged(&self) -> bool {
        self.controllers.is_empty() && self.devices.iter().all(|d| d.change == Change::Unchanged)
    }

    /// How many devices had this change.
    ///
    /// ```
    /// let d = pciplan::diff::PlanDiff::default();
    /// assert_eq!(d.count(pciplan::diff::Change::Moved), 0);
    /// ```
    pub fn count(&self, change: Change) -> usize {
        self.devices.iter().filter(|d| d.change == change).count()
    }

    /// The diff as text: one line per device that is not unchanged, one
    /// per controller change, and a summary line.
    ///
    /// ```
    /// let d = pciplan::diff::PlanDiff::default();
    /// assert_eq!(d.render(), "guest ABI unchanged (0 devices)\n");
    /// ```
    pub fn render(&self) -> String {
        let mut out = String::new();
        let addr = |a: Option<PciAddress>| a.map_or_else(|| "-".to_string(), |a| a.to_string());
        for d in &self.devices {
            let line = match d.change {
                Change::Unchanged => continue,
                Change::Moved => format!(
                    "moved    {}: {} -> {}",
                    d.name,
                    addr(d.old_address),
                    addr(d.new_address)
                ),
                Change::Added => format!("added    {}: {}", d.name, addr(d.new_address)),
                Change::Removed => format!("removed  {}: {}", d.name, addr(d.old_address)),
            };
            out.push_str(&line);
            out.push('\n');
        }
        for c in &self.controllers {
            let index = c
                .index
                .map_or_else(String::new, |i| format!(" index='{i}'"));
            let verb = match c.change {
                Change::Added => "added",
                Change::Removed => "removed",
                Change::Moved | Change::Unchanged => "changed",
            };
            out.push_str(&format!(
                "controller {verb} type='{}'{index}",
                c.controller_type
            ));
            if !c.what.is_empty() {
                out.push_str(&format!(": {}", c.what.join(", ")));
            }
            out.push('\n');
        }
        if self.abi_unchanged() {
            out.push_str(&format!(
                "guest ABI unchanged ({} devices)\n",
                self.devices.len()
            ));
        } else {
            out.push_str(&format!(
                "guest ABI changed: {} moved, {} added, {} removed, {} unchanged, {} controller changes\n",
                self.count(Change::Moved),
                self.count(Change::Added),
                self.count(Change::Removed),
                self.count(Change::Unchanged),
                self.controllers.len()
            ));
        }
        out
    }
}

/// [`diff`] with the identities the model knows ([`Identity::of_device`]).
///
/// ```
/// use pciplan::{Capabilities, Machine, Plan};
/// let mut p = Plan::new(Machine::q35(), Capabilities::qemu_8_0_x86_64());
/// p.assign()?;
/// assert_eq!(pciplan::diff::diff_plans(&p, &p).count(pciplan::diff::Change::Unchanged), p.devices().len());
/// # Ok::<(), pciplan::Error>(())
/// ```
pub fn diff_plans(old: &Plan, new: &Plan) -> PlanDiff {
    let ids = |p: &Plan| -> Vec<Identity> { p.devices().iter().map(Identity::of_device).collect() };
    diff(old, &ids(old), new, &ids(new))
}

/// The diff of two assigned plans, with one [`Identity`] per device of
/// each (missing identities count as empty).
///
/// ```
/// use pciplan::{Capabilities, Machine, Plan};
/// use pciplan::diff::{diff, Identity};
/// let mut p = Plan::new(Machine::pc(), Capabilities::qemu_8_0_x86_64());
/// p.assign()?;
/// let ids = vec![Identity::default(); p.devices().len()];
/// assert!(diff(&p, &ids, &p, &ids).abi_unchanged());
/// # Ok::<(), pciplan::Error>(())
/// ```
pub fn diff(old: &Plan, old_ids: &[Identity], new: &Plan, new_ids: &[Identity]) -> PlanDiff {
    let empty = Identity::default();
    let id = |ids: &[Identity], i: usize| ids.get(i).cloned().unwrap_or_else(|| empty.clone());
    let old_keys: Vec<Vec<(&'static str, String)>> = (0..old.devices().len())
        .map(|i| id(old_ids, i).keys())
        .collect();
    let new_keys: Vec<Vec<(&'static str, String)>> = (0..new.devices().len())
        .map(|i| id(new_ids, i).keys())
        .collect();
    // New devices by (element, key name, value): the first one wins.
    let mut by_key: HashMap<(&'static str, &'static str, &str), usize> = HashMap::new();
    for (j, keys) in new_keys.iter().enumerate() {
        let Some(d) = new.devices().get(j) else {
            continue;
        };
        for (k, v) in keys {
            by_key.entry((d.kind.element(), k, v.as_str())).or_insert(j);
        }
    }
    let mut partner: Vec<Option<(usize, &'static str)>> = vec![None; old.devices().len()];
    let mut taken = vec![false; new.devices().len()];
    for (i, keys) in old_keys.iter().enumerate() {
        let Some(d) = old.devices().get(i) else {
            continue;
        };
        for (k, v) in keys {
            if let Some(&j) = by_key.get(&(d.kind.element(), k, v.as_str()))
                && taken.get(j) == Some(&false)
                && compatible_keys(&old_keys, i, &new_keys, j)
            {
                if let Some(t) = taken.get_mut(j) {
                    *t = true;
                }
                if let Some(p) = partner.get_mut(i) {
                    *p = Some((j, *k));
                }
                break;
            }
        }
    }
    // The rest: by element name, in order, between devices without a
    // conflicting key.
    let mut rest_new: HashMap<&'static str, Vec<usize>> = HashMap::new();
    for (j, d) in new.devices().iter().enumerate().rev() {
        if taken.get(j) == Some(&false) {
            rest_new.entry(d.kind.element()).or_default().push(j);
        }
    }
    for (i, d) in old.devices().iter().enumerate() {
        if partner.get(i).is_some_and(Option::is_some) {
            continue;
        }
        let Some(cands) = rest_new.get_mut(d.kind.element()) else {
            continue;
        };
        let Some(pos) = cands
            .iter()
            .rposition(|&j| compatible_keys(&old_keys, i, &new_keys, j))
        else {
            continue;
        };
        let j = cands.remove(pos);
        if let Some(t) = taken.get_mut(j) {
            *t = true;
        }
        if let Some(p) = partner.get_mut(i) {
            *p = Some((j, "order"));
        }
    }
    let mut out = PlanDiff::default();
    for (i, d) in old.devices().iter().enumerate() {
        let pair = partner.get(i).copied().flatten();
        let nd = pair.and_then(|(j, _)| new.devices().get(j));
        let old_address = d.address.present();
        let new_address = nd.and_then(|n| n.address.present());
        let change = match nd {
            None => Change::Removed,
            Some(_) if old_address.map(|a| a.key()) == new_address.map(|a| a.key()) => {
                Change::Unchanged
            }
            Some(_) => Change::Moved,
        };
        out.devices.push(DeviceChange {
            change,
            element: d.kind.element(),
            name: nd.unwrap_or(d).to_string(),
            old: Some(i),
            new: pair.map(|(j, _)| j),
            old_address,
            new_address,
            matched_by: pair.map(|(_, k)| k),
        });
        match nd {
            None if d.kind.controller().is_some() => {
                out.controllers
                    .push(controller_change(d, Change::Removed, Vec::new()));
            }
            Some(n) if d.kind.controller().is_some() => {
                let what = controller_differences(d, n);
                if !what.is_empty() {
                    out.controllers
                        .push(controller_change(n, Change::Moved, what));
                }
            }
            _ => {}
        }
    }
    for (j, d) in new.devices().iter().enumerate() {
        if taken.get(j) == Some(&true) {
            continue;
        }
        out.devices.push(DeviceChange {
            change: Change::Added,
            element: d.kind.element(),
            name: d.to_string(),
            old: None,
            new: Some(j),
            old_address: None,
            new_address: d.address.present(),
            matched_by: None,
        });
        if d.kind.controller().is_some() {
            out.controllers
                .push(controller_change(d, Change::Added, Vec::new()));
        }
    }
    out
}

/// Two devices may be paired when no key that both have disagrees.
fn compatible_keys(
    old: &[Vec<(&'static str, String)>],
    i: usize,
    new: &[Vec<(&'static str, String)>],
    j: usize,
) -> bool {
    let (Some(a), Some(b)) = (old.get(i), new.get(j)) else {
        return true;
    };
    a.iter()
        .all(|(k, v)| b.iter().all(|(k2, v2)| k != k2 || v == v2))
}

fn controller_change(d: &Device, change: Change, what: Vec<String>) -> ControllerChange {
    let c = d.kind.controller();
    ControllerChange {
        change,
        controller_type: c.map_or("", |c| c.kind.type_name()),
        index: c.and_then(|c| c.index),
        what,
    }
}

/// What differs between two matched controllers.
fn controller_differences(old: &Device, new: &Device) -> Vec<String> {
    let mut what = Vec::new();
    let (Some(a), Some(b)) = (old.kind.controller(), new.kind.controller()) else {
        return what;
    };
    if a.kind.type_name() != b.kind.type_name() {
        what.push(format!(
            "type {} -> {}",
            a.kind.type_name(),
            b.kind.type_name()
        ));
    }
    match (&a.kind, &b.kind) {
        (ControllerKind::Pci(p), ControllerKind::Pci(q)) => {
            if p.model != q.model {
                let m = |x: Option<crate::ControllerModel>| x.map_or("none", |m| m.as_str());
                what.push(format!("model {} -> {}", m(p.model), m(q.model)));
            }
            if p.model_name != q.model_name {
                what.push(format!(
                    "model name {} -> {}",
                    p.model_name.as_deref().unwrap_or("none"),
                    q.model_name.as_deref().unwrap_or("none")
                ));
            }
            if p.target != q.target {
                what.push("target".to_string());
            }
        }
        (x, y) if x != y => what.push("model".to_string()),
        _ => {}
    }
    let key = |d: &Device| d.address.present().map(|a| a.key());
    if key(old) != key(new) {
        let s = |d: &Device| {
            d.address
                .present()
                .map_or_else(|| "-".to_string(), |a| a.to_string())
        };
        what.push(format!("address {} -> {}", s(old), s(new)));
    }
    what
}
