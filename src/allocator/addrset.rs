//! The address set: buses, their slots and used functions (spec §1.5,
//! §5.3–5.7).

use crate::address::{Function, PciAddress, Slot};
use crate::controller::ControllerModel;
use crate::error::AllocError;
use crate::flags::{CheckMode, ConnectFlags, auto_compatible, check_compatible, compatible};

/// Highest number of buses (bus numbers are 8 bits).
pub(crate) const MAX_BUSES: usize = 256;

/// One bus.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Bus {
    pub(crate) model: Option<ControllerModel>,
    pub(crate) flags: ConnectFlags,
    pub(crate) min_slot: u8,
    pub(crate) max_slot: u8,
    /// The usable slots, one bit per slot (from `min_slot` and `max_slot`).
    range: u32,
    /// Used functions per slot, one bit per function.
    pub(crate) used: [u8; 32],
    /// Aggregate marker per slot, one bit per slot.
    pub(crate) aggregate: u32,
    /// Slots with at least one used function, one bit per slot.
    pub(crate) nonempty: u32,
    /// Slots with all eight functions used, one bit per slot.
    pub(crate) full: u32,
    /// Isolation group (§5.15); 0 on every machine but pSeries.
    pub(crate) group: u32,
    /// The group never changes (the pSeries default PHB).
    pub(crate) locked: bool,
}

impl Bus {
    fn unset() -> Bus {
        Bus {
            model: None,
            flags: ConnectFlags::empty(),
            min_slot: 0,
            max_slot: 0,
            range: slot_range(0, 0),
            used: [0; 32],
            aggregate: 0,
            nonempty: 0,
            full: 0,
            group: 0,
            locked: false,
        }
    }

    /// Configures the bus for a controller model (§2.2).
    pub(crate) fn set_model(&mut self, model: ControllerModel, hotplug: bool) {
        let mut flags = model.accepts();
        if hotplug && model.hotpluggable() {
            flags |= ConnectFlags::HOTPLUGGABLE;
        }
        let (lo, hi) = model.slot_range();
        self.model = Some(model);
        self.flags = flags;
        self.min_slot = lo;
        self.max_slot = hi;
        self.range = slot_range(lo, hi);
    }

    fn slot_used(&self, slot: u8) -> u8 {
        self.used.get(usize::from(slot)).copied().unwrap_or(0xff)
    }

    /// Marks function `func` of slot `slot` used by a device with `flags`
    /// of isolation group `group` (the end of Reserve).
    #[inline]
    fn mark(&mut self, slot: u8, func: u8, flags: ConnectFlags, mode: CheckMode, group: u32) {
        let Some(used) = self.used.get_mut(usize::from(slot)) else {
            return;
        };
        if *used == 0 && flags.contains(ConnectFlags::AGGREGATE_SLOT) {
            self.aggregate |= 1u32 << slot;
        }
        if self.nonempty == 0 && !self.locked {
            self.group = group;
        } else if self.group != group && mode == CheckMode::Explicit {
            self.group = 0;
        }
        *used |= 1u8 << func;
        self.nonempty |= 1u32 << slot;
        if *used == u8::MAX {
            self.full |= 1u32 << slot;
        }
    }

    /// Marks function 0 of each of the free slots in `slots` (one bit per
    /// slot) used in auto mode by a device that is not aggregate, in
    /// isolation group 0: what [`Bus::mark`] does for each, at once.
    fn mark_whole_slots(&mut self, slots: u32) {
        if self.nonempty == 0 && !self.locked {
            self.group = 0;
        }
        self.nonempty |= slots;
        let mut left = slots;
        while left != 0 {
            let slot = left.trailing_zeros();
            left &= left - 1;
            if let Some(used) = self.used.get_mut(slot as usize) {
                *used = 1;
            }
        }
    }

    /// Every usable slot has at least one used function.
    pub(crate) fn is_fully_reserved(&self) -> bool {
        self.nonempty & self.range == self.range
    }
}

