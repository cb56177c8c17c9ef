//! Why every device got its address, and why a configuration is refused.
//!
//! [`explain`] assigns a clone of a plan, then analyses the result after
//! the fact: it rebuilds the real pass's bus table from the assigned plan,
//! replays the device loop's order (spec §5.9) on a read-only occupancy
//! map and re-walks the buses in libvirt's order (§5.6) for every device
//! that was searched for, recording why each bus before the answer was
//! passed over. The allocator itself is not instrumented; the re-walk's
//! answer is checked against the allocator's ([`Search::found`]).
//!
//! ```
//! use pciplan::{Capabilities, Device, DeviceKind, Machine, NicModel, Plan};
//! let mut plan = Plan::new(Machine::q35(), Capabilities::qemu_8_0_x86_64());
//! plan.add_device(Device::new(DeviceKind::Interface { model: Some(NicModel::Virtio), hostdev: None }));
//! let e = pciplan::explain::explain(&plan).map_err(|r| *r.error)?;
//! let nic = e.devices.iter().find(|d| d.element == "interface").map(|d| d.flags_words.as_str());
//! assert_eq!(nic, Some("PCI Express endpoint, hot-pluggable"));
//! # Ok::<(), pciplan::Error>(())
//! ```

mod refusal;
mod replay;
mod select;
mod text;
pub(crate) mod walk;

use std::collections::HashMap;

pub use refusal::{Refusal, RefusalRule};
pub use select::{Selector, SelectorError};

use crate::address::PciAddress;
use crate::controller::ControllerModel;
use crate::device::{Device, DeviceAddress, connect_flags};
use crate::flags::ConnectFlags;
use crate::plan::Plan;
use crate::topology::Topology;
use replay::{chipset_rules, early_video, isolation_groups, usb2_function};
use walk::Occupancy;

/// Where a device (and its address) came from.
///
/// ```
/// use pciplan::{Capabilities, Machine, Plan};
/// let e = pciplan::explain::explain(&Plan::new(Machine::q35(), Capabilities::qemu_8_0_x86_64()))
///     .map_err(|r| *r.error)?;
/// assert!(e.devices.iter().all(|d| d.origin != pciplan::explain::Origin::Given));
/// # Ok::<(), pciplan::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(tag = "kind", rename_all = "snake_case"))]
pub enum Origin {
    /// The input gave the address.
    Given,
    /// The device was in the input; pciplan assigned its address.
    Assigned,
    /// The device was added by libvirt's defaults (§4.2), e.g. the
    /// implicit USB controller or memballoon.
    Implicit,
    /// A PCI controller the dry run added (§5.11) to make room for the
    /// device at `for_device` (a position in the assigned plan); `None`
    /// for the spare hot-plug port of §5.11 step 6.
    AddedBus {
        /// The device the new bus serves.
        for_device: Option<usize>,
    },
}

impl Origin {
    /// The short token used in JSON (`given`, `assigned`, `added`).
    ///
    /// ```
    /// assert_eq!(pciplan::explain::Origin::Implicit.token(), "added");
    /// ```
    pub fn token(&self) -> &'static str {
        match self {
            Origin::Given => "given",
            Origin::Assigned => "assigned",
            Origin::Implicit | Origin::AddedBus { .. } => "added",
        }
    }
}

