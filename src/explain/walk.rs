//! The re-walk: a read-only copy of the real pass's bus table and slot
//! occupancy, searched in libvirt's order (spec §5.6) to say why each bus
//! before the answer was passed over.

use std::collections::HashMap;

use super::{Passed, PassedBus, Search, SlotTaken, Taker};
use crate::address::{Function, PciAddress, Slot};
use crate::controller::ControllerModel;
use crate::device::ControllerKind;
use crate::error::AllocError;
use crate::flags::{CheckMode, ConnectFlags, check_compatible};
use crate::machine::{Chipset, Growth};
use crate::plan::Plan;

/// One bus as the real pass sees it.
#[derive(Clone, Debug)]
pub(crate) struct BusView {
    pub(crate) model: ControllerModel,
    pub(crate) flags: ConnectFlags,
    min_slot: u8,
    max_slot: u8,
    used: [u8; 32],
    aggregate: u32,
    group: u32,
    locked: bool,
}

impl BusView {
    fn new(model: ControllerModel, hotplug: bool) -> BusView {
        let mut flags = model.accepts();
        if hotplug && model.hotpluggable() {
            flags |= ConnectFlags::HOTPLUGGABLE;
        }
        let (min_slot, max_slot) = model.slot_range();
        BusView {
            model,
            flags,
            min_slot,
            max_slot,
            used: [0; 32],
            aggregate: 0,
            group: 0,
            locked: false,
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.used.iter().all(|u| *u == 0)
    }

    fn slot_used(&self, slot: u8) -> u8 {
        self.used.get(usize::from(slot)).copied().unwrap_or(0xff)
    }

    /// Whether a live attach of a group-0 device may use the bus (§5.6
    /// passes 1 and 2 with isolation groups).
    pub(crate) fn open_to_group_zero(&self) -> bool {
        self.group == 0 || (self.is_empty() && !self.locked)
    }

    /// Free slots in the usable range.
    pub(crate) fn free_slots(&self) -> usize {
        (self.min_slot..=self.max_slot.min(31))
            .filter(|s| self.slot_used(*s) == 0)
            .count()
    }
}

/// The buses of a plan's real pass and who holds which slot.
#[derive(Clone, Debug)]
pub(crate) struct Occupancy {
    pub(crate) buses: Vec<BusView>,
    owners: HashMap<(u8, u8), Taker>,
    isolation: bool,
}

impl Occupancy {
    /// The bus table of an assigned plan (§5.3 steps 1–5), with the fixed
    /// chipset reservations of §5.8 step 2; no device is placed yet.
    pub(crate) fn buses_of(plan: &Plan) -> Occupancy {
        let mut by_index: HashMap<u32, (ControllerModel, bool)> = HashMap::new();
        let mut max_index: Option<u32> = None;
        let mut any_pcie_root = false;
        for d in plan.devices() {
            let Some(c) = d.kind.controller() else {
                continue;
            };
            let ControllerKind::Pci(p) = &c.kind else {
                continue;
            };
            let index = c.idx();
            max_index = Some(max_index.map_or(index, |m| m.max(index)));
            if let Some(model) = p.model {
                any_pcie_root |= model == ControllerModel::PcieRoot;
                by_index
                    .entry(index)
                    .or_insert((model, p.target.hotplug != Some(false)));
            }
        }
        let profile = plan.profile();
        let host_bridges = profile.growth == Growth::HostBridges;
        let gap = if host_bridges {
            ControllerModel::PciRoot
        } else if any_pcie_root {
            ControllerModel::PcieRootPort
        } else {
            ControllerModel::PciBridge
        };
        let count = max_index.map_or(0, |m| m.saturating_add(1)).min(256);
        let mut buses: Vec<BusView> = (0..count)
            .map(|i| {
                let (model, hotplug) = by_index.get(&i).copied().unwrap_or(if i == 0 {
                    (ControllerModel::PciRoot, true)
                } else {
                    (gap, true)
                });
                BusView::new(model, hotplug)
            })
            .collect();
        let isolation = profile.isolation_groups;
        if isolation
            && host_bridges
            && let Some(b0) = buses.first_mut()
        {
            b0.locked = true;
        }
        let mut occ = Occupancy {
            buses,
            owners: HashMap::new(),
            isolation,
        };
        if !occ.buses.is_empty() {
            let fixed: &[(u8, u8)] = match profile.chipset {
                Chipset::I440fx => &[(1, 0), (1, 3)],
                Chipset::Q35 => &[(0x1f, 0), (0x1f, 3)],
                Chipset::None => &[],
            };
            let why = match profile.chipset {
                Chipset::I440fx => "PIIX3 chipset functions (§5.8)",
                _ => "ICH9 chipset functions (§5.8)",
            };
            for &(slot, function) in fixed {
                occ.take(
                    fixed_addr(0, slot, function),
                    ConnectFlags::empty(),
                    Taker::Reserved(why),
                    0,
                );
            }
        }
        occ
    }