/// The buses of one pass.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct AddressSet {
    pub(crate) buses: Vec<Bus>,
    pub(crate) dry_run: bool,
    pub(crate) pcie_to_pci_available: bool,
    /// New buses are PCI host bridges, not bridges (pSeries).
    pub(crate) host_bridges: bool,
    /// Isolation groups are in use: searches look at groups, and the
    /// cursors (which assume bus properties never change) are off.
    pub(crate) isolation: bool,
    /// Isolation group of each device of the plan, by device index.
    pub(crate) device_groups: Vec<u32>,
    /// zPCI ids in use (§5.10).
    pub(crate) zpci: super::zpci::ZpciUsed,
    /// Devices at positions from here on (controllers the dry run added)
    /// carry no zPCI flag.
    pub(crate) zpci_upto: usize,
    /// Search cursors: for a (flags, function) search, no bus below the
    /// cursor can answer. libvirt rescans from bus 0 every time; the answer
    /// is the same because, within one pass, buses only fill up (a slot that
    /// could not take a device never becomes able to), bus flags never
    /// change, and new buses are appended after every cursor.
    cursors: Vec<(ConnectFlags, Option<u8>, usize)>,
    /// The dry run needed more than 256 buses (see [`AddressSet::grow`]).
    pub(crate) overflow: bool,
}

/// What a search answered.
pub(crate) type Found = PciAddress;

impl AddressSet {
    pub(crate) fn new(bus_count: usize, dry_run: bool, pcie_to_pci_available: bool) -> AddressSet {
        // The dry run grows buses one by one, up to the limit.
        let mut buses = Vec::with_capacity(if dry_run { MAX_BUSES } else { bus_count });
        buses.resize(bus_count, Bus::unset());
        AddressSet {
            buses,
            dry_run,
            pcie_to_pci_available,
            host_bridges: false,
            isolation: false,
            device_groups: Vec::new(),
            zpci: super::zpci::ZpciUsed::default(),
            zpci_upto: usize::MAX,
            cursors: Vec::new(),
            overflow: false,
        }
    }

    /// Whether `e` is the dry run's bus limit: the device is counted as
    /// placed on a bus past 255 (libvirt's count has no limit there).
    pub(crate) fn counted_past_limit(&self, e: &AllocError) -> bool {
        self.dry_run && self.overflow && matches!(e, AllocError::TooManyBuses { .. })
    }

    /// The isolation group of device `i` (0 when not isolated).
    pub(crate) fn group_of(&self, i: usize) -> u32 {
        self.device_groups.get(i).copied().unwrap_or(0)
    }

    pub(crate) fn len(&self) -> usize {
        self.buses.len()
    }

    pub(crate) fn bus(&self, i: usize) -> Option<&Bus> {
        self.buses.get(i)
    }

    pub(crate) fn bus_mut(&mut self, i: usize) -> Option<&mut Bus> {
        self.buses.get_mut(i)
    }

    /// True when slot `slot` of bus 0 has no used function.
    pub(crate) fn slot_free(&self, bus: usize, slot: u8) -> bool {
        self.bus(bus).is_some_and(|b| b.slot_used(slot) == 0)
    }

    fn is_used(&self, addr: &PciAddress) -> bool {
        self.bus(usize::from(addr.bus())).is_some_and(|b| {
            b.slot_used(addr.slot().as_u8()) & (1u8 << addr.function().as_u8()) != 0
        })
    }

    /// Validate (§5.5).
    pub(crate) fn validate(
        &self,
        addr: &PciAddress,
        flags: ConnectFlags,
        mode: CheckMode,
    ) -> Result<(), AllocError> {
        if self.buses.is_empty() {
            return Err(AllocError::NoBuses);
        }
        if addr.domain() != 0 {
            return Err(AllocError::DomainNotZero { addr: *addr });
        }
        let Some(bus) = self.bus(usize::from(addr.bus())) else {
            return Err(AllocError::BusOutOfRange {
                addr: *addr,
                last: u32::try_from(self.buses.len().saturating_sub(1)).unwrap_or(u32::MAX),
            });
        };
        if !compatible(bus.flags, flags, addr.bus(), mode) {
            check_compatible(bus.flags, flags, *addr, mode)?;
        }
        let slot = addr.slot().as_u8();
        if bus.min_slot > 0 && slot < bus.min_slot {
            return Err(AllocError::SlotTooLow {
                addr: *addr,
                min: bus.min_slot,
            });
        }
        if slot > bus.max_slot {
            return Err(AllocError::SlotTooHigh {
                addr: *addr,
                max: bus.max_slot,
            });
        }
        Ok(())
    }

    /// Reserve (§5.4). In the dry run a missing bus is grown first, which
    /// may bump `addr`'s bus number.
    pub(crate) fn reserve(
        &mut self,
        addr: &mut PciAddress,
        flags: ConnectFlags,
        mode: CheckMode,
    ) -> Result<(), AllocError> {
        self.reserve_in(addr, flags, mode, 0)
    }