/// Who holds a slot.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(
    feature = "serde",
    serde(tag = "kind", content = "value", rename_all = "snake_case")
)]
///
/// ```
/// let t = pciplan::explain::Taker::Reserved("ICH9 chipset functions (§5.8)");
/// assert_ne!(t, pciplan::explain::Taker::Device(0));
/// ```
pub enum Taker {
    /// A device of the plan, by position.
    Device(usize),
    /// A reservation without a device (chipset functions, §5.8).
    Reserved(&'static str),
}

/// A slot that was passed over, and who held it at the time.
///
/// ```
/// use pciplan::explain::{SlotTaken, Taker};
/// let s = SlotTaken { slot: 0x1f, by: Taker::Reserved("chipset") };
/// assert_eq!(s.slot, 31);
/// ```
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct SlotTaken {
    /// Slot number.
    pub slot: u8,
    /// Who held it.
    pub by: Taker,
}

/// How many holders of a full bus an explanation keeps.
///
/// ```
/// assert_eq!(pciplan::explain::FULL_SLOTS_SHOWN, 8);
/// ```
pub const FULL_SLOTS_SHOWN: usize = 8;

/// Why a bus could not take a device.
///
/// ```
/// let p = pciplan::explain::Passed::NotHotpluggable;
/// assert_eq!(p.class(), "not_hotpluggable");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(tag = "reason", rename_all = "snake_case"))]
pub enum Passed {
    /// Every usable slot was taken.
    Full {
        /// How many slots the bus has, all taken.
        taken: usize,
        /// The first [`FULL_SLOTS_SHOWN`] slots and their holders (the
        /// rest are left out, so that explaining thousands of devices
        /// behind hundreds of full bridges stays small).
        slots: Vec<SlotTaken>,
    },
    /// The bus does not accept this kind of connection (§2.5 step 4).
    WrongFlags {
        /// The connection kind the device needs (libvirt's words).
        kind: &'static str,
    },
    /// The bus takes only devices with an explicit address (pcie-root,
    /// dmi-to-pci-bridge: no AUTOASSIGN, §2.2).
    ExplicitOnly,
    /// The device is hot-plugged and the bus is not hot-pluggable (§2.4).
    NotHotpluggable,
    /// The device is integrated and may only sit on bus 0.
    NotIntegrated,
    /// The bus belongs to another isolation group (§5.15).
    HeldBack {
        /// The bus's group.
        group: u32,
    },
}

impl Passed {
    /// The reason class in one word (`full`, `wrong_flags`, …).
    ///
    /// ```
    /// assert_eq!(pciplan::explain::Passed::ExplicitOnly.class(), "explicit_only");
    /// ```
    pub fn class(&self) -> &'static str {
        match self {
            Passed::Full { .. } => "full",
            Passed::WrongFlags { .. } => "wrong_flags",
            Passed::ExplicitOnly => "explicit_only",
            Passed::NotHotpluggable => "not_hotpluggable",
            Passed::NotIntegrated => "not_integrated",
            Passed::HeldBack { .. } => "held_back",
        }
    }
}

/// A bus searched before the answer.
///
/// ```
/// use pciplan::{Capabilities, Machine, Plan};
/// let e = pciplan::explain::explain(&Plan::new(Machine::q35(), Capabilities::qemu_8_0_x86_64()))
///     .map_err(|r| *r.error)?;
/// let passed = e.devices.iter().filter_map(|d| match &d.why {
///     pciplan::explain::Why::Searched(s) => s.passed.first(),
///     _ => None,
/// });
/// assert!(passed.into_iter().all(|p| p.bus == 0));
/// # Ok::<(), pciplan::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct PassedBus {
    /// Bus number (the controller index).
    pub bus: u8,
    /// The bus's controller model.
    #[cfg_attr(
        feature = "serde",
        serde(serialize_with = "crate::serde_text::model_str")
    )]
    pub model: ControllerModel,
    /// Why it was passed over.
    pub reason: Passed,
}

/// One search of §5.6, replayed.
///
/// ```
/// use pciplan::{Capabilities, Machine, Plan};
/// let e = pciplan::explain::explain(&Plan::new(Machine::q35(), Capabilities::qemu_8_0_x86_64()))
///     .map_err(|r| *r.error)?;
/// let searched = e.devices.iter().filter_map(|d| match &d.why {
///     pciplan::explain::Why::Searched(s) => Some((s.found, d.address)),
///     _ => None,
/// });
/// assert!(searched.into_iter().all(|(found, addr)| found.map(|a| a.key()) == addr.map(|a| a.key())));
/// # Ok::<(), pciplan::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Search {
    /// The flags searched with.
    #[cfg_attr(
        feature = "serde",
        serde(serialize_with = "crate::serde_text::flags_hex")
    )]
    pub flags: ConnectFlags,
    /// The buses before the answer, in search order.
    pub passed: Vec<PassedBus>,
    /// The lower slots of the answering bus that were taken.
    pub skipped_slots: Vec<SlotTaken>,
    /// The re-walk's answer (equal to the device's address).
    #[cfg_attr(
        feature = "serde",
        serde(serialize_with = "crate::serde_text::opt_addr")
    )]
    pub found: Option<PciAddress>,
}

