//! Free capacity: how many more devices of a class fit, live and after a
//! re-plan, and the budgets that bound them.
//!
//! The live count of a class is, by definition, the number of successive
//! [`Plan::hotplug_add`]s of that class that succeed on a clone of the
//! running plan. A live attach never grows and never moves anything, and
//! takes the first free slot of a hot-pluggable bus that accepts the
//! device (§5.17): so the count is the number of free slots on those
//! buses, which is what [`capacity`] computes (without attaching).
//!
//! ```
//! use pciplan::{Capabilities, Machine, Plan};
//! let mut plan = Plan::new(Machine::q35(), Capabilities::qemu_8_0_x86_64());
//! plan.assign()?;
//! let c = pciplan::capacity::capacity(&plan, None);
//! let nic = c.classes.iter().find(|k| k.class == "virtio NIC").map(|k| k.hotplug);
//! assert_eq!(nic, Some(1)); // the spare root port
//! # Ok::<(), pciplan::Error>(())
//! ```

use crate::controller::ControllerModel;
use crate::device::{
    ControllerKind, Device, DeviceKind, DiskBus, HostdevSource, NicModel, VirtioModel,
    connect_flags,
};
use crate::flags::{CheckMode, ConnectFlags, check_compatible};
use crate::plan::Plan;

/// Most devices the cold count tries (more than 256 buses can hold).
///
/// ```
/// assert!(pciplan::capacity::COLD_LIMIT > 256 * 31);
/// ```
pub const COLD_LIMIT: usize = 8192;

/// Capacity for one class of device.
///
/// ```
/// use pciplan::{Capabilities, Machine, Plan};
/// let mut plan = Plan::new(Machine::q35(), Capabilities::qemu_8_0_x86_64());
/// plan.assign()?;
/// let c = pciplan::capacity::capacity(&plan, None);
/// assert!(c.classes.iter().all(|k| k.cold.is_none()));
/// # Ok::<(), pciplan::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct ClassCapacity {
    /// The class (`PCI Express endpoint`, `virtio NIC`, …).
    pub class: &'static str,
    /// The connect flags a device of the class has on this machine.
    #[cfg_attr(
        feature = "serde",
        serde(serialize_with = "crate::serde_text::flags_hex")
    )]
    pub flags: ConnectFlags,
    /// How many more can be hot-plugged into the running guest now.
    pub hotplug: usize,
    /// How many more fit in the definition after a re-plan (`None` when
    /// not computed); see [`cold_count`].
    pub cold: Option<usize>,
}

/// Budgets of the running guest.
///
/// ```
/// use pciplan::{Capabilities, Machine, Plan};
/// let mut plan = Plan::new(Machine::q35(), Capabilities::qemu_8_0_x86_64());
/// plan.assign()?;
/// let c = pciplan::capacity::capacity(&plan, None);
/// assert_eq!(c.budgets.buses_max, 256);
/// # Ok::<(), pciplan::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Budgets {
    /// Bus numbers in use (PCI controllers, with gaps counted).
    pub buses_used: usize,
    /// Bus numbers available in all (8 bits).
    pub buses_max: usize,
    /// Empty hot-pluggable root and downstream ports.
    pub free_hotplug_ports: usize,
    /// Free slots on hot-pluggable buses.
    pub free_hotplug_slots: usize,
    /// Bridges and ports with something behind them, each of which the
    /// firmware may give a 4 KiB I/O window (x86).
    pub io_windows_used: usize,
    /// I/O windows the x86 64 KiB port space holds beside its legacy
    /// first 4 KiB.
    pub io_windows_max: usize,
}

/// The capacity report of a plan.
///
/// ```
/// use pciplan::{Capabilities, Machine, Plan};
/// let mut plan = Plan::new(Machine::q35(), Capabilities::qemu_8_0_x86_64());
/// plan.assign()?;
/// let c = pciplan::capacity::capacity(&plan, None);
/// assert_eq!(c.classes.len(), pciplan::capacity::classes().len());
/// # Ok::<(), pciplan::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Capacity {
    /// One entry per class.
    pub classes: Vec<ClassCapacity>,
    /// Budgets.
    pub budgets: Budgets,
}