    /// Reserve (§5.4) for a device of isolation group `group`.
    #[inline]
    pub(crate) fn reserve_in(
        &mut self,
        addr: &mut PciAddress,
        flags: ConnectFlags,
        mode: CheckMode,
        group: u32,
    ) -> Result<(), AllocError> {
        if self.fits(addr, flags, mode) {
            self.mark(addr, flags, mode, group);
            return Ok(());
        }
        self.reserve_in_checked(addr, flags, mode, group)
    }

    /// Takes back every reservation, before any search ran: the buses are
    /// as their controllers made them.
    pub(crate) fn clear_reservations(&mut self) {
        for b in &mut self.buses {
            b.used = [0; 32];
            b.aggregate = 0;
            b.nonempty = 0;
            b.full = 0;
            b.group = 0;
        }
    }

    /// Reserve in explicit mode for a device outside isolation groups, when
    /// the address is free and valid (see [`AddressSet::fits`]); false,
    /// with nothing changed, when it is not.
    #[inline]
    pub(crate) fn reserve_given(&mut self, addr: &PciAddress, flags: ConnectFlags) -> bool {
        let ok = self.fits(addr, flags, CheckMode::Explicit);
        if ok {
            self.mark(addr, flags, CheckMode::Explicit, 0);
        }
        ok
    }

    /// Whether `addr` is on an existing bus, passes Validate (§5.5) and is
    /// free: the common case of Reserve, answered without building an
    /// error.
    #[inline]
    fn fits(&self, addr: &PciAddress, flags: ConnectFlags, mode: CheckMode) -> bool {
        let Some(bus) = self.bus(usize::from(addr.bus())) else {
            return false;
        };
        let slot = addr.slot().as_u8();
        addr.domain() == 0
            && compatible(bus.flags, flags, addr.bus(), mode)
            && !(bus.min_slot > 0 && slot < bus.min_slot)
            && slot <= bus.max_slot
            && bus.slot_used(slot) & (1u8 << addr.function().as_u8()) == 0
    }

    /// Reserve with every check in libvirt's order, for the error it gives
    /// (or the dry run's growth of a missing bus).
    #[inline(never)]
    fn reserve_in_checked(
        &mut self,
        addr: &mut PciAddress,
        flags: ConnectFlags,
        mode: CheckMode,
        group: u32,
    ) -> Result<(), AllocError> {
        if self.dry_run && usize::from(addr.bus()) >= self.buses.len() {
            let mut bus = u32::from(addr.bus());
            self.grow(&mut bus, flags)?;
            let bus = u8::try_from(bus).map_err(|_| AllocError::TooManyBuses { index: bus })?;
            addr.set_bus(bus);
        }
        self.validate(addr, flags, mode)?;
        if self.is_used(addr) {
            return Err(AllocError::DoubleUse {
                addr: addr.with_multifunction(crate::Multifunction::Absent),
            });
        }
        self.mark(addr, flags, mode, group);
        Ok(())
    }

    /// Marks a checked, free address used (the end of Reserve).
    #[inline]
    fn mark(&mut self, addr: &PciAddress, flags: ConnectFlags, mode: CheckMode, group: u32) {
        if let Some(bus) = self.bus_mut(usize::from(addr.bus())) {
            bus.mark(
                addr.slot().as_u8(),
                addr.function().as_u8(),
                flags,
                mode,
                group,
            );
        }
    }

    /// Releases one function of a live guest's set (a detach). The slot's
    /// markers go when its last function does, and searches start over
    /// from bus 0 (a cursor may lie past the freed slot).
    pub(crate) fn release(&mut self, addr: &PciAddress) {
        let slot = addr.slot().as_u8();
        if let Some(bus) = self.buses.get_mut(usize::from(addr.bus()))
            && let Some(used) = bus.used.get_mut(usize::from(slot))
        {
            *used &= !(1u8 << addr.function().as_u8());
            bus.full &= !(1u32 << slot);
            if *used == 0 {
                bus.nonempty &= !(1u32 << slot);
                bus.aggregate &= !(1u32 << slot);
            }
        }
        self.cursors.clear();
    }

    /// This set as the kept set of a live guest, or `None` where hot-plug
    /// must rebuild it every time (isolation groups change with every
    /// device; a dry run's set is not the guest's).
    pub(crate) fn for_hotplug(mut self) -> Option<AddressSet> {
        if self.isolation || self.dry_run {
            return None;
        }
        self.device_groups = Vec::new();
        Some(self)
    }

