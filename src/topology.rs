//! The PCI controller tree, on petgraph (spec §1.4–1.5).
//!
//! Nodes are PCI controllers; an edge goes from the controller that provides
//! a bus to each controller plugged into that bus. The tree rules are enforced
//! on insertion: one root at index 0 (pSeries adds further PCI host bridges,
//! each a root of its own), unique indexes, every other controller on an
//! existing bus that accepts it, no cycles.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use petgraph::Direction;
use petgraph::stable_graph::{NodeIndex, StableDiGraph};
use thiserror::Error as ThisError;

use crate::address::PciAddress;
use crate::controller::{ControllerModel, PciTarget};
use crate::device::{ControllerKind, DeviceKind};
use crate::error::{AllocError, Error};
use crate::flags::{CheckMode, check_compatible};
use crate::plan::Plan;

/// A controller tree that breaks the tree rules.
#[derive(Clone, Debug, PartialEq, Eq, ThisError)]
#[non_exhaustive]
pub enum TopologyError {
    /// Two controllers share an index.
    #[error("Multiple 'pci' controllers with index '{index}'")]
    DuplicateIndex {
        /// The index.
        index: u32,
    },
    /// An index above 255 (a bus number has 8 bits).
    #[error("PCI controller index {index} too high, maximum is 255")]
    IndexTooHigh {
        /// The index.
        index: u32,
    },
    /// The root is missing or not at index 0.
    #[error("the PCI controller tree needs a pci-root or pcie-root at index 0")]
    NoRoot,
    /// A controller plugs into a bus no controller provides.
    #[error("PCI controller index {index} sits on bus {bus}, which no controller provides")]
    NoParent {
        /// The controller's index.
        index: u32,
        /// The bus it names.
        bus: u32,
    },
    /// A non-root controller without an address.
    #[error("PCI controller index {index} has no PCI address")]
    NoAddress {
        /// The controller's index.
        index: u32,
    },
    /// A controller would sit below itself (directly or through others).
    #[error(
        "PCI controller index {index} would be its own ancestor (its bus chain never reaches the root)"
    )]
    Cycle {
        /// The controller's index.
        index: u32,
    },
    /// The parent bus does not accept the controller.
    #[error("{0}")]
    Incompatible(AllocError),
}

/// One controller in the tree.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TreeController {
    /// Controller index (its bus number).
    pub index: u32,
    /// Model.
    pub model: ControllerModel,
    /// `<model name>`.
    pub model_name: Option<String>,
    /// `<target>`.
    pub target: PciTarget,
    /// Its own address (`None` for the root).
    pub address: Option<PciAddress>,
}

/// A handle to a controller of a [`Topology`].
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ControllerId(NodeIndex);

/// The controller tree.
///
/// ```
/// use pciplan::{ControllerModel, PciAddress, Topology};
/// use pciplan::topology::TreeController;
/// let mut t = Topology::new(ControllerModel::PcieRoot)?;
/// let rp = t.add_controller(TreeController {
///     index: 1, model: ControllerModel::PcieRootPort, model_name: None,
///     target: Default::default(), address: Some(PciAddress::from_parts(0, 1, 0)?),
/// })?;
/// assert_eq!(t.path_to_root(rp).len(), 2);
/// # Ok::<(), pciplan::Error>(())
/// ```
#[derive(Clone, Debug, Default)]
pub struct Topology {
    graph: StableDiGraph<TreeController, ()>,
    by_index: BTreeMap<u32, NodeIndex>,
}

impl Topology {
    /// A tree with just the root controller at index 0.
    ///
    /// # Errors
    /// [`TopologyError::NoRoot`] when `root` is not pci-root or pcie-root.
    pub fn new(root: ControllerModel) -> Result<Topology, Error> {
        if !root.is_root() {
            return Err(TopologyError::NoRoot.into());
        }
        let mut t = Topology::default();
        let n = t.graph.add_node(TreeController {
            index: 0,
            model: root,
            model_name: None,
            target: PciTarget::default(),
            address: None,
        });
        t.by_index.insert(0, n);
        Ok(t)
    }

    /// Adds another root bus: a pSeries PCI host bridge (a `pci-root` with
    /// an index above 0), the root of its own tree.
    ///
    /// ```
    /// use pciplan::{ControllerModel, Topology};
    /// use pciplan::topology::TreeController;
    /// let mut t = Topology::new(ControllerModel::PciRoot)?;
    /// t.add_host_bridge(TreeController {
    ///     index: 1, model: ControllerModel::PciRoot, model_name: None,
    ///     target: Default::default(), address: None,
    /// })?;
    /// assert_eq!(t.len(), 2);
    /// # Ok::<(), pciplan::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`TopologyError`] when the index is above 255 or taken, or the
    /// controller is not a pci-root.
    pub fn add_host_bridge(&mut self, c: TreeController) -> Result<ControllerId, Error> {
        if c.index > 255 {
            return Err(TopologyError::IndexTooHigh { index: c.index }.into());
        }
        if self.by_index.contains_key(&c.index) {
            return Err(TopologyError::DuplicateIndex { index: c.index }.into());
        }
        if c.model != ControllerModel::PciRoot {
            return Err(TopologyError::NoRoot.into());
        }
        let index = c.index;
        let n = self.graph.add_node(c);
        self.by_index.insert(index, n);
        Ok(ControllerId(n))
    }