/// The classes reported and a representative device of each.
///
/// ```
/// assert_eq!(pciplan::capacity::classes()[0].0, "PCI Express endpoint");
/// ```
pub fn classes() -> Vec<(&'static str, Device)> {
    let nic = |model| {
        Device::new(DeviceKind::Interface {
            model: Some(model),
            hostdev: None,
        })
    };
    vec![
        ("PCI Express endpoint", nic(NicModel::E1000e)),
        (
            "conventional PCI endpoint",
            Device::new(DeviceKind::Rng(VirtioModel::Transitional)),
        ),
        ("virtio NIC", nic(NicModel::Virtio)),
        (
            "virtio disk",
            Device::new(DeviceKind::Disk {
                bus: DiskBus::Virtio,
                model: VirtioModel::Default,
                drive_controller: None,
            }),
        ),
        ("e1000 NIC", nic(NicModel::Known("e1000".to_string()))),
        (
            "hostdev",
            Device::new(DeviceKind::Hostdev(HostdevSource::Pci(None))),
        ),
    ]
}

/// The capacity of an assigned plan. `definition` is the plan before
/// assignment (as parsed); with it the cold count of each class is
/// computed as well, by re-planning it with more devices.
///
/// ```
/// use pciplan::{Capabilities, Machine, Plan};
/// let before = Plan::new(Machine::pc(), Capabilities::qemu_8_0_x86_64());
/// let mut plan = before.clone();
/// plan.assign()?;
/// let c = pciplan::capacity::capacity(&plan, Some(&before));
/// assert!(c.classes.iter().all(|k| k.cold.is_some_and(|n| n >= k.hotplug)));
/// # Ok::<(), pciplan::Error>(())
/// ```
pub fn capacity(plan: &Plan, definition: Option<&Plan>) -> Capacity {
    let classes = classes()
        .into_iter()
        .map(|(class, device)| ClassCapacity {
            class,
            flags: connect_flags(&device.kind, &device.address, &plan.flag_context()),
            hotplug: hotplug_count(plan, &device),
            cold: definition.map(|d| cold_count(d, &device)),
        })
        .collect();
    Capacity {
        classes,
        budgets: budgets(plan),
    }
}

/// How many successive live attaches of `device` succeed (§5.17).
///
/// ```
/// use pciplan::{Capabilities, Device, DeviceKind, Machine, Plan, VirtioModel};
/// let mut plan = Plan::new(Machine::pc(), Capabilities::qemu_8_0_x86_64());
/// plan.assign()?;
/// let rng = Device::new(DeviceKind::Rng(VirtioModel::Default));
/// let n = pciplan::capacity::hotplug_count(&plan, &rng);
/// let mut live = plan.clone();
/// let added = std::iter::from_fn(|| live.hotplug_add(rng.clone()).ok()).take(100).count();
/// assert_eq!(n, added);
/// # Ok::<(), pciplan::Error>(())
/// ```
pub fn hotplug_count(plan: &Plan, device: &Device) -> usize {
    if let DeviceKind::Controller(c) = &device.kind
        && !matches!(c.kind, ControllerKind::Scsi(_))
    {
        return 0;
    }
    let own = connect_flags(&device.kind, &device.address, &plan.flag_context());
    if own.is_empty() {
        // Not a PCI device: nothing bounds it here.
        return usize::MAX;
    }
    let flags = own | ConnectFlags::HOTPLUGGABLE;
    let occ = crate::explain::occupancy_now(plan);
    occ.buses
        .iter()
        .enumerate()
        .filter(|(nr, bus)| {
            let probe = crate::explain::walk::fixed_addr(u8::try_from(*nr).unwrap_or(0), 0, 0);
            bus.open_to_group_zero()
                && check_compatible(bus.flags, flags, probe, CheckMode::Auto).is_ok()
        })
        .map(|(_, bus)| bus.free_slots())
        .sum()
}