    /// Grow (§5.7): adds buses so that bus `*bus` exists, possibly bumping
    /// `*bus` by one when a first bridge level has to be inserted.
    pub(crate) fn grow(&mut self, bus: &mut u32, flags: ConnectFlags) -> Result<(), AllocError> {
        let have = u32::try_from(self.buses.len()).unwrap_or(u32::MAX);
        if *bus < have {
            return Ok(());
        }
        let mut add = bus.saturating_sub(have).saturating_add(1);
        let (model, first_level) = self.growth(flags)?;
        if first_level.is_some() && add == 1 {
            add = 2;
            *bus = bus.saturating_add(1);
        }
        let total = have.saturating_add(add);
        if usize::try_from(total).unwrap_or(usize::MAX) > MAX_BUSES {
            // libvirt's count goes on past bus 255 and fails later (in the
            // controllers it adds, or in their index check); the dry run
            // notes it and counts on without those buses.
            self.overflow = true;
            return Err(AllocError::TooManyBuses {
                index: u32::try_from(MAX_BUSES).unwrap_or(u32::MAX),
            });
        }
        let mut remaining = add;
        match first_level {
            Some(ControllerModel::DmiToPciBridge) => {
                let mut b = Bus::unset();
                b.set_model(ControllerModel::DmiToPciBridge, true);
                self.buses.push(b);
                remaining = remaining.saturating_sub(1);
            }
            Some(_) => {
                // A root port that takes only the pcie-to-pci-bridge during
                // the dry run, so nothing else is counted on it (§2.2).
                let mut rp = Bus::unset();
                rp.set_model(ControllerModel::PcieRootPort, true);
                rp.flags = ConnectFlags::PCIE_TO_PCI_BRIDGE;
                self.buses.push(rp);
                let mut p2p = Bus::unset();
                p2p.set_model(ControllerModel::PcieToPciBridge, true);
                self.buses.push(p2p);
                remaining = remaining.saturating_sub(2);
            }
            None => {}
        }
        for _ in 0..remaining {
            let mut b = Bus::unset();
            b.set_model(model, true);
            self.buses.push(b);
        }
        Ok(())
    }

    /// Grow's choice (§5.7) for a device with `flags`: the model of the
    /// buses to add, and the first bridge level to insert before them (a
    /// PCI device on a machine without a pci-bridge bus yet).
    fn growth(
        &self,
        flags: ConnectFlags,
    ) -> Result<(ControllerModel, Option<ControllerModel>), AllocError> {
        let mut first_level: Option<ControllerModel> = None;
        let model = if flags.contains(ConnectFlags::PCI_DEVICE) && self.host_bridges {
            ControllerModel::PciRoot
        } else if flags.contains(ConnectFlags::PCI_DEVICE) {
            let has_bridge_bus = self
                .buses
                .iter()
                .any(|b| b.flags.contains(ConnectFlags::PCI_BRIDGE));
            if !has_bridge_bus {
                first_level = Some(if self.pcie_to_pci_available {
                    ControllerModel::PcieToPciBridge
                } else {
                    ControllerModel::DmiToPciBridge
                });
            }
            ControllerModel::PciBridge
        } else if flags
            .intersects(ConnectFlags::PCIE_DEVICE.union(ConnectFlags::PCIE_SWITCH_UPSTREAM_PORT))
        {
            ControllerModel::PcieRootPort
        } else {
            const NAMED: [(ConnectFlags, &str); 7] = [
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
            ];
            return Err(match NAMED.iter().find(|(f, _)| flags.contains(*f)) {
                Some((_, model)) => AllocError::ControllerNotAddable { model },
                None => AllocError::CannotAddBus {
                    flags: flags.bits(),
                },
            });
        };
        Ok((model, first_level))
    }

    /// Scans one bus for a free slot (§5.6).
    #[inline]
    fn scan_bus(
        &self,
        bus_nr: usize,
        flags: ConnectFlags,
        function: Option<u8>,
    ) -> Option<(u8, u8)> {
        scan(
            self.bus(bus_nr)?,
            u8::try_from(bus_nr).ok()?,
            flags,
            function,
        )
    }

