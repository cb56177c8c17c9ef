//! Export of an assigned plan as data: one record per device (the
//! versioned JSON schema of `docs/json-schema.md`), the controller tree,
//! and a Graphviz picture of the tree.
//!
//! Everything here is linear in the number of devices: the connect flags
//! are computed with one flag context, and origins and parents come from
//! maps built once.
//!
//! ```
//! use pciplan::{Capabilities, Machine, Plan};
//! let before = Plan::new(Machine::q35(), Capabilities::qemu_8_0_x86_64());
//! let mut after = before.clone();
//! after.assign()?;
//! let records = pciplan::export::records(&before, &after, &[]);
//! assert_eq!(records.len(), after.devices().len());
//! assert_eq!(records[0].schema_version, pciplan::export::SCHEMA_VERSION);
//! # Ok::<(), pciplan::Error>(())
//! ```

mod json;

use std::collections::HashMap;
use std::fmt::Write as _;

use crate::address::PciAddress;
use crate::controller::ControllerModel;
use crate::device::{ControllerKind, connect_flags};
use crate::diff::Identity;
use crate::explain::{ChainLink, flag_names};
use crate::flags::ConnectFlags;
use crate::plan::Plan;

/// The version of the JSON schema (`docs/json-schema.md`). Version 1 keeps
/// every field of the unversioned records (`element`, `ordinal`,
/// `address`, `connect_flags`, `origin`) with their old meaning.
///
/// ```
/// assert_eq!(pciplan::export::SCHEMA_VERSION, 1);
/// ```
pub const SCHEMA_VERSION: u32 = 1;

/// A device named by element and 0-based ordinal.
///
/// ```
/// let r = pciplan::export::DeviceRef { element: "interface", ordinal: 0 };
/// assert_eq!(r.element, "interface");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct DeviceRef {
    /// XML element name.
    pub element: &'static str,
    /// 0-based position among the plan's devices of that element.
    pub ordinal: usize,
}

/// One device of the export (schema version [`SCHEMA_VERSION`]).
///
/// ```
/// use pciplan::{Capabilities, Machine, Plan};
/// let before = Plan::new(Machine::q35(), Capabilities::qemu_8_0_x86_64());
/// let mut after = before.clone();
/// after.assign()?;
/// let r = pciplan::export::records(&before, &after, &[]);
/// assert!(r.iter().all(|d| d.connect_flags.starts_with("0x")));
/// # Ok::<(), pciplan::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct DeviceRecord {
    /// Always [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// XML element name (`disk`, `controller`, …).
    pub element: &'static str,
    /// 0-based position among devices with the same element name.
    pub ordinal: usize,
    /// The PCI address in libvirt's text form, or null.
    #[cfg_attr(
        feature = "serde",
        serde(serialize_with = "crate::serde_text::opt_addr")
    )]
    pub address: Option<PciAddress>,
    /// The connect flags, in hex (`0x21`).
    pub connect_flags: String,
    /// The connect flags by name.
    pub flag_names: Vec<&'static str>,
    /// `given`, `assigned` or `added`.
    pub origin: &'static str,
    /// For a PCI controller pciplan added: the device it makes room for.
    pub added_for: Option<DeviceRef>,
    /// The device as libvirt names it in messages.
    pub name: String,
    /// Identity keys (alias, MAC, target, serial, host source, controller).
    pub identity: Identity,
    /// Controllers from the device's bus up to the root.
    pub parent_chain: Vec<ChainLink>,
}

/// The export records of an assigned plan. `before` is the plan as given
/// (its devices' [`crate::Device::origin`] tokens tell given addresses
/// from assigned ones); `ids` gives one identity per device of `after`
/// (missing entries use [`Identity::of_device`]).
///
/// ```
/// use pciplan::{Capabilities, Machine, Plan};
/// let before = Plan::new(Machine::pc(), Capabilities::qemu_8_0_x86_64());
/// let mut after = before.clone();
/// after.assign()?;
/// let r = pciplan::export::records(&before, &after, &[]);
/// assert!(r.iter().all(|d| d.origin == "added"));
/// # Ok::<(), pciplan::Error>(())
/// ```
pub fn records(before: &Plan, after: &Plan, ids: &[Identity]) -> Vec<DeviceRecord> {
    records_given(&Given::of(before), after, ids)
}