    /// Adds a controller below the controller whose bus its address names.
    ///
    /// # Errors
    /// [`TopologyError`] when the index is above 255 or taken, the
    /// controller has no address, its bus does not exist or does not accept
    /// it, or it would sit on its own bus.
    pub fn add_controller(&mut self, c: TreeController) -> Result<ControllerId, Error> {
        if c.index > 255 {
            return Err(TopologyError::IndexTooHigh { index: c.index }.into());
        }
        if self.by_index.contains_key(&c.index) {
            return Err(TopologyError::DuplicateIndex { index: c.index }.into());
        }
        if c.model.is_root() {
            return Err(TopologyError::NoRoot.into());
        }
        let Some(addr) = c.address else {
            return Err(TopologyError::NoAddress { index: c.index }.into());
        };
        let bus = u32::from(addr.bus());
        if bus == c.index {
            return Err(TopologyError::Cycle { index: c.index }.into());
        }
        let Some(&parent) = self.by_index.get(&bus) else {
            return Err(TopologyError::NoParent {
                index: c.index,
                bus,
            }
            .into());
        };
        let parent_model = self.graph.node_weight(parent).map(|p| p.model);
        if let Some(pm) = parent_model {
            check_compatible(
                pm.accepts(),
                c.model.connect_flags(),
                addr,
                CheckMode::Explicit,
            )
            .map_err(TopologyError::Incompatible)?;
        }
        let index = c.index;
        let n = self.graph.add_node(c);
        self.graph.add_edge(parent, n, ());
        self.by_index.insert(index, n);
        Ok(ControllerId(n))
    }

    /// Builds the tree of a plan's PCI controllers.
    ///
    /// # Errors
    /// As [`Topology::add_controller`], or [`TopologyError::NoRoot`].
    pub fn from_plan(plan: &Plan) -> Result<Topology, Error> {
        let mut pending: Vec<TreeController> = plan
            .devices()
            .iter()
            .filter_map(|d| match &d.kind {
                DeviceKind::Controller(c) => match &c.kind {
                    ControllerKind::Pci(p) => p.model.map(|model| TreeController {
                        index: c.idx(),
                        model,
                        model_name: p.model_name.as_deref().map(str::to_string),
                        target: p.target.clone(),
                        address: d.address.present(),
                    }),
                    _ => None,
                },
                _ => None,
            })
            .collect();
        let root_pos = pending
            .iter()
            .position(|c| c.index == 0 && c.model.is_root())
            .ok_or(Error::Topology(TopologyError::NoRoot))?;
        let root = pending.remove(root_pos);
        let mut t = Topology::new(root.model)?;
        while !pending.is_empty() {
            let ready = pending.iter().position(|c| {
                c.address
                    .is_some_and(|a| t.by_index.contains_key(&u32::from(a.bus())))
                    || c.address.is_none()
                    || c.model.is_root()
            });
            let next = match ready {
                Some(i) => pending.remove(i),
                None => {
                    // What is left hangs off buses nobody provides, or off
                    // each other: a cycle that never reaches the root.
                    let first = pending.remove(0);
                    let bus = first.address.map(|a| u32::from(a.bus()));
                    if pending.iter().any(|c| Some(c.index) == bus) {
                        return Err(TopologyError::Cycle { index: first.index }.into());
                    }
                    first
                }
            };
            if next.model.is_root() && plan.profile().growth == crate::machine::Growth::HostBridges
            {
                t.add_host_bridge(next)?;
            } else {
                t.add_controller(next)?;
            }
        }
        Ok(t)
    }

    /// The controller with this index.
    pub fn find(&self, index: u32) -> Option<ControllerId> {
        self.by_index.get(&index).copied().map(ControllerId)
    }

    /// The controller's data.
    pub fn controller(&self, id: ControllerId) -> Option<&TreeController> {
        self.graph.node_weight(id.0)
    }

    /// Controllers plugged into this controller's bus, by slot and function.
    pub fn children(&self, id: ControllerId) -> Vec<ControllerId> {
        let mut v: Vec<ControllerId> = self
            .graph
            .neighbors_directed(id.0, Direction::Outgoing)
            .map(ControllerId)
            .collect();
        v.sort_by_key(|c| self.controller(*c).and_then(|x| x.address).map(|a| a.key()));
        v
    }

    /// The chain from this controller up to the root (inclusive).
    pub fn path_to_root(&self, id: ControllerId) -> Vec<ControllerId> {
        let mut out = vec![id];
        let mut cur = id.0;
        while let Some(p) = self
            .graph
            .neighbors_directed(cur, Direction::Incoming)
            .next()
        {
            out.push(ControllerId(p));
            cur = p;
            if out.len() > self.graph.node_count() {
                break;
            }
        }
        out
    }