    /// FindNext (§5.6): the first free compatible address, scanning from
    /// bus 0, lowest slot, as libvirt does (the cursor only skips buses that
    /// cannot answer). In the dry run a new bus is grown when nothing fits.
    /// FindNext with isolation groups (§5.6 passes 1 and 2): buses of the
    /// device's group first, then empty unlocked buses.
    fn find_isolated(
        &mut self,
        flags: ConnectFlags,
        function: Option<u8>,
        group: u32,
    ) -> Result<Found, AllocError> {
        let pass1 = (0..self.buses.len())
            .filter(|&b| self.bus(b).is_some_and(|bus| bus.group == group))
            .find_map(|b| self.scan_bus(b, flags, function).map(|hit| (b, hit)));
        let hit = pass1.or_else(|| {
            (0..self.buses.len())
                .filter(|&b| {
                    self.bus(b)
                        .is_some_and(|bus| bus.nonempty == 0 && !bus.locked)
                })
                .find_map(|b| self.scan_bus(b, flags, function).map(|hit| (b, hit)))
        });
        if let Some((bus_nr, (slot, f))) = hit {
            return make_addr(bus_nr, slot, f);
        }
        if !self.dry_run {
            return Err(AllocError::NoFreeSlot);
        }
        self.grow_for(flags, function)
    }

    /// Dry run, nothing fits: grow a new bus and answer its lowest slot.
    fn grow_for(&mut self, flags: ConnectFlags, function: Option<u8>) -> Result<Found, AllocError> {
        let mut bus = u32::try_from(self.buses.len()).unwrap_or(u32::MAX);
        self.grow(&mut bus, flags)?;
        let bus_nr = usize::try_from(bus).unwrap_or(usize::MAX);
        let slot = self.bus(bus_nr).map_or(0, |b| b.min_slot);
        make_addr(bus_nr, slot, function.unwrap_or(0))
    }

    /// FindNext for a device of isolation group `group`.
    pub(crate) fn find_next_in(
        &mut self,
        flags: ConnectFlags,
        function: Option<u8>,
        group: u32,
    ) -> Result<Found, AllocError> {
        if self.buses.is_empty() {
            return Err(AllocError::NoBuses);
        }
        if self.isolation {
            return self.find_isolated(flags, function, group);
        }
        let slot_in_cursors = self
            .cursors
            .iter()
            .position(|(fl, fu, _)| *fl == flags && *fu == function);
        let start = slot_in_cursors
            .and_then(|i| self.cursors.get(i))
            .map_or(0, |c| c.2);
        let hit = self.buses.get(start..).and_then(|rest| {
            rest.iter().enumerate().find_map(|(k, bus)| {
                let bus_nr = start + k;
                scan(bus, u8::try_from(bus_nr).ok()?, flags, function).map(|h| (bus_nr, h))
            })
        });
        if let Some((bus_nr, (slot, f))) = hit {
            match slot_in_cursors.and_then(|i| self.cursors.get_mut(i)) {
                Some(c) => c.2 = bus_nr,
                None => self.cursors.push((flags, function, bus_nr)),
            }
            return make_addr(bus_nr, slot, f);
        }
        if !self.dry_run {
            return Err(AllocError::NoFreeSlot);
        }
        self.grow_past(flags, function)
    }

    /// Dry run, every existing bus was searched from the cursor and cannot
    /// answer: later searches of this kind start at the first new bus, and
    /// a new bus is grown (see [`AddressSet::grow_for`]).
    fn grow_past(
        &mut self,
        flags: ConnectFlags,
        function: Option<u8>,
    ) -> Result<Found, AllocError> {
        let old_len = self.buses.len();
        match self
            .cursors
            .iter_mut()
            .find(|(fl, fu, _)| *fl == flags && *fu == function)
        {
            Some(c) => c.2 = old_len,
            None => self.cursors.push((flags, function, old_len)),
        }
        self.grow_for(flags, function)
    }

    /// ReserveNext (§5.6): find and reserve in auto mode.
    pub(crate) fn reserve_next(
        &mut self,
        flags: ConnectFlags,
        function: Option<u8>,
    ) -> Result<PciAddress, AllocError> {
        self.reserve_next_in(flags, function, 0)
    }