/// Why a device has its address.
///
/// ```
/// use pciplan::{Capabilities, Machine, Plan};
/// let e = pciplan::explain::explain(&Plan::new(Machine::q35(), Capabilities::qemu_8_0_x86_64()))
///     .map_err(|r| *r.error)?;
/// assert!(e.devices.iter().any(|d| matches!(d.why, pciplan::explain::Why::Chipset { .. })));
/// # Ok::<(), pciplan::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(tag = "kind", rename_all = "snake_case"))]
pub enum Why {
    /// The input gave the address; it was only checked (§5.3).
    Given,
    /// A fixed or preferred chipset slot (§5.8).
    Chipset {
        /// The rule, in words.
        rule: &'static str,
    },
    /// A USB2 controller shares its set's slot (§5.9 step 5).
    SharedSlot {
        /// The set member whose slot it joined (plan position).
        with: usize,
    },
    /// Found by the search of §5.6.
    Searched(Search),
    /// The device has no PCI address (§3.4), or another address type.
    NoPciAddress {
        /// The address type (`none`, `ccw`, `virtio-mmio`, …).
        address_type: String,
    },
}

/// A controller in a device's chain to the root.
///
/// ```
/// use pciplan::{Capabilities, Machine, Plan};
/// let e = pciplan::explain::explain(&Plan::new(Machine::q35(), Capabilities::qemu_8_0_x86_64()))
///     .map_err(|r| *r.error)?;
/// let roots = e.devices.iter().filter_map(|d| d.chain.last());
/// assert!(roots.into_iter().all(|c| c.index == 0));
/// # Ok::<(), pciplan::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct ChainLink {
    /// Controller index (its bus number).
    pub index: u32,
    /// Model.
    #[cfg_attr(
        feature = "serde",
        serde(serialize_with = "crate::serde_text::model_str")
    )]
    pub model: ControllerModel,
    /// The controller's own address (`None` for a root).
    #[cfg_attr(
        feature = "serde",
        serde(serialize_with = "crate::serde_text::opt_addr")
    )]
    pub address: Option<PciAddress>,
}

/// Everything explain says about one device.
///
/// ```
/// use pciplan::{Capabilities, Machine, Plan};
/// let e = pciplan::explain::explain(&Plan::new(Machine::q35(), Capabilities::qemu_8_0_x86_64()))
///     .map_err(|r| *r.error)?;
/// assert!(e.devices.iter().enumerate().all(|(i, d)| d.index == i));
/// # Ok::<(), pciplan::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct DeviceExplanation {
    /// Position in the assigned plan.
    pub index: usize,
    /// Position in the plan given to [`explain`], for devices that were
    /// there (`None` for devices pciplan added).
    pub source: Option<usize>,
    /// XML element name.
    pub element: &'static str,
    /// 1-based position among the assigned plan's devices of this element
    /// (the `interface[2]` of selectors).
    pub ordinal: usize,
    /// The device as libvirt names it in messages.
    pub name: String,
    /// Its PCI address.
    #[cfg_attr(
        feature = "serde",
        serde(serialize_with = "crate::serde_text::opt_addr")
    )]
    pub address: Option<PciAddress>,
    /// Where it came from.
    pub origin: Origin,
    /// Its connect flags (§3).
    #[cfg_attr(
        feature = "serde",
        serde(serialize_with = "crate::serde_text::flags_hex")
    )]
    pub flags: ConnectFlags,
    /// The flags in words, with whether its bus is hot-pluggable.
    pub flags_words: String,
    /// Controllers from its bus up to the root.
    pub chain: Vec<ChainLink>,
    /// Why it has this address.
    pub why: Why,
}

/// The explanation of a whole plan.
///
/// ```
/// use pciplan::{Capabilities, Machine, Plan};
/// let e = pciplan::explain::explain(&Plan::new(Machine::q35(), Capabilities::qemu_8_0_x86_64()))
///     .map_err(|r| *r.error)?;
/// assert!(!e.devices.is_empty());
/// # Ok::<(), pciplan::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Explanation {
    /// One entry per device of the assigned plan, in plan order.
    pub devices: Vec<DeviceExplanation>,
}