/// The addresses a plan had before assignment, by [`crate::Device::origin`]
/// token: all [`records_given`] needs of it, without keeping the plan.
///
/// ```
/// use pciplan::{Capabilities, Machine, Plan};
/// let mut plan = Plan::new(Machine::pc(), Capabilities::qemu_8_0_x86_64());
/// let given = pciplan::export::Given::of(&plan);
/// plan.assign()?;
/// assert!(pciplan::export::records_given(&given, &plan, &[]).iter().all(|d| d.origin == "added"));
/// # Ok::<(), pciplan::Error>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Given(Vec<Option<PciAddress>>);

impl Given {
    /// The present addresses of `plan`'s devices that have an origin.
    pub fn of(plan: &Plan) -> Given {
        let mut by_origin: Vec<Option<PciAddress>> = Vec::new();
        for d in plan.devices() {
            if let (Some(o), Some(a)) = (d.origin, d.address.present()) {
                // Origins index the front end's elements: dense, below the
                // device count.
                if o >= by_origin.len() {
                    by_origin.resize(o.saturating_add(1).max(plan.devices().len()), None);
                }
                if let Some(slot) = by_origin.get_mut(o) {
                    *slot = Some(a);
                }
            }
        }
        Given(by_origin)
    }

    fn get(&self, origin: usize) -> Option<PciAddress> {
        self.0.get(origin).copied().flatten()
    }
}

/// [`records`] with the addresses before assignment given as [`Given`].
pub fn records_given(given: &Given, after: &Plan, ids: &[Identity]) -> Vec<DeviceRecord> {
    let mut out = Vec::with_capacity(after.devices().len());
    let _ = try_for_each_record(given, after, ids, |r| {
        out.push(r);
        Ok::<(), std::convert::Infallible>(())
    });
    out
}

/// [`records_given`] one record at a time, in the same order: `f` takes
/// each record as it is made, and the first error it returns stops the
/// walk. A caller that writes records out need not hold them all.
///
/// ```
/// use pciplan::{Capabilities, Machine, Plan, export::Given};
/// let mut plan = Plan::new(Machine::q35(), Capabilities::qemu_8_0_x86_64());
/// let given = Given::of(&plan);
/// plan.assign()?;
/// let mut lines = 0;
/// pciplan::export::try_for_each_record(&given, &plan, &[], |r| {
///     lines += 1;
///     Ok::<_, std::fmt::Error>(())
/// })?;
/// assert_eq!(lines, plan.devices().len());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// The first error of `f`.
pub fn try_for_each_record<E>(
    given: &Given,
    after: &Plan,
    ids: &[Identity],
    mut f: impl FnMut(DeviceRecord) -> Result<(), E>,
) -> Result<(), E> {
    let ctx = after.flag_context();
    let parents = Parents::of(after);
    let mut chains: Vec<Option<Vec<ChainLink>>> = vec![None; 256];
    let served = served_devices(after);
    // Devices seen so far per element name (one kind per name).
    let mut seen = [0usize; 32];
    let mut ordinals = Vec::with_capacity(after.devices().len());
    for d in after.devices() {
        let n = seen
            .get_mut(usize::from(d.kind.iteration_rank()))
            .map_or(0, |n| std::mem::replace(n, n.saturating_add(1)));
        ordinals.push(n);
    }
    for (i, d) in after.devices().iter().enumerate() {
        let address = d.address.present();
        let origin = match d.origin {
            None => "added",
            Some(o) if address.is_some_and(|a| given.get(o).map(|g| g.key()) == Some(a.key())) => {
                "given"
            }
            Some(_) => "assigned",
        };
        let flags = connect_flags(&d.kind, &d.address, &ctx);
        let added_for = served.get(&i).and_then(|&j| {
            Some(DeviceRef {
                element: after.devices().get(j)?.kind.element(),
                ordinal: ordinals.get(j).copied()?,
            })
        });
        f(DeviceRecord {
            schema_version: SCHEMA_VERSION,
            element: d.kind.element(),
            ordinal: ordinals.get(i).copied().unwrap_or(0),
            address,
            connect_flags: flags.hex(),
            flag_names: flag_names(flags),
            origin,
            added_for: if d.origin.is_none() { added_for } else { None },
            name: d.name(),
            identity: ids
                .get(i)
                .cloned()
                .unwrap_or_else(|| Identity::of_device(d)),
            parent_chain: address
                .map(|a| {
                    // One walk per bus, not per device.
                    let bus = usize::from(a.bus());
                    match chains.get(bus) {
                        Some(Some(c)) => c.clone(),
                        _ => {
                            let c = parents.chain(u32::from(a.bus()));
                            if let Some(slot) = chains.get_mut(bus) {
                                *slot = Some(c.clone());
                            }
                            c
                        }
                    }
                })
                .unwrap_or_default(),
        })?;
    }
    Ok(())
}