    /// The common case of ReserveNext, without isolation groups: a search
    /// of this kind ran before, and an existing bus from its cursor on has
    /// a free slot; that slot is reserved. `None` leaves the set as it was
    /// (the full search then runs).
    #[inline]
    fn take_from_cursor(
        &mut self,
        flags: ConnectFlags,
        function: Option<u8>,
        group: u32,
    ) -> Option<PciAddress> {
        let cursor = self
            .cursors
            .iter_mut()
            .find(|c| c.0 == flags && c.1 == function)?;
        let start = cursor.2;
        for (k, bus) in self.buses.get_mut(start..)?.iter_mut().enumerate() {
            let bus_nr = u8::try_from(start + k).ok()?;
            if let Some((slot, f)) = scan(bus, bus_nr, flags, function) {
                let addr =
                    PciAddress::new(0, bus_nr, Slot::new(slot).ok()?, Function::new(f).ok()?);
                cursor.2 = start + k;
                bus.mark(slot, f, flags, CheckMode::Auto, group);
                return Some(addr);
            }
        }
        None
    }

    /// ReserveNext for `n` devices with `flags` in a row, at no fixed
    /// function and in isolation group 0: the addresses `n` calls of
    /// [`AddressSet::reserve_next`] give, and the same set after them. A
    /// walk from the search cursor takes what the existing buses hold; the
    /// next device then goes to ReserveNext's full search, which grows a
    /// bus in the dry run (and the walk goes on) or fails.
    ///
    /// # Errors
    /// What ReserveNext gives the device after the `out.len()` placed
    /// ones; the set is then as that ReserveNext left it.
    pub(crate) fn reserve_run(
        &mut self,
        flags: ConnectFlags,
        n: usize,
        out: &mut Vec<PciAddress>,
    ) -> Result<(), AllocError> {
        out.reserve(n.saturating_sub(out.len()));
        while out.len() < n {
            let cursor = self
                .cursors
                .iter()
                .position(|c| c.0 == flags && c.1.is_none());
            let addr = match cursor {
                Some(ci) if !self.isolation => {
                    self.walk_run(ci, flags, n, out);
                    if out.len() >= n {
                        break;
                    }
                    // The walk took what the buses from the cursor hold:
                    // the search for the next device finds nothing there.
                    if !self.dry_run {
                        return Err(AllocError::NoFreeSlot);
                    }
                    let mut addr = self.grow_past(flags, None)?;
                    self.reserve_in(&mut addr, flags, CheckMode::Auto, 0)?;
                    out.push(addr);
                    self.grow_run(ci, flags, n, out);
                    continue;
                }
                _ => self.reserve_next_in(flags, None, 0)?,
            };
            out.push(addr);
        }
        Ok(())
    }

    /// The dry run of [`AddressSet::reserve_run`] once a bus was grown for
    /// `flags` and took a device: after the rest of that bus, each further
    /// device finds no room on the buses there were, so each bus grown for
    /// the rest of the run is the
    /// same one bus of Grow's model (no first level is left to insert),
    /// taking the lowest free slots, as Grow and Reserve would one device
    /// at a time. Stops before the bus limit, and at a bus that would not
    /// take the device: the one-at-a-time path then gives their outcome.
    fn grow_run(&mut self, ci: usize, flags: ConnectFlags, n: usize, out: &mut Vec<PciAddress>) {
        if flags.contains(ConnectFlags::AGGREGATE_SLOT) {
            return;
        }
        // The rest of the bus just grown first, as the next search would.
        self.walk_run(ci, flags, n, out);
        let Ok((model, None)) = self.growth(flags) else {
            return;
        };
        let mut fresh = Bus::unset();
        fresh.set_model(model, true);
        while out.len() < n && self.buses.len() < MAX_BUSES {
            let bus_nr = self.buses.len();
            let (Ok(nr), Some(cursor)) = (u8::try_from(bus_nr), self.cursors.get_mut(ci)) else {
                return;
            };
            if fresh.range == 0 || !auto_compatible(fresh.flags, flags, nr) {
                return;
            }
            let taken = lowest_bits(fresh.range, n.saturating_sub(out.len()));
            let mut bus = fresh.clone();
            bus.mark_whole_slots(taken);
            self.buses.push(bus);
            cursor.2 = bus_nr;
            push_whole_slots(nr, taken, out);
        }
    }

