//! Placement policies beyond libvirt (opt-in): spare hot-plug ports,
//! topologies past libvirt's ceilings, grouping behind expander buses,
//! host multifunction kept together, `hotplug='off'`, budgets and strict
//! topology checks. The format of policy files is in `docs/policy.md`.
//!
//! A policy never changes how pciplan answers without one: the default
//! [`Policy`] is libvirt's algorithm, byte for byte. A policy plans around
//! libvirt's algorithm instead of replacing it: it sets aside the devices it
//! will place itself, lets libvirt's algorithm place the rest, gives its own
//! devices explicit addresses, adds the controllers it wants, and then runs
//! libvirt's algorithm once more over the whole definition. So every
//! address and controller of the result is explicit, and the result is a
//! definition libvirt itself keeps as it is.
//!
//! Two rules make re-planning safe: a device that has an address keeps it
//! (a policy only places devices without one), and nothing a policy adds
//! depends on anything but the policy and the devices it places.
//!
//! ```
//! use pciplan::{Capabilities, Device, DeviceKind, Machine, NicModel, Plan};
//! use pciplan::policy::Policy;
//!
//! let mut plan = Plan::new(Machine::q35(), Capabilities::qemu_8_0_x86_64());
//! plan.add_device(Device::new(DeviceKind::Interface { model: Some(NicModel::Virtio), hostdev: None }));
//! let policy = Policy { spare_ports: 4, ..Policy::default() };
//! plan.assign_with(&policy, &[])?;
//! let budgets = pciplan::capacity::budgets(&plan);
//! assert_eq!(budgets.free_hotplug_ports, 4);
//! # Ok::<(), pciplan::Error>(())
//! ```

mod error;
#[cfg(feature = "policy-file")]
mod file;
mod layout;
mod run;

pub use error::PolicyError;
#[cfg(feature = "policy-file")]
pub use file::PolicyFileError;
pub use layout::Layout;

use crate::diff::Identity;
use crate::error::Error;
use crate::explain::Selector;
use crate::plan::Plan;

/// The version of the policy format and of its placement rules. A plan made
/// under one version re-plans identically under every later pciplan that
/// reads the same version.
///
/// ```
/// assert_eq!(pciplan::policy::PolicyVersion::default(), pciplan::policy::PolicyVersion::V1);
/// ```
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PolicyVersion {
    /// Version 1 (the first).
    #[default]
    V1,
}

/// What to do about x86 I/O windows (4 KiB of the 64 KiB port space for
/// each bridge or port with a device behind it).
///
/// ```
/// assert_eq!(pciplan::policy::IoWindows::default(), pciplan::policy::IoWindows::Ignore);
/// ```
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Hash)]
pub enum IoWindows {
    /// Do not check (libvirt's behaviour).
    #[default]
    Ignore,
    /// Refuse a plan that needs more I/O windows than the port space holds.
    Refuse,
}

/// Devices that share a key go behind one expander bus.
///
/// ```
/// use pciplan::policy::Group;
/// let g = Group { key: "gpu-rc0".into(), node: Some(1), devices: vec!["hostdev[1]".parse()?] };
/// assert_eq!(g.devices.len(), 1);
/// # Ok::<(), pciplan::explain::SelectorError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Group {
    /// The grouping key (a guest NUMA node, a host root complex, an IOMMU
    /// group, any string); one expander bus per key.
    pub key: String,
    /// The guest NUMA node of the expander bus (`<target><node>`); a node
    /// without CPUs is fine.
    pub node: Option<u32>,
    /// The devices of the group.
    pub devices: Vec<Selector>,
}

/// A placement policy. [`Policy::default`] is libvirt's algorithm
/// unchanged; every other field is opt-in.
///
/// ```
/// use pciplan::policy::Policy;
/// assert!(Policy::default().is_libvirt());
/// assert!(!Policy { expand: true, ..Policy::default() }.is_libvirt());
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Policy {
    /// The format and rules version.
    pub version: PolicyVersion,
    /// Empty hot-pluggable ports to keep: root ports on PCI Express
    /// machines, free slots on hot-pluggable buses on pc. Added after
    /// everything that holds a device; the count depends on nothing else.
    pub spare_ports: u32,
    /// When libvirt's algorithm runs out of room, put devices together as
    /// functions of one slot (`multifunction='on'` on function 0) instead
    /// of failing, up to the machine's real ceilings.
    pub expand: bool,
    /// Reject topologies libvirt accepts but that are no tree (switch
    /// ports that hang off each other, rule 19).
    pub strict: bool,
    /// Passthrough devices of one host slot go to one guest slot as its
    /// functions.
    pub host_multifunction: bool,
    /// Element names (`disk`, `interface`, `memballoon`, …) whose devices'
    /// ports get `hotplug='off'`.
    pub hotplug_off: Vec<String>,
    /// The I/O window budget.
    pub io_windows: IoWindows,
    /// Grouping behind expander buses.
    pub groups: Vec<Group>,
    /// Bus numbers each new expander bus gets (its own bus and one per
    /// port behind it): room for the group's later devices. `None` is the
    /// default, [`DEFAULT_GROUP_BUS_NUMBERS`]; a group with more devices
    /// gets the next multiple of eight that holds them.
    pub group_bus_numbers: Option<u32>,
}