    /// Marks an address used (as Reserve does, §5.4).
    pub(crate) fn take(&mut self, addr: PciAddress, flags: ConnectFlags, by: Taker, group: u32) {
        let slot = addr.slot().as_u8();
        let func = addr.function().as_u8();
        let isolation = self.isolation;
        let Some(bus) = self.buses.get_mut(usize::from(addr.bus())) else {
            return;
        };
        if isolation {
            if bus.is_empty() && !bus.locked {
                bus.group = group;
            } else if bus.group != group {
                bus.group = 0;
            }
        }
        if let Some(used) = bus.used.get_mut(usize::from(slot)) {
            if *used == 0 {
                if flags.contains(ConnectFlags::AGGREGATE_SLOT) {
                    bus.aggregate |= 1u32 << slot;
                }
                self.owners.insert((addr.bus(), slot), by);
            }
            *used |= 1u8 << func;
        }
    }

    /// Scans one bus for [`Self::walk`]: its answer, or why it was passed
    /// over (added to `passed`).
    fn try_bus(
        &self,
        bus_nr: u8,
        model: ControllerModel,
        flags: ConnectFlags,
        function: Option<u8>,
        passed: &mut Vec<PassedBus>,
    ) -> Option<(PciAddress, Vec<SlotTaken>)> {
        match self.scan(bus_nr, flags, function) {
            Ok(hit) => Some(hit),
            Err(reason) => {
                passed.push(PassedBus {
                    bus: bus_nr,
                    model,
                    reason,
                });
                None
            }
        }
    }

    /// FindNext (§5.6) with the reasons: every bus before the answer, in
    /// libvirt's order, and why it could not answer.
    pub(crate) fn walk(&self, flags: ConnectFlags, function: Option<u8>, group: u32) -> Search {
        let mut passed = Vec::new();
        let mut deferred = Vec::new();
        for (nr, bus) in self.buses.iter().enumerate() {
            let Ok(bus_nr) = u8::try_from(nr) else { break };
            if self.isolation && bus.group != group {
                if bus.is_empty() && !bus.locked {
                    deferred.push(bus_nr);
                } else {
                    passed.push(PassedBus {
                        bus: bus_nr,
                        model: bus.model,
                        reason: Passed::HeldBack { group: bus.group },
                    });
                }
                continue;
            }
            if let Some((found, skipped)) =
                self.try_bus(bus_nr, bus.model, flags, function, &mut passed)
            {
                return Search {
                    flags,
                    passed,
                    skipped_slots: skipped,
                    found: Some(found),
                };
            }
        }
        for bus_nr in deferred {
            let Some(bus) = self.buses.get(usize::from(bus_nr)) else {
                continue;
            };
            if let Some((found, skipped)) =
                self.try_bus(bus_nr, bus.model, flags, function, &mut passed)
            {
                return Search {
                    flags,
                    passed,
                    skipped_slots: skipped,
                    found: Some(found),
                };
            }
        }
        Search {
            flags,
            passed,
            skipped_slots: Vec::new(),
            found: None,
        }
    }