    /// One walk of [`AddressSet::reserve_run`] over the buses from cursor
    /// `ci` on, taking free slots until `out` holds `n` addresses.
    fn walk_run(&mut self, ci: usize, flags: ConnectFlags, n: usize, out: &mut Vec<PciAddress>) {
        let Some(cursor) = self.cursors.get_mut(ci) else {
            return;
        };
        let start = cursor.2;
        let Some(rest) = self.buses.get_mut(start..) else {
            return;
        };
        for (k, bus) in rest.iter_mut().enumerate() {
            if out.len() >= n {
                return;
            }
            let Ok(bus_nr) = u8::try_from(start + k) else {
                return;
            };
            if flags.contains(ConnectFlags::AGGREGATE_SLOT) {
                // Root ports share slots: the search's answer, one by one.
                while out.len() < n
                    && let Some((slot, f)) = scan(bus, bus_nr, flags, None)
                {
                    let (Ok(s), Ok(func)) = (Slot::new(slot), Function::new(f)) else {
                        return;
                    };
                    bus.mark(slot, f, flags, CheckMode::Auto, 0);
                    cursor.2 = start + k;
                    out.push(PciAddress::new(0, bus_nr, s, func));
                }
                continue;
            }
            let free = !bus.nonempty & bus.range;
            if free == 0 || !auto_compatible(bus.flags, flags, bus_nr) {
                continue;
            }
            // The lowest free slots, as many as are still wanted.
            let taken = lowest_bits(free, n.saturating_sub(out.len()));
            bus.mark_whole_slots(taken);
            cursor.2 = start + k;
            push_whole_slots(bus_nr, taken, out);
        }
    }

    /// ReserveNext for a device of isolation group `group`.
    #[inline]
    pub(crate) fn reserve_next_in(
        &mut self,
        flags: ConnectFlags,
        function: Option<u8>,
        group: u32,
    ) -> Result<PciAddress, AllocError> {
        if !self.isolation
            && let Some(addr) = self.take_from_cursor(flags, function, group)
        {
            return Ok(addr);
        }
        self.reserve_next_searching(flags, function, group)
    }

    /// ReserveNext by the full search (a new kind of search, isolation
    /// groups, or the dry run growing a bus).
    #[inline(never)]
    fn reserve_next_searching(
        &mut self,
        flags: ConnectFlags,
        function: Option<u8>,
        group: u32,
    ) -> Result<PciAddress, AllocError> {
        let before = self.buses.len();
        let mut addr = self.find_next_in(flags, function, group)?;
        if usize::from(addr.bus()) < before {
            // Found on an existing bus: the search checked the bus's flags,
            // the slot range and that the function is free.
            self.mark(&addr, flags, CheckMode::Auto, group);
        } else {
            // On a bus the dry run just grew: checked in full.
            self.reserve_in(&mut addr, flags, CheckMode::Auto, group)?;
        }
        Ok(addr)
    }
}

/// Function 0 of every slot in `mask` on bus `bus_nr`, lowest slot first,
/// appended to `out`.
fn push_whole_slots(bus_nr: u8, mask: u32, out: &mut Vec<PciAddress>) {
    let mut left = mask;
    while left != 0 {
        let slot = u8::try_from(left.trailing_zeros()).unwrap_or(31);
        left &= left - 1;
        if let Ok(s) = Slot::new(slot) {
            out.push(PciAddress::new(0, bus_nr, s, Function::ZERO));
        }
    }
}

/// The lowest `n` set bits of `bits` (all of them when it has no more).
fn lowest_bits(bits: u32, n: usize) -> u32 {
    if bits.count_ones() as usize <= n {
        return bits;
    }
    let mut rest = bits;
    for _ in 0..n {
        rest &= rest.wrapping_sub(1);
    }
    bits & !rest
}

/// The slots from `lo` to `hi` (at most 31), one bit per slot.
const fn slot_range(lo: u8, hi: u8) -> u32 {
    let hi = if hi > 31 { 31 } else { hi };
    let lo = if lo > 31 { 31 } else { lo };
    (u32::MAX >> (31 - hi)) & (u32::MAX << lo)
}