/// How many devices like `device` one re-plan of the definition takes:
/// an `n` (at most [`COLD_LIMIT`]) such that the definition with `n` more
/// assigns and with `n + 1` more does not, found by doubling, then
/// bisecting, the number added.
///
/// Fitting is not monotone in general: the bridge overflow of §5.13
/// ("the last bus is exactly full") can refuse one count and accept a
/// larger one, so `n` is a boundary the search meets, not always the
/// largest count that fits. For the same reason it can be below the live
/// count: a live attach fills the last free slot, where a re-plan with as
/// many more devices needs one more bridge and finds no slot for it.
///
/// ```
/// use pciplan::{Capabilities, Device, DeviceKind, Machine, Plan, VirtioModel};
/// let plan = Plan::new(Machine::q35(), Capabilities::qemu_8_0_x86_64());
/// let rng = Device::new(DeviceKind::Rng(VirtioModel::Default));
/// assert!(pciplan::capacity::cold_count(&plan, &rng) > 100);
/// ```
pub fn cold_count(definition: &Plan, device: &Device) -> usize {
    let fits = |n: usize| {
        let mut p = definition.clone();
        for _ in 0..n {
            p.add_device(device.clone());
        }
        p.assign().is_ok()
    };
    if !fits(0) {
        return 0;
    }
    let mut lo = 0usize;
    let mut hi = 1usize;
    while hi <= COLD_LIMIT && fits(hi) {
        lo = hi;
        hi = hi.saturating_mul(2);
    }
    if hi > COLD_LIMIT {
        return lo.min(COLD_LIMIT);
    }
    // lo fits, hi does not.
    while hi.saturating_sub(lo) > 1 {
        let mid = lo + (hi - lo) / 2;
        if fits(mid) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    lo
}

/// The budgets of an assigned plan: bus numbers, free hot-pluggable ports
/// and slots, I/O windows.
///
/// ```
/// use pciplan::{Capabilities, Machine, Plan};
/// let mut plan = Plan::new(Machine::q35(), Capabilities::qemu_8_0_x86_64());
/// plan.assign()?;
/// assert_eq!(pciplan::capacity::budgets(&plan).buses_max, 256);
/// # Ok::<(), pciplan::Error>(())
/// ```
pub fn budgets(plan: &Plan) -> Budgets {
    let occ = crate::explain::occupancy_now(plan);
    let hot = |b: &&crate::explain::walk::BusView| b.flags.contains(ConnectFlags::HOTPLUGGABLE);
    let free_hotplug_ports = occ
        .buses
        .iter()
        .filter(hot)
        .filter(|b| {
            matches!(
                b.model,
                ControllerModel::PcieRootPort | ControllerModel::PcieSwitchDownstreamPort
            ) && b.is_empty()
        })
        .count();
    let free_hotplug_slots = occ.buses.iter().filter(hot).map(|b| b.free_slots()).sum();
    let io_windows_used = occ
        .buses
        .iter()
        .filter(|b| !b.model.is_root() && !b.is_empty() && takes_io_window(b.model))
        .count();
    Budgets {
        buses_used: occ.buses.len(),
        buses_max: 256,
        free_hotplug_ports,
        free_hotplug_slots,
        io_windows_used,
        io_windows_max: 15,
    }
}

/// Whether the controller forwards an I/O window to its bus.
fn takes_io_window(m: ControllerModel) -> bool {
    matches!(
        m,
        ControllerModel::PciBridge
            | ControllerModel::PcieToPciBridge
            | ControllerModel::DmiToPciBridge
            | ControllerModel::PcieRootPort
            | ControllerModel::PcieSwitchDownstreamPort
    )
}

impl Capacity {
    /// The report as text.
    ///
    /// ```
    /// use pciplan::{Capabilities, Machine, Plan};
    /// let mut plan = Plan::new(Machine::q35(), Capabilities::qemu_8_0_x86_64());
    /// plan.assign()?;
    /// assert!(pciplan::capacity::capacity(&plan, None).render().contains("bus numbers"));
    /// # Ok::<(), pciplan::Error>(())
    /// ```
    pub fn render(&self) -> String {
        let mut out =
            String::from("class                       flags   hot-plug now   cold (re-plan)\n");
        for c in &self.classes {
            let count = |n: usize| {
                if n == usize::MAX {
                    "unbounded".to_string()
                } else {
                    n.to_string()
                }
            };
            let cold = c.cold.map_or_else(|| "-".to_string(), count);
            out.push_str(&format!(
                "{:<27} {:<7} {:>12}   {:>14}\n",
                c.class,
                c.flags.hex(),
                count(c.hotplug),
                cold
            ));
        }
        let b = &self.budgets;
        out.push_str(&format!(
            "bus numbers used: {} of {}\nfree hot-pluggable ports: {}\nfree hot-pluggable slots: {}\nI/O windows (4 KiB, x86): {} of {}\n",
            b.buses_used,
            b.buses_max,
            b.free_hotplug_ports,
            b.free_hotplug_slots,
            b.io_windows_used,
            b.io_windows_max
        ));
        out
    }
}