/// Assigns a clone of `plan` and explains every device of the result.
///
/// # Errors
/// A [`Refusal`] (rule, devices, fix) when assignment fails.
///
/// ```
/// use pciplan::{Capabilities, Machine, Plan};
/// let e = pciplan::explain::explain(&Plan::new(Machine::pc(), Capabilities::qemu_8_0_x86_64()))
///     .map_err(|r| *r.error)?;
/// assert!(e.devices.iter().any(|d| d.element == "controller"));
/// # Ok::<(), pciplan::Error>(())
/// ```
pub fn explain(plan: &Plan) -> Result<Explanation, Refusal> {
    let mut tagged = plan.clone();
    for (i, d) in tagged.devices.iter_mut().enumerate() {
        d.origin = Some(i);
    }
    let mut after = tagged.clone();
    if let Err(error) = after.assign() {
        return Err(Refusal::new(error, plan));
    }
    Ok(analyse(&tagged, &after))
}

/// The explanation of an assigned plan against the plan it came from;
/// devices of `after` refer to `before` through [`Device::origin`], which
/// must be the device's position in `before`.
fn analyse(before: &Plan, after: &Plan) -> Explanation {
    let source: Vec<Option<usize>> = after
        .devices()
        .iter()
        .map(|d| d.origin.filter(|&o| o < before.devices().len()))
        .collect();
    let before_addr = |i: usize| -> DeviceAddress {
        source
            .get(i)
            .copied()
            .flatten()
            .and_then(|o| before.devices().get(o))
            .map_or(DeviceAddress::None, |d| d.address.clone())
    };
    let ctx = after.flag_context();
    let flags: Vec<ConnectFlags> = (0..after.devices().len())
        .map(|i| {
            after.devices().get(i).map_or(ConnectFlags::empty(), |d| {
                connect_flags(&d.kind, &before_addr(i), &ctx)
            })
        })
        .collect();
    let mut why: Vec<Option<Why>> = vec![None; after.devices().len()];
    let mut occ = Occupancy::buses_of(after);
    let groups = isolation_groups(after);
    let group = |i: usize| groups.get(i).copied().unwrap_or(0);

    // Given addresses and chipset placements are in the set before the loop.
    let chipset = chipset_rules(after, &before_addr);
    for i in after.iteration_order() {
        let Some(d) = after.devices().get(i) else {
            continue;
        };
        let Some(a) = d.address.present() else {
            continue;
        };
        let w = if before_addr(i).present().is_some() {
            Why::Given
        } else if let Some(rule) = chipset.get(&i) {
            Why::Chipset { rule }
        } else {
            continue;
        };
        let f = flags.get(i).copied().unwrap_or_default();
        occ.take(a, f, Taker::Device(i), group(i));
        if let Some(slot) = why.get_mut(i) {
            *slot = Some(w);
        }
    }
    // §5.8 step 3: a primary video whose slot is taken is placed normally,
    // before the device loop.
    if let Some(i) = early_video(after, &before_addr, &why) {
        let f = flags.get(i).copied().unwrap_or_default();
        if let Some(a) = after.devices().get(i).and_then(|d| d.address.present()) {
            let w = Why::Searched(occ.walk(f, None, group(i)));
            occ.take(a, f, Taker::Device(i), group(i));
            if let Some(slot) = why.get_mut(i) {
                *slot = Some(w);
            }
        }
    }
    // The device loop (§5.9): steps in order, plan order within a step.
    let mut order: Vec<(usize, usize)> = after
        .devices()
        .iter()
        .enumerate()
        .filter_map(|(i, d)| crate::allocator::loop_step(&d.kind).map(|s| (s, i)))
        .collect();
    order.sort_unstable();
    let mut usb2_slot: HashMap<u32, usize> = HashMap::new();
    for (i, d) in after.devices().iter().enumerate() {
        if usb2_function(d).is_some()
            && why.get(i).is_some_and(Option::is_some)
            && let Some(c) = d.kind.controller()
        {
            usb2_slot.entry(c.idx()).or_insert(i);
        }
    }
    for (_, i) in order {
        if why.get(i).is_some_and(Option::is_some) {
            continue;
        }
        let Some(d) = after.devices().get(i) else {
            continue;
        };
        let Some(a) = d.address.present() else {
            continue;
        };
        let f = flags.get(i).copied().unwrap_or_default();
        let usb2 = usb2_function(d);
        let w = match (usb2, d.kind.controller().map(|c| c.idx())) {
            (Some(_), Some(index)) if usb2_slot.contains_key(&index) => Why::SharedSlot {
                with: usb2_slot.get(&index).copied().unwrap_or(i),
            },
            (Some(func), Some(index)) => {
                usb2_slot.insert(index, i);
                Why::Searched(occ.walk(f, Some(func), group(i)))
            }
            _ => Why::Searched(occ.walk(f, None, group(i))),
        };
        occ.take(a, f, Taker::Device(i), group(i));
        if let Some(slot) = why.get_mut(i) {
            *slot = Some(w);
        }
    }
    let topology = Topology::from_plan(after).ok();
    let served = crate::export::served_devices(after);
    let mut seen: HashMap<&'static str, usize> = HashMap::new();
    let mut devices = Vec::with_capacity(after.devices().len());
    for (i, d) in after.devices().iter().enumerate() {
        let element = d.kind.element();
        let n = seen.entry(element).or_insert(0);
        *n = n.saturating_add(1);
        let ordinal = *n;
        let address = d.address.present();
        let src = source.get(i).copied().flatten();
        let origin = match src {
            Some(_) if before_addr(i).present().is_some() => Origin::Given,
            Some(_) => Origin::Assigned,
            None if d
                .kind
                .controller()
                .and_then(|c| c.pci_model())
                .is_some_and(|m| !m.is_root()) =>
            {
                Origin::AddedBus {
                    for_device: served.get(&i).copied(),
                }
            }
            None => Origin::Implicit,
        };
        let f = flags.get(i).copied().unwrap_or_default();
        let bus_hotplug = address
            .and_then(|a| occ.buses.get(usize::from(a.bus())))
            .map(|b| b.flags.contains(ConnectFlags::HOTPLUGGABLE));
        let w = why
            .get(i)
            .cloned()
            .flatten()
            .unwrap_or_else(|| match address {
                Some(_) => Why::Given,
                None => Why::NoPciAddress {
                    address_type: d.address.type_name().to_string(),
                },
            });
        devices.push(DeviceExplanation {
            index: i,
            source: src,
            element,
            ordinal,
            name: d.to_string(),
            address,
            origin,
            flags: f,
            flags_words: flags_in_words(f, bus_hotplug),
            chain: address
                .map(|a| chain_of(topology.as_ref(), u32::from(a.bus())))
                .unwrap_or_default(),
            why: w,
        });
    }
    Explanation { devices }
}