/// The bus numbers a new expander bus gets by default: room for 15 devices
/// behind it on PCI Express.
pub const DEFAULT_GROUP_BUS_NUMBERS: u32 = 16;

impl Policy {
    /// True when the policy is libvirt's algorithm unchanged.
    pub fn is_libvirt(&self) -> bool {
        *self == Policy::default()
    }

    /// Reads a policy file (TOML, `docs/policy.md`).
    ///
    /// # Errors
    /// [`PolicyFileError`] naming the key or value that is wrong.
    ///
    /// ```
    /// let p = pciplan::policy::Policy::from_toml("version = 1\nspare_ports = 2\nexpand = true\n")?;
    /// assert_eq!(p.spare_ports, 2);
    /// assert!(p.expand);
    /// # Ok::<(), pciplan::policy::PolicyFileError>(())
    /// ```
    #[cfg(feature = "policy-file")]
    pub fn from_toml(text: &str) -> Result<Policy, PolicyFileError> {
        file::parse(text)
    }
}

/// Where a cold plan of `plan` (an assigned plan) plus `device`, under
/// `policy`, puts the device. A live attach under the policy must give the
/// device this address (a spare port), so that the guest's live and
/// persistent definitions agree.
///
/// # Errors
/// What the cold plan refuses.
///
/// ```
/// use pciplan::{Capabilities, Device, DeviceKind, Machine, NicModel, Plan};
/// use pciplan::policy::{Policy, cold_address};
/// let nic = || Device::new(DeviceKind::Interface { model: Some(NicModel::Virtio), hostdev: None });
/// let policy = Policy { spare_ports: 2, ..Policy::default() };
/// let mut plan = Plan::new(Machine::q35(), Capabilities::qemu_8_0_x86_64());
/// plan.add_device(nic());
/// plan.assign_with(&policy, &[])?;
/// let cold = cold_address(&plan, &nic(), &policy)?;
/// let mut live = plan.clone();
/// let i = live.hotplug_add(nic())?;
/// assert_eq!(live.devices()[i].address.present(), cold);
/// # Ok::<(), pciplan::Error>(())
/// ```
pub fn cold_address(
    plan: &Plan,
    device: &crate::Device,
    policy: &Policy,
) -> Result<Option<crate::PciAddress>, Error> {
    // The new device is told by an origin no front end gives.
    const MARK: usize = usize::MAX;
    let mut cold = plan.clone();
    let mut d = device.clone();
    d.origin = Some(MARK);
    cold.add_device(d);
    cold.assign_with(policy, &[])?;
    Ok(cold
        .devices()
        .iter()
        .find(|d| d.origin == Some(MARK))
        .and_then(|d| d.address.present()))
}

impl Plan {
    /// [`Plan::assign`] under a placement policy. `ids` are the devices'
    /// identities for the policy's selectors (see
    /// `pciplan::libvirt::identities`); with fewer identities than devices
    /// the model's own keys are used.
    ///
    /// With the default policy this is [`Plan::assign`]. On error the plan
    /// is unchanged.
    ///
    /// # Errors
    /// libvirt's errors, and [`Error::Policy`] when the policy cannot be
    /// met (a ceiling, a budget, a group that cannot be built).
    ///
    /// ```
    /// use pciplan::{Capabilities, Device, DeviceKind, Machine, NicModel, Plan};
    /// use pciplan::policy::Policy;
    /// let nic = || Device::new(DeviceKind::Interface { model: Some(NicModel::Virtio), hostdev: None });
    /// let mut plan = Plan::new(Machine::q35(), Capabilities::qemu_8_0_x86_64());
    /// for _ in 0..300 {
    ///     plan.add_device(nic());
    /// }
    /// // libvirt's algorithm runs out of root ports at 238 devices ...
    /// assert!(plan.clone().assign().is_err());
    /// // ... expand puts eight NICs on each port as functions.
    /// plan.assign_with(&Policy { expand: true, ..Policy::default() }, &[])?;
    /// # Ok::<(), pciplan::Error>(())
    /// ```
    pub fn assign_with(&mut self, policy: &Policy, ids: &[Identity]) -> Result<(), Error> {
        if policy.is_libvirt() {
            return self.assign();
        }
        self.transaction(|plan| run::run(plan, policy, ids))
    }
}