/// Scans one bus (number `bus_nr`) for a free slot a device with `flags`
/// may take (§5.6): the cheap occupancy test first, then compatibility.
#[inline(always)]
fn scan(bus: &Bus, bus_nr: u8, flags: ConnectFlags, function: Option<u8>) -> Option<(u8, u8)> {
    let f = function.unwrap_or(0);
    if !flags.contains(ConnectFlags::AGGREGATE_SLOT) {
        // Only a completely free slot can answer: take the lowest one.
        let free = !bus.nonempty & bus.range;
        if free == 0 || !auto_compatible(bus.flags, flags, bus_nr) {
            return None;
        }
        return Some((u8::try_from(free.trailing_zeros()).unwrap_or(0), f));
    }
    // Aggregate devices (root ports): the first slot that is free, or
    // marked aggregate with the wanted (or any) function free. Full slots
    // can never answer.
    let mut candidates = bus.range & !bus.full;
    if candidates == 0 || !auto_compatible(bus.flags, flags, bus_nr) {
        return None;
    }
    while candidates != 0 {
        let slot = u8::try_from(candidates.trailing_zeros()).unwrap_or(31);
        candidates &= candidates - 1;
        let used = bus.slot_used(slot);
        if used == 0 {
            return Some((slot, f));
        }
        if bus.aggregate & (1u32 << slot) != 0 {
            if used & (1u8 << f) == 0 {
                return Some((slot, f));
            }
            if function.is_none() {
                let free = u8::try_from((!used).trailing_zeros()).unwrap_or(8);
                if free < 8 {
                    return Some((slot, free));
                }
            }
        }
    }
    None
}

fn make_addr(bus: usize, slot: u8, function: u8) -> Result<PciAddress, AllocError> {
    let bus_u8 = u8::try_from(bus).map_err(|_| AllocError::TooManyBuses {
        index: u32::try_from(bus).unwrap_or(u32::MAX),
    })?;
    let slot = Slot::new(slot).map_err(|_| AllocError::NoFreeSlot)?;
    let function = Function::new(function).map_err(|_| AllocError::NoFreeSlot)?;
    Ok(PciAddress::new(0, bus_u8, slot, function))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// A set of pcie-root, pci-bridge and pcie-root-port buses with some
    /// slots used by whole-slot devices and some by root ports (aggregate).
    fn set() -> impl Strategy<Value = AddressSet> {
        (
            prop_oneof![
                prop::collection::vec((0u8..3, any::<u32>(), any::<u32>()), 1..12),
                prop::collection::vec((0u8..3, any::<u32>(), any::<u32>()), 240..256),
            ],
            any::<bool>(),
        )
            .prop_map(|(buses, dry)| {
                let mut set = AddressSet::new(buses.len(), dry, true);
                let port = ConnectFlags::PCIE_ROOT_PORT | ConnectFlags::AGGREGATE_SLOT;
                for (b, (model, used, ports)) in set.buses.iter_mut().zip(buses) {
                    let model = match model {
                        0 => ControllerModel::PcieRootPort,
                        1 => ControllerModel::PciBridge,
                        _ => ControllerModel::PcieRoot,
                    };
                    b.set_model(model, true);
                    for slot in 0..32u8 {
                        if used & (1u32 << slot) != 0 && slot % 3 == 0 {
                            b.mark(slot, 0, ConnectFlags::P, CheckMode::Explicit, 0);
                        } else if ports & (1u32 << slot) != 0 {
                            for f in (0..8u8).filter(|f| (ports >> f) & 1 != 0) {
                                b.mark(slot, f, port, CheckMode::Explicit, 0);
                            }
                        }
                    }
                }
                set
            })
    }

    proptest! {
        /// A run of placements gives the addresses, the error and the set
        /// that the placements one after another give, in the real pass
        /// (which fails at the end of the buses) and in the dry run (which
        /// grows buses).
        #[test]
        fn prop_a_run_equals_one_placement_after_another(
            start in set(),
            kind in 0u8..3,
            n in 1usize..300,
        ) {
            let flags = match kind {
                0 => ConnectFlags::E_PCIE | ConnectFlags::HOTPLUGGABLE,
                1 => ConnectFlags::P | ConnectFlags::HOTPLUGGABLE,
                _ => ConnectFlags::PCIE_ROOT_PORT | ConnectFlags::AGGREGATE_SLOT,
            };
            let mut one = start.clone();
            let mut run = start;
            // The first placement sets the cursor up in both.
            let first = one.reserve_next(flags, None);
            prop_assert_eq!(&first, &run.reserve_next(flags, None));
            if first.is_err() {
                // No bus takes these devices: there is no run to compare.
                return Ok(());
            }
            let mut got = Vec::new();
            let result = run.reserve_run(flags, n, &mut got);
            let mut want = Vec::new();
            let mut failure = None;
            while want.len() < n {
                match one.reserve_next(flags, None) {
                    Ok(a) => want.push(a),
                    Err(e) => {
                        failure = Some(e);
                        break;
                    }
                }
            }
            prop_assert_eq!(&got, &want);
            prop_assert_eq!(result.err(), failure);
            prop_assert_eq!(&run, &one);
        }
    }
}