/// The PCI controllers of a plan by index, for chains to the root.
struct Parents {
    by_index: HashMap<u32, (ControllerModel, Option<PciAddress>)>,
}

impl Parents {
    fn of(plan: &Plan) -> Parents {
        let by_index = plan
            .devices()
            .iter()
            .filter_map(|d| {
                let c = d.kind.controller()?;
                Some((c.idx(), (c.pci_model()?, d.address.present())))
            })
            .collect();
        Parents { by_index }
    }

    fn chain(&self, bus: u32) -> Vec<ChainLink> {
        let mut out = Vec::new();
        let mut cur = bus;
        while let Some(&(model, address)) = self.by_index.get(&cur) {
            out.push(ChainLink {
                index: cur,
                model,
                address,
            });
            match address {
                Some(a) if u32::from(a.bus()) != cur && out.len() <= 256 => {
                    cur = u32::from(a.bus());
                }
                _ => break,
            }
        }
        out
    }
}

/// For each PCI controller pciplan added (origin `None`): the device it
/// makes room for — the first device on its bus, else (through the first
/// controller on its bus) the device that one serves. Linear.
pub(crate) fn served_devices(plan: &Plan) -> HashMap<usize, usize> {
    let mut first_device: HashMap<u32, usize> = HashMap::new();
    let mut first_controller: HashMap<u32, (usize, u32)> = HashMap::new();
    for (j, d) in plan.devices().iter().enumerate() {
        let Some(a) = d.address.present() else {
            continue;
        };
        let bus = u32::from(a.bus());
        match d.kind.controller().filter(|c| c.pci_model().is_some()) {
            Some(c) => {
                first_controller.entry(bus).or_insert((j, c.idx()));
            }
            None => {
                first_device.entry(bus).or_insert(j);
            }
        }
    }
    let mut out = HashMap::new();
    for (i, d) in plan.devices().iter().enumerate() {
        if d.origin.is_some() {
            continue;
        }
        let Some(mut index) = d
            .kind
            .controller()
            .filter(|c| c.pci_model().is_some_and(|m| !m.is_root()))
            .map(|c| c.idx())
        else {
            continue;
        };
        for _ in 0..256 {
            if let Some(&j) = first_device.get(&index) {
                out.insert(i, j);
                break;
            }
            let Some(&(j, next)) = first_controller.get(&index) else {
                break;
            };
            if plan.devices().get(j).is_some_and(|c| c.origin.is_some()) {
                out.insert(i, j);
                break;
            }
            index = next;
        }
    }
    out
}