/// Explains where a live attach (§5.17) of `device` would go on an
/// assigned plan, or why it would be refused.
///
/// # Errors
/// A [`Refusal`] when [`Plan::hotplug_add`] refuses the device.
///
/// ```
/// use pciplan::{Capabilities, Device, DeviceKind, Machine, Plan, VirtioModel};
/// let mut plan = Plan::new(Machine::q35(), Capabilities::qemu_8_0_x86_64());
/// plan.assign()?;
/// let e = pciplan::explain::explain_hotplug(&plan, &Device::new(DeviceKind::Rng(VirtioModel::Default)))
///     .map_err(|r| *r.error)?;
/// assert!(e.address.is_some());
/// # Ok::<(), pciplan::Error>(())
/// ```
pub fn explain_hotplug(plan: &Plan, device: &Device) -> Result<DeviceExplanation, Refusal> {
    let mut work = plan.clone();
    let i = work
        .hotplug_add(device.clone())
        .map_err(|e| Refusal::new(e, plan))?;
    let ctx = plan.flag_context();
    let own = connect_flags(&device.kind, &device.address, &ctx);
    let occ = occupancy_now(plan);
    let why = if own.is_empty() {
        Why::NoPciAddress {
            address_type: device.address.type_name().to_string(),
        }
    } else if device.address.present().is_some() {
        Why::Given
    } else {
        Why::Searched(occ.walk(own | ConnectFlags::HOTPLUGGABLE, None, 0))
    };
    let d = work.devices().get(i).unwrap_or(device);
    let address = d.address.present();
    let element = d.kind.element();
    let ordinal = work
        .devices()
        .iter()
        .take(i.saturating_add(1))
        .filter(|o| o.kind.element() == element)
        .count();
    let topology = Topology::from_plan(&work).ok();
    let bus_hotplug = address
        .and_then(|a| occ.buses.get(usize::from(a.bus())))
        .map(|b| b.flags.contains(ConnectFlags::HOTPLUGGABLE));
    Ok(DeviceExplanation {
        index: i,
        source: None,
        element,
        ordinal,
        name: d.to_string(),
        address,
        origin: if device.address.present().is_some() {
            Origin::Given
        } else {
            Origin::Assigned
        },
        flags: own | ConnectFlags::HOTPLUGGABLE,
        flags_words: flags_in_words(own | ConnectFlags::HOTPLUGGABLE, bus_hotplug),
        chain: address
            .map(|a| chain_of(topology.as_ref(), u32::from(a.bus())))
            .unwrap_or_default(),
        why,
    })
}