    /// Scans one bus: the answer and the lower slots passed over, or why
    /// the bus cannot answer.
    fn scan(
        &self,
        bus_nr: u8,
        flags: ConnectFlags,
        function: Option<u8>,
    ) -> Result<(PciAddress, Vec<SlotTaken>), Passed> {
        let Some(bus) = self.buses.get(usize::from(bus_nr)) else {
            return Err(Passed::Full {
                taken: 0,
                slots: Vec::new(),
            });
        };
        let probe = fixed_addr(bus_nr, 0, 0);
        if let Err(e) = check_compatible(bus.flags, flags, probe, CheckMode::Auto) {
            return Err(match e {
                AllocError::NoAutoAssign { .. } => Passed::ExplicitOnly,
                AllocError::NoHotplug { .. } => Passed::NotHotpluggable,
                AllocError::NotIntegrated { .. } => Passed::NotIntegrated,
                AllocError::Incompatible { kind, .. } => Passed::WrongFlags { kind },
                _ => Passed::WrongFlags {
                    kind: "device with these connect flags",
                },
            });
        }
        let f = function.unwrap_or(0);
        let mut skipped = Vec::new();
        for slot in bus.min_slot..=bus.max_slot.min(31) {
            let used = bus.slot_used(slot);
            let hit = if used == 0 {
                Some(f)
            } else if flags.contains(ConnectFlags::AGGREGATE_SLOT)
                && bus.aggregate & (1u32 << slot) != 0
            {
                if used & (1u8 << f) == 0 {
                    Some(f)
                } else if function.is_none() {
                    let free = u8::try_from((!used).trailing_zeros()).unwrap_or(8);
                    (free < 8).then_some(free)
                } else {
                    None
                }
            } else {
                None
            };
            if let Some(func) = hit {
                return Ok((fixed_addr(bus_nr, slot, func), skipped));
            }
            let by = self
                .owners
                .get(&(bus_nr, slot))
                .copied()
                .unwrap_or(Taker::Reserved("in use"));
            skipped.push(SlotTaken { slot, by });
        }
        let taken = skipped.len();
        skipped.truncate(super::FULL_SLOTS_SHOWN);
        Err(Passed::Full {
            taken,
            slots: skipped,
        })
    }
}

/// An address from parts known to be in range (clamped otherwise).
pub(crate) fn fixed_addr(bus: u8, slot: u8, function: u8) -> PciAddress {
    PciAddress::new(
        0,
        bus,
        Slot::new(slot.min(31)).unwrap_or(Slot::ZERO),
        Function::new(function.min(7)).unwrap_or(Function::ZERO),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::{Controller, Device, DeviceAddress, DeviceKind};
    use crate::{Capabilities, Machine};

    #[test]
    fn integrated_device_passes_over_buses_above_0_as_not_integrated() {
        let mut plan = Plan::new(Machine::q35(), Capabilities::qemu_8_0_x86_64());
        plan.add_device(
            Device::new(DeviceKind::Controller(Controller::pci(
                ControllerModel::PcieRootPort,
                1,
            )))
            .with_address(DeviceAddress::Pci(fixed_addr(0, 2, 0))),
        );
        plan.assign().unwrap();
        let mut occ = Occupancy::buses_of(&plan);
        for slot in 0..32 {
            occ.take(
                fixed_addr(0, slot, 0),
                ConnectFlags::empty(),
                Taker::Reserved("test"),
                0,
            );
        }
        let flags = ConnectFlags::INTEGRATED | ConnectFlags::E_PCIE;
        let s = occ.walk(flags, None, 0);
        assert_eq!(s.passed[1].reason, Passed::NotIntegrated);
    }
}