/// One slot of a bus in the tree export.
///
/// ```
/// use pciplan::{Capabilities, Machine, Plan};
/// let mut plan = Plan::new(Machine::q35(), Capabilities::qemu_8_0_x86_64());
/// plan.assign()?;
/// let t = pciplan::export::tree(&plan);
/// assert!(t.buses[0].slots.iter().any(|s| s.address.slot().as_u8() == 0x1f));
/// # Ok::<(), pciplan::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct TreeSlot {
    /// The address.
    #[cfg_attr(feature = "serde", serde(serialize_with = "crate::serde_text::addr"))]
    pub address: PciAddress,
    /// The device there.
    pub device: DeviceRef,
    /// The device as libvirt names it.
    pub name: String,
    /// The bus it provides, for a PCI controller.
    pub provides_bus: Option<u32>,
}

/// One bus of the tree export.
///
/// ```
/// use pciplan::{Capabilities, Machine, Plan};
/// let mut plan = Plan::new(Machine::q35(), Capabilities::qemu_8_0_x86_64());
/// plan.assign()?;
/// let t = pciplan::export::tree(&plan);
/// assert_eq!(t.buses[0].parent, None);
/// # Ok::<(), pciplan::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct TreeBus {
    /// Bus number (the controller index).
    pub index: u32,
    /// The controller model.
    pub model: &'static str,
    /// `<model name>`.
    pub model_name: Option<String>,
    /// The controller's own address (`None` for a root).
    #[cfg_attr(
        feature = "serde",
        serde(serialize_with = "crate::serde_text::opt_addr")
    )]
    pub address: Option<PciAddress>,
    /// The bus above (`None` for a root).
    pub parent: Option<u32>,
    /// What the bus accepts (flag names).
    pub accepts: Vec<&'static str>,
    /// Whether it takes hot-plugged devices.
    pub hotpluggable: bool,
    /// Occupied slots, by address.
    pub slots: Vec<TreeSlot>,
}

/// The controller tree export (schema version [`SCHEMA_VERSION`]).
///
/// ```
/// use pciplan::{Capabilities, Machine, Plan};
/// let mut plan = Plan::new(Machine::q35(), Capabilities::qemu_8_0_x86_64());
/// plan.assign()?;
/// let t = pciplan::export::tree(&plan);
/// assert_eq!(t.schema_version, pciplan::export::SCHEMA_VERSION);
/// # Ok::<(), pciplan::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Tree {
    /// Always [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// Buses by index.
    pub buses: Vec<TreeBus>,
}

/// The controller tree of an assigned plan, with every device on its bus.
///
/// ```
/// use pciplan::{Capabilities, Machine, Plan};
/// let mut plan = Plan::new(Machine::q35(), Capabilities::qemu_8_0_x86_64());
/// plan.assign()?;
/// let t = pciplan::export::tree(&plan);
/// assert_eq!(t.buses[0].model, "pcie-root");
/// # Ok::<(), pciplan::Error>(())
/// ```
pub fn tree(plan: &Plan) -> Tree {
    let mut buses: Vec<TreeBus> = Vec::new();
    let mut pos: HashMap<u32, usize> = HashMap::new();
    for d in plan.devices() {
        let Some(c) = d.kind.controller() else {
            continue;
        };
        let ControllerKind::Pci(p) = &c.kind else {
            continue;
        };
        let Some(model) = p.model else { continue };
        let hot = p.target.hotplug != Some(false) && model.hotpluggable();
        let mut accepts = model.accepts();
        if hot {
            accepts |= ConnectFlags::HOTPLUGGABLE;
        }
        pos.insert(c.idx(), buses.len());
        buses.push(TreeBus {
            index: c.idx(),
            model: model.as_str(),
            model_name: p.model_name.as_deref().map(str::to_string),
            address: d.address.present(),
            parent: d.address.present().map(|a| u32::from(a.bus())),
            accepts: flag_names(accepts),
            hotpluggable: hot,
            slots: Vec::new(),
        });
    }
    let mut seen: HashMap<&'static str, usize> = HashMap::new();
    for d in plan.devices() {
        let n = seen.entry(d.kind.element()).or_insert(0);
        let ordinal = *n;
        *n = n.saturating_add(1);
        let Some(a) = d.address.present() else {
            continue;
        };
        let Some(bus) = pos.get(&u32::from(a.bus())).and_then(|&p| buses.get_mut(p)) else {
            continue;
        };
        bus.slots.push(TreeSlot {
            address: a,
            device: DeviceRef {
                element: d.kind.element(),
                ordinal,
            },
            name: d.name(),
            provides_bus: d
                .kind
                .controller()
                .filter(|c| c.pci_model().is_some())
                .map(|c| c.idx()),
        });
    }
    for b in &mut buses {
        b.slots.sort_by_key(|s| s.address.key());
    }
    buses.sort_by_key(|b| b.index);
    Tree {
        schema_version: SCHEMA_VERSION,
        buses,
    }
}