    /// Number of controllers.
    pub fn len(&self) -> usize {
        self.graph.node_count()
    }

    /// True when the tree has no controller at all.
    pub fn is_empty(&self) -> bool {
        self.graph.node_count() == 0
    }

    /// The bus/device tree as text, like `lspci -t`: each bus with the
    /// devices and controllers in its slots.
    pub fn render_tree(&self, plan: &Plan) -> String {
        let mut out = String::new();
        for (&index, &n) in &self.by_index {
            let root = self
                .graph
                .neighbors_directed(n, Direction::Incoming)
                .next()
                .is_none();
            if root
                && (index == 0
                    || self
                        .controller(ControllerId(n))
                        .is_some_and(|c| c.model.is_root()))
            {
                self.render(plan, ControllerId(n), 0, &mut out);
            }
        }
        out
    }

    fn render(&self, plan: &Plan, id: ControllerId, depth: usize, out: &mut String) {
        let Some(c) = self.controller(id) else { return };
        let indent = "  ".repeat(depth);
        let name = c
            .model_name
            .as_deref()
            .map(|n| format!(" ({n})"))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "{indent}[bus {:02x}] {}{name} index {}",
            c.index, c.model, c.index
        );
        let mut entries: Vec<(PciAddress, Option<ControllerId>, String)> = Vec::new();
        for child in self.children(id) {
            if let Some(cc) = self.controller(child)
                && let Some(a) = cc.address
            {
                entries.push((a, Some(child), String::new()));
            }
        }
        for d in plan.devices() {
            if d.kind.controller().is_some_and(|x| x.pci_model().is_some()) {
                continue;
            }
            if let Some(a) = d.address.present()
                && u32::from(a.bus()) == c.index
            {
                entries.push((a, None, d.to_string()));
            }
        }
        entries.sort_by_key(|e| e.0.key());
        for (a, child, label) in entries {
            let slot = format!("{:02x}.{}", a.slot().as_u8(), a.function().as_u8());
            match child {
                Some(ch) => {
                    let _ = write!(out, "{indent}  {slot} ");
                    let mut sub = String::new();
                    self.render(plan, ch, depth + 1, &mut sub);
                    out.push_str(sub.trim_start());
                }
                None => {
                    let _ = writeln!(out, "{indent}  {slot} {label}");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tc(index: u32, model: ControllerModel, bus: u8, slot: u8) -> TreeController {
        TreeController {
            index,
            model,
            model_name: None,
            target: PciTarget::default(),
            address: Some(PciAddress::from_parts(bus, slot, 0).unwrap()),
        }
    }

    #[test]
    fn root_port_on_pci_root_is_rejected() {
        let mut t = Topology::new(ControllerModel::PciRoot).unwrap();
        let r = t.add_controller(tc(1, ControllerModel::PcieRootPort, 0, 1));
        assert!(matches!(
            r,
            Err(Error::Topology(TopologyError::Incompatible(_)))
        ));
    }

    #[test]
    fn controller_on_missing_bus_is_rejected() {
        let mut t = Topology::new(ControllerModel::PciRoot).unwrap();
        let r = t.add_controller(tc(2, ControllerModel::PciBridge, 1, 1));
        assert_eq!(
            r,
            Err(Error::Topology(TopologyError::NoParent {
                index: 2,
                bus: 1
            }))
        );
    }

    #[test]
    fn bridge_on_its_own_bus_is_a_cycle() {
        let mut t = Topology::new(ControllerModel::PciRoot).unwrap();
        let r = t.add_controller(tc(1, ControllerModel::PciBridge, 1, 1));
        assert_eq!(r, Err(Error::Topology(TopologyError::Cycle { index: 1 })));
    }

    #[test]
    fn index_above_255_is_rejected() {
        let mut t = Topology::new(ControllerModel::PciRoot).unwrap();
        let r = t.add_controller(tc(256, ControllerModel::PciBridge, 0, 1));
        assert_eq!(
            r,
            Err(Error::Topology(TopologyError::IndexTooHigh { index: 256 }))
        );
    }

    #[test]
    fn duplicate_index_is_rejected() {
        let mut t = Topology::new(ControllerModel::PciRoot).unwrap();
        t.add_controller(tc(1, ControllerModel::PciBridge, 0, 1))
            .unwrap();
        let r = t.add_controller(tc(1, ControllerModel::PciBridge, 0, 2));
        assert_eq!(
            r,
            Err(Error::Topology(TopologyError::DuplicateIndex { index: 1 }))
        );
    }

    #[test]
    fn path_to_root_follows_bridges() {
        let mut t = Topology::new(ControllerModel::PciRoot).unwrap();
        t.add_controller(tc(1, ControllerModel::PciBridge, 0, 1))
            .unwrap();
        let b2 = t
            .add_controller(tc(2, ControllerModel::PciBridge, 1, 1))
            .unwrap();
        assert_eq!(t.path_to_root(b2).len(), 3);
    }
}