/// The occupancy of a running guest: every present address of an assigned
/// plan plus the chipset reservations (the set live attach starts from).
pub(crate) fn occupancy_now(plan: &Plan) -> Occupancy {
    let mut occ = Occupancy::buses_of(plan);
    let groups = isolation_groups(plan);
    let ctx = plan.flag_context();
    for i in plan.iteration_order() {
        let Some(d) = plan.devices().get(i) else {
            continue;
        };
        let Some(a) = d.address.present() else {
            continue;
        };
        let f = connect_flags(&d.kind, &d.address, &ctx);
        occ.take(a, f, Taker::Device(i), groups.get(i).copied().unwrap_or(0));
    }
    occ
}

/// The connect flags in words (§2.1), with whether the device's bus takes
/// hot-plugged devices when known.
///
/// ```
/// use pciplan::ConnectFlags as F;
/// assert_eq!(pciplan::explain::flags_in_words(F::PCI_DEVICE | F::AUTOASSIGN, Some(false)),
///            "conventional PCI endpoint, not hot-pluggable");
/// ```
pub fn flags_in_words(flags: ConnectFlags, bus_hotpluggable: Option<bool>) -> String {
    const KINDS: [(ConnectFlags, &str); 10] = [
        (ConnectFlags::PCIE_DEVICE, "PCI Express endpoint"),
        (ConnectFlags::PCI_DEVICE, "conventional PCI endpoint"),
        (ConnectFlags::PCIE_ROOT_PORT, "pcie-root-port"),
        (
            ConnectFlags::PCIE_SWITCH_UPSTREAM_PORT,
            "pcie-switch-upstream-port",
        ),
        (
            ConnectFlags::PCIE_SWITCH_DOWNSTREAM_PORT,
            "pcie-switch-downstream-port",
        ),
        (ConnectFlags::DMI_TO_PCI_BRIDGE, "dmi-to-pci-bridge"),
        (ConnectFlags::PCI_EXPANDER_BUS, "pci-expander-bus"),
        (ConnectFlags::PCIE_EXPANDER_BUS, "pcie-expander-bus"),
        (ConnectFlags::PCI_BRIDGE, "pci-bridge"),
        (ConnectFlags::PCIE_TO_PCI_BRIDGE, "pcie-to-pci-bridge"),
    ];
    let mut words: Vec<&str> = KINDS
        .iter()
        .filter(|(f, _)| flags.contains(*f))
        .map(|(_, w)| *w)
        .collect();
    if words.is_empty() {
        words.push("no PCI connection");
    }
    if flags.contains(ConnectFlags::INTEGRATED) {
        words.push("integrated (bus 0 only)");
    }
    if flags.contains(ConnectFlags::AGGREGATE_SLOT) {
        words.push("may share a slot (one per function)");
    }
    match bus_hotpluggable {
        Some(true) => words.push("hot-pluggable"),
        Some(false) => words.push("not hot-pluggable"),
        None if flags.contains(ConnectFlags::HOTPLUGGABLE) => words.push("hot-plugged"),
        None => {}
    }
    words.join(", ")
}

/// The names of the set flags (`PCIE_DEVICE`, `AUTOASSIGN`, …).
///
/// ```
/// use pciplan::ConnectFlags as F;
/// assert_eq!(pciplan::explain::flag_names(F::E_PCIE), vec!["AUTOASSIGN", "PCIE_DEVICE"]);
/// ```
pub fn flag_names(flags: ConnectFlags) -> Vec<&'static str> {
    flags.iter_names().map(|(n, _)| n).collect()
}

/// The controllers from bus `bus` up to the root.
fn chain_of(topology: Option<&Topology>, bus: u32) -> Vec<ChainLink> {
    let Some(t) = topology else {
        return Vec::new();
    };
    let Some(id) = t.find(bus) else {
        return Vec::new();
    };
    t.path_to_root(id)
        .into_iter()
        .filter_map(|c| t.controller(c))
        .map(|c| ChainLink {
            index: c.index,
            model: c.model,
            address: c.address,
        })
        .collect()
}