/// The controller tree as a Graphviz `digraph`: controllers as boxes
/// labelled with their bus number, model and what the bus accepts;
/// devices as leaves; edges labelled with the slot.
///
/// ```
/// use pciplan::{Capabilities, Machine, Plan};
/// let mut plan = Plan::new(Machine::q35(), Capabilities::qemu_8_0_x86_64());
/// plan.assign()?;
/// let dot = pciplan::export::tree_dot(&plan);
/// assert!(dot.starts_with("digraph pciplan {"));
/// assert!(dot.contains("bus0 -> bus1"));
/// # Ok::<(), pciplan::Error>(())
/// ```
pub fn tree_dot(plan: &Plan) -> String {
    let t = tree(plan);
    let mut out = String::from(
        "digraph pciplan {\n  rankdir=LR;\n  node [fontname=\"Helvetica\", fontsize=10];\n  edge [fontname=\"Helvetica\", fontsize=9];\n",
    );
    for b in &t.buses {
        let accepts = bus_words(b);
        let _ = writeln!(
            out,
            "  bus{} [shape=box, style=\"rounded,filled\", fillcolor=\"{}\", label=\"bus {:02x}: {}\\n{}\"];",
            b.index,
            if b.hotpluggable { "#e3f2fd" } else { "#eeeeee" },
            b.index,
            escape(b.model),
            escape(&accepts)
        );
    }
    let mut leaf = 0usize;
    for b in &t.buses {
        for s in &b.slots {
            let slot = format!(
                "{:02x}.{}",
                s.address.slot().as_u8(),
                s.address.function().as_u8()
            );
            match s.provides_bus {
                Some(child) if child != b.index => {
                    let _ = writeln!(out, "  bus{} -> bus{child} [label=\"{slot}\"];", b.index);
                }
                _ => {
                    let _ = writeln!(
                        out,
                        "  dev{leaf} [shape=ellipse, label=\"{}\\n{}\"];\n  bus{} -> dev{leaf} [label=\"{slot}\"];",
                        escape(&s.name),
                        s.address,
                        b.index
                    );
                    leaf = leaf.saturating_add(1);
                }
            }
        }
    }
    out.push_str("}\n");
    out
}

/// What a bus accepts, in words.
fn bus_words(b: &TreeBus) -> String {
    let mut words: Vec<&str> = b
        .accepts
        .iter()
        .filter(|n| **n != "HOTPLUGGABLE" && **n != "AUTOASSIGN")
        .copied()
        .collect();
    if !b.accepts.contains(&"AUTOASSIGN") {
        words.push("explicit-only");
    }
    if b.hotpluggable {
        words.push("hot-pluggable");
    }
    format!("accepts: {}", words.join(" "))
}

/// Escapes a string for a double-quoted DOT label.
fn escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}
