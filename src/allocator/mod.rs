//! The allocator: libvirt's two-pass assignment (spec §5).
//!
//! libvirt first runs a *dry run* that places every device on a growable
//! address set only to count the buses needed, then appends the missing
//! controllers to the definition, and finally runs the *real pass* on a set of
//! exactly that many buses. The two passes place things in different orders
//! (§5.13), which is why some inputs fail with a bridge error; we keep both
//! passes so that our answers, including those failures, are libvirt's.

pub(crate) mod addrset;
mod chipset;
mod hotplug;
mod transport;
mod zpci;

use addrset::AddressSet;
use zpci::ZpciPart;

use crate::address::{Function, Multifunction, PciAddress, Slot};
use crate::controller::ControllerModel;
use crate::device::{
    BalloonModel, ConsoleTarget, Controller, ControllerKind, Device, DeviceAddress, DeviceKind,
    FlagContext, HostdevSource, IommuModel, MemoryModel, ScsiModel, SerialTarget, SoundModel,
    UsbModel, VideoModel, WatchdogModel, connect_flags,
};
use crate::error::{AllocError, Error};
use crate::flags::{CheckMode, ConnectFlags};
use crate::machine::Growth;
use crate::plan::Plan;

/// Where a USB2 controller goes within its set: the set's index, its
/// fixed function and the multifunction marker it gets (§5.9 step 5).
#[derive(Copy, Clone, Debug)]
struct Usb2Place {
    index: Option<u32>,
    function: u8,
    multifunction: Multifunction,
}

/// Which pass is running.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Pass {
    Dry,
    Real,
}

/// Builds the crate error for an assignment failure on a device.
pub(crate) fn fail(reason: AllocError, mode: CheckMode, device: Option<&Device>) -> Error {
    Error::Assign {
        class: reason.class(mode == CheckMode::Explicit),
        device: device.map(ToString::to_string),
        reason,
    }
}

fn fixed(bus: u8, slot: u8, function: u8) -> PciAddress {
    PciAddress::new(
        0,
        bus,
        Slot::new(slot).unwrap_or(Slot::ZERO),
        Function::new(function).unwrap_or(Function::ZERO),
    )
}

impl Plan {
    /// Assigns every wanted device an address, adding controllers and
    /// default devices as libvirt 9.0 would: post-parse defaults (§4.2),
    /// checks (§6.2), the dry run and real pass (§5), validation (§6.4–6.5).
    ///
    /// Devices that already have an address keep it. On error the plan is
    /// unchanged.
    ///
    /// # Errors
    /// The first error libvirt would report, as [`Error::Assign`] or
    /// [`Error::Config`] with libvirt's message.
    ///
    /// ```
    /// use pciplan::{Capabilities, Machine, Plan};
    /// let mut plan = Plan::new(Machine::pc(), Capabilities::qemu_8_0_x86_64());
    /// plan.assign()?;
    /// // the implicit USB controller sits at 00:01.2 on i440fx
    /// let usb = plan.devices().iter().find(|d| d.kind.element() == "controller"
    ///     && d.kind.controller().is_some_and(|c| c.kind.type_name() == "usb"));
    /// assert_eq!(usb.and_then(|d| d.address.present()).map(|a| a.to_string()).as_deref(), Some("0000:00:01.2"));
    /// # Ok::<(), pciplan::Error>(())
    /// ```
    pub fn assign(&mut self) -> Result<(), Error> {
        self.transaction(|plan| {
            plan.apply_defaults()?;
            plan.check_before_assign()?;
            let set = plan.assign_addresses()?;
            plan.validate_after_assign()?;
            plan.live.0 = set.and_then(AddressSet::for_hotplug).map(Box::new);
            Ok(())
        })
    }

    /// The connect flags of device `i` (§3), or empty when out of range.
    pub fn connect_flags_of(&self, i: usize) -> ConnectFlags {
        let ctx = self.flag_context();
        self.devices.get(i).map_or(ConnectFlags::empty(), |d| {
            connect_flags(&d.kind, &d.address, &ctx)
        })
    }

    pub(crate) fn flag_context(&self) -> FlagContext<'_> {
        FlagContext {
            pcie_root: self.root_model() == Some(ControllerModel::PcieRoot),
            caps: &self.caps,
            host: &self.host,
        }
    }

    /// The model of the PCI controller with index 0.
    pub(crate) fn root_model(&self) -> Option<ControllerModel> {
        self.pci_controller(0).and_then(Controller::pci_model)
    }

    /// Device iteration order (§5.14): kinds in libvirt's order, list order
    /// within a kind; the first console is skipped when it mirrors the
    /// first serial port.
    pub(crate) fn iteration_order(&self) -> Vec<usize> {
        self.iteration_order_where(|_| true)
    }

    /// The devices for which `keep` holds, in iteration order (§5.14): a
    /// pass that only needs some devices (those with an address, say) sorts
    /// only those. The mirrored first console is left out as in
    /// [`Plan::iteration_order`].
    pub(crate) fn iteration_order_where(&self, keep: impl Fn(&Device) -> bool) -> Vec<usize> {
        // One pass over the devices collects the kept ones with their kind
        // rank and finds the first console (consoles share one rank, so the
        // first in list order is the first visited); a counting sort by rank
        // of the kept ones then gives the order: stable, linear.
        const KINDS: usize = 25;
        let mut kept: Vec<(u8, u32)> = Vec::with_capacity(self.devices.len());
        let mut start = [0usize; KINDS + 1];
        let mut first_console: Option<(usize, &Device)> = None;
        for (i, d) in self.devices.iter().enumerate() {
            if first_console.is_none() && matches!(d.kind, DeviceKind::Console(_)) {
                first_console = Some((i, d));
            }
            if keep(d) {
                let rank = d
                    .kind
                    .iteration_rank()
                    .min(u8::try_from(KINDS - 1).unwrap_or(0));
                if let Some(c) = start.get_mut(usize::from(rank) + 1) {
                    *c += 1;
                }
                kept.push((rank, u32::try_from(i).unwrap_or(u32::MAX)));
            }
        }
        let skipped = first_console.and_then(|(i, d)| mirrors_serial(d).then_some(i));
        for r in 0..KINDS {
            let prev = start.get(r).copied().unwrap_or(0);
            if let Some(c) = start.get_mut(r + 1) {
                *c += prev;
            }
        }
        let mut order = vec![0usize; kept.len()];
        for (rank, i) in kept {
            if let Some(pos) = start.get_mut(usize::from(rank)) {
                if let Some(slot) = order.get_mut(*pos) {
                    *slot = usize::try_from(i).unwrap_or(usize::MAX);
                }
                *pos += 1;
            }
        }
        if let Some(c) = skipped {
            order.retain(|&i| i != c);
        }
        order
    }

    /// The first console when it mirrors the first serial port: the device
    /// loop and every pass in iteration order skip it (§5.14). Consoles
    /// share one kind rank, so the first in list order is the first visited.
    fn skipped_console(&self) -> Option<usize> {
        let (i, d) = self
            .devices
            .iter()
            .enumerate()
            .find(|(_, d)| matches!(d.kind, DeviceKind::Console(_)))?;
        mirrors_serial(d).then_some(i)
    }

    fn compute_flags(&self) -> Vec<ConnectFlags> {
        let ctx = self.flag_context();
        self.devices
            .iter()
            .map(|d| connect_flags(&d.kind, &d.address, &ctx))
            .collect()
    }

    /// §5.15 set-up: host PCI devices get their host IOMMU group + 1;
    /// everything else stays in group 0.
    fn isolation_groups(&self) -> Vec<u32> {
        self.devices
            .iter()
            .map(|d| match &d.kind {
                DeviceKind::Hostdev(HostdevSource::Pci(Some(a)))
                | DeviceKind::Interface {
                    hostdev: Some(HostdevSource::Pci(Some(a))),
                    ..
                } => self.host.iommu_group(*a).map_or(0, |g| g.saturating_add(1)),
                _ => 0,
            })
            .collect()
    }

    /// The largest PCI controller index; above 255 the plan is refused
    /// before any state sized by it is built (rule 37): a pcie-root machine
    /// would run out of root-port slots on the way there (libvirt's dry run
    /// fails with the root port it cannot place), any other machine fails
    /// libvirt's validation of the index.
    fn max_pci_index(&self) -> Result<i64, Error> {
        let max = self.max_pci_index_unchecked();
        if max <= 255 {
            return Ok(max);
        }
        // The address set's first step refuses a PCI controller without a
        // model, in controller order.
        for pos in self.controller_positions() {
            if let Some(dev) = self.devices.get(pos)
                && let Some(Controller {
                    kind: ControllerKind::Pci(p),
                    ..
                }) = dev.kind.controller()
                && p.model.is_none()
            {
                return Err(fail(AllocError::ModelUnset, CheckMode::Auto, Some(dev)));
            }
        }
        let device = self.devices.iter().find(|d| {
            d.kind.controller().is_some_and(|c| {
                matches!(c.kind, ControllerKind::Pci(_)) && i64::from(c.idx()) == max
            })
        });
        if self.root_model() == Some(ControllerModel::PcieRoot) {
            return Err(fail(
                AllocError::ControllerNotAddable {
                    model: ControllerModel::PcieRootPort.as_str(),
                },
                CheckMode::Auto,
                device,
            ));
        }
        // 11.3 inserts the controllers its dry run adds by index, so the
        // first one validated is index 256, given or added.
        let index = if self.libvirt.sorts_added_controllers() {
            256
        } else {
            u32::try_from(max).unwrap_or(u32::MAX)
        };
        let device = device.filter(|d| d.kind.controller().is_some_and(|c| c.idx() == index));
        Err(Error::Config {
            device: device.map(ToString::to_string),
            reason: crate::error::ConfigError::IndexTooHigh { index },
        })
    }

    fn max_pci_index_unchecked(&self) -> i64 {
        self.devices
            .iter()
            .filter_map(|d| d.kind.controller())
            .filter(|c| matches!(c.kind, ControllerKind::Pci(_)))
            .map(|c| i64::from(c.idx()))
            .max()
            .unwrap_or(-1)
    }

    /// §5.2: dry run (when there is a PCI controller), then the real pass.
    /// Returns the real pass's address set (none without PCI).
    fn assign_addresses(&mut self) -> Result<Option<AddressSet>, Error> {
        self.assign_transports()?;
        let max_index = self.max_pci_index()?;
        let mut flags = self.compute_flags();
        // The zPCI flag is decided here (§5.2 step 3): controllers the dry
        // run appends carry none.
        let zpci_upto = self.devices.len();
        let mut bus_count = usize::try_from(max_index.saturating_add(1)).unwrap_or(0);
        if bus_count > 0 {
            bus_count = self.dry_run(bus_count, max_index, &mut flags, zpci_upto)?;
            if self.libvirt.sorts_added_controllers() && self.devices.len() > zpci_upto {
                // 11.3 inserts the added controllers by index; the device
                // loop then visits them in that order.
                let added = self.split_devices(zpci_upto);
                for d in added {
                    self.insert_device(d);
                }
                flags = self.compute_flags();
            }
        }
        let mut set = self.build_set(bus_count, Pass::Real, &flags, zpci_upto)?;
        if !self.profile.supports_pci {
            return Ok(None);
        }
        self.chipset(&mut set, &flags, Pass::Real)?;
        self.device_loop(&mut set, &flags, Pass::Real)?;
        self.zpci_ids(&mut set, ZpciPart::Rest, Pass::Real)?;
        self.mark_multifunction();
        self.controller_defaults()?;
        Ok(Some(set))
    }

    /// §5.11: counts the buses needed and appends the missing controllers.
    fn dry_run(
        &mut self,
        bus_count: usize,
        max_index: i64,
        flags: &mut Vec<ConnectFlags>,
        zpci_upto: usize,
    ) -> Result<usize, Error> {
        let mut set = self.build_set(bus_count, Pass::Dry, flags, zpci_upto)?;
        self.chipset(&mut set, flags, Pass::Dry)?;
        let root = self.root_model();
        // Held-back slot: keeps room for the first bridge on pci-root machines.
        if root == Some(ControllerModel::PciRoot)
            && set.buses.iter().any(|b| !b.is_fully_reserved())
        {
            set.reserve_next(ConnectFlags::P, None)
                .map_err(|e| fail(e, CheckMode::Auto, None))?;
        }
        self.device_loop(&mut set, flags, Pass::Dry)?;
        self.zpci_ids(&mut set, ZpciPart::Rest, Pass::Dry)?;
        // One-time spare root port for hot-plug.
        let initial = usize::try_from(max_index.saturating_add(1)).unwrap_or(0);
        if max_index <= 0
            && (set.len() > initial || set.overflow)
            && root == Some(ControllerModel::PcieRoot)
            && let Err(e) = set.reserve_next(ConnectFlags::E_PCIE, None)
            && !set.counted_past_limit(&e)
        {
            return Err(fail(e, CheckMode::Auto, None));
        }
        // Materialise the buses as controllers, counting their slots.
        // PCI controller indexes are below 256 here (`max_pci_index`).
        let mut existing = [false; MAX_INDEXES];
        let mut count = 0usize;
        for c in self.devices.iter().filter_map(|d| d.kind.controller()) {
            if matches!(c.kind, ControllerKind::Pci(_))
                && let Some(seen) = c
                    .index
                    .and_then(|x| usize::try_from(x).ok())
                    .and_then(|x| existing.get_mut(x))
                && !*seen
            {
                *seen = true;
                count += 1;
            }
        }
        let missing = set.len().saturating_sub(count);
        self.reserve_devices(missing);
        flags.reserve(missing);
        let missing_model = |set: &AddressSet, i: usize| {
            (!existing.get(i).copied().unwrap_or(false)).then(|| {
                set.bus(i)
                    .and_then(|b| b.model)
                    .unwrap_or(ControllerModel::PciBridge)
            })
        };
        let mut run = Vec::new();
        let mut i = 1;
        while i < set.len() {
            let Some(model) = missing_model(&set, i) else {
                i = i.saturating_add(1);
                continue;
            };
            // The missing controllers of one model from here on: appended
            // in index order, then placed as one run (the addresses, and
            // any failure, of placing each as it is appended).
            let mut end = i.saturating_add(1);
            while end < set.len() && missing_model(&set, end) == Some(model) {
                end = end.saturating_add(1);
            }
            let first = self.devices.len();
            let own = model.connect_flags();
            self.append_devices((i..end).map(|index| {
                let index = u32::try_from(index).unwrap_or(u32::MAX);
                Device::new(DeviceKind::Controller(Controller::pci(model, index)))
            }));
            flags.resize(flags.len() + (end - i), own);
            if !model.is_root() {
                let count = end - i;
                let mut placed = 0;
                while placed < count {
                    run.clear();
                    let result = set.reserve_run(own, count - placed, &mut run);
                    placed += run.len();
                    let Err(e) = result else { break };
                    if !set.counted_past_limit(&e) {
                        return Err(fail(e, CheckMode::Auto, self.devices.get(first + placed)));
                    }
                    placed += 1;
                }
            }
            i = end;
        }
        if set.overflow {
            // What libvirt's check of the added controllers then refuses.
            return Err(fail(
                AllocError::TooManyBuses {
                    index: u32::try_from(set.len()).unwrap_or(u32::MAX),
                },
                CheckMode::Auto,
                None,
            ));
        }
        Ok(set.len())
    }

    /// §5.3: buses from the PCI controllers, then the present addresses.
    /// `zpci_upto`: the devices before this position carry the zPCI flag.
    fn build_set(
        &mut self,
        bus_count: usize,
        pass: Pass,
        flags: &[ConnectFlags],
        zpci_upto: usize,
    ) -> Result<AddressSet, Error> {
        let mut set = AddressSet::new(
            bus_count,
            pass == Pass::Dry,
            self.caps.has("pcie-pci-bridge"),
        );
        set.zpci_upto = zpci_upto;
        let host_bridges = self.profile.growth == Growth::HostBridges;
        set.host_bridges = host_bridges;
        if self.profile.isolation_groups {
            set.isolation = true;
            set.device_groups = self.isolation_groups();
        }
        let mut any_pcie_root = false;
        for pos in 0..self.devices.len() {
            let Some(dev) = self.devices.get(pos) else {
                continue;
            };
            let Some(c) = dev.kind.controller() else {
                continue;
            };
            let ControllerKind::Pci(p) = &c.kind else {
                continue;
            };
            let index = c.idx();
            let Some(bus) = set.bus_mut(usize::try_from(index).unwrap_or(usize::MAX)) else {
                return Err(fail(
                    AllocError::IndexBeyondBuses { index },
                    CheckMode::Auto,
                    Some(dev),
                ));
            };
            let Some(model) = p.model else {
                return Err(fail(AllocError::ModelUnset, CheckMode::Auto, Some(dev)));
            };
            any_pcie_root |= model == ControllerModel::PcieRoot;
            bus.set_model(model, p.target.hotplug != Some(false));
            // The default PHB never takes host devices automatically.
            bus.locked = set_locked(index, host_bridges && self.profile.isolation_groups);
        }
        if let Some(b0) = set.bus_mut(0)
            && b0.model.is_none()
        {
            b0.set_model(ControllerModel::PciRoot, true);
        }
        let gap_model = if host_bridges {
            ControllerModel::PciRoot
        } else if any_pcie_root {
            ControllerModel::PcieRootPort
        } else {
            ControllerModel::PciBridge
        };
        for b in &mut set.buses {
            if b.model.is_none() {
                b.set_model(gap_model, true);
            }
        }
        // The given addresses in list order, when that gives the same set
        // as iteration order (the usual case); else in iteration order.
        if !set.isolation && !iteration_order_only() {
            if self.reserve_given_in_list_order(&mut set, flags) {
                self.zpci_ids(&mut set, ZpciPart::Given, pass)?;
                return Ok(set);
            }
            set.clear_reservations();
        }
        for i in self.iteration_order_where(|d| d.address.present().is_some()) {
            let Some(dev) = self.devices.get(i) else {
                continue;
            };
            let Some(mut addr) = dev.address.present() else {
                continue;
            };
            let mut f = flags.get(i).copied().unwrap_or_default();
            if f.is_empty() {
                f = ConnectFlags::PCI_DEVICE;
            }
            if is_piix3_integrated(dev, &addr) {
                let bus0_pci = set
                    .bus(0)
                    .is_some_and(|b| b.flags.contains(ConnectFlags::PCI_DEVICE));
                if set.len() > 0 && !bus0_pci {
                    return Err(fail(AllocError::Piix3BusNotPci, CheckMode::Auto, Some(dev)));
                }
                continue;
            }
            let before = addr;
            let group = set.group_of(i);
            set.reserve_in(&mut addr, f, CheckMode::Explicit, group)
                .map_err(|e| fail(e, CheckMode::Explicit, Some(dev)))?;
            if addr != before {
                self.set_address(i, DeviceAddress::Pci(addr));
            }
        }
        self.zpci_ids(&mut set, ZpciPart::Given, pass)?;
        Ok(set)
    }

    /// Reserves the given addresses (§5.3) in list order, root ports last,
    /// with no error and no growth: the set iteration order would give, as
    /// long as every address is free and valid and no root port shares a
    /// slot with another device (which of them comes first decides whether
    /// the slot is aggregate). False when that does not hold; the set's
    /// reservations are then to be cleared.
    fn reserve_given_in_list_order(&self, set: &mut AddressSet, flags: &[ConnectFlags]) -> bool {
        let bus0_pci = set
            .bus(0)
            .is_some_and(|b| b.flags.contains(ConnectFlags::PCI_DEVICE));
        let mut ports: Vec<(PciAddress, ConnectFlags)> = Vec::new();
        let mut console_seen = false;
        for (i, d) in self.devices.iter().enumerate() {
            if !console_seen && matches!(d.kind, DeviceKind::Console(_)) {
                console_seen = true;
                if mirrors_serial(d) {
                    continue;
                }
            }
            let Some(addr) = d.address.present() else {
                continue;
            };
            let mut f = flags.get(i).copied().unwrap_or_default();
            if f.is_empty() {
                f = ConnectFlags::PCI_DEVICE;
            }
            if is_piix3_integrated(d, &addr) {
                if set.len() > 0 && !bus0_pci {
                    return false;
                }
                continue;
            }
            if f.contains(ConnectFlags::AGGREGATE_SLOT) {
                // Controllers share one kind rank: list order among them is
                // iteration order.
                if !matches!(d.kind, DeviceKind::Controller(_)) {
                    return false;
                }
                ports.push((addr, f));
                continue;
            }
            if !set.reserve_given(&addr, f) {
                return false;
            }
        }
        if ports.is_empty() {
            return true;
        }
        let used: Vec<u32> = set.buses.iter().map(|b| b.nonempty).collect();
        ports.iter().all(|(addr, f)| {
            let shared = used
                .get(usize::from(addr.bus()))
                .is_none_or(|bits| bits & (1u32 << addr.slot().as_u8()) != 0);
            !shared && set.reserve_given(addr, *f)
        })
    }

    /// ReserveNext for device `i`; the real pass stores the address.
    #[inline]
    fn place(
        &mut self,
        set: &mut AddressSet,
        i: usize,
        flags: ConnectFlags,
        function: Option<u8>,
        pass: Pass,
    ) -> Result<(), Error> {
        let group = set.group_of(i);
        match set.reserve_next_in(flags, function, group) {
            Ok(addr) => {
                if pass == Pass::Real {
                    self.place_address(i, addr);
                }
                Ok(())
            }
            Err(e) => self.not_placed(set, i, e),
        }
    }

    /// Device `i` found no address: the dry run counts on past the bus
    /// limit (the device counts as placed), anything else is the error.
    #[cold]
    #[inline(never)]
    fn not_placed(&self, set: &AddressSet, i: usize, e: AllocError) -> Result<(), Error> {
        if set.counted_past_limit(&e) {
            return Ok(());
        }
        Err(fail(e, CheckMode::Auto, self.devices.get(i)))
    }

    /// §5.9: the device loop, in libvirt's fixed order.
    ///
    /// One pass sorts the devices into the loop's steps (controllers are
    /// already in array order in the plan); then the steps run in order.
    fn device_loop(
        &mut self,
        set: &mut AddressSet,
        flags: &[ConnectFlags],
        pass: Pass,
    ) -> Result<(), Error> {
        let fl = |i: usize| flags.get(i).copied().unwrap_or_default();
        // A counting sort of the visited devices by step: stable, linear.
        // A device's own placement is the only thing that changes whether
        // it is wanted, so that can be decided here.
        let step_of = |d: &Device| {
            loop_step(&d.kind).filter(|&step| step == STEP_VIRTIO_DISK || d.address.is_wanted())
        };
        let steps: Vec<u8> = self
            .devices
            .iter()
            .map(|d| {
                step_of(d)
                    .and_then(|s| u8::try_from(s).ok())
                    .unwrap_or(NOT_VISITED)
            })
            .collect();
        let mut start = [0usize; LOOP_STEPS + 1];
        let mut visited = 0usize;
        for &step in &steps {
            if let Some(c) = start.get_mut(usize::from(step) + 1) {
                *c += 1;
                visited += 1;
            }
        }
        for step in 0..LOOP_STEPS {
            let prev = start.get(step).copied().unwrap_or(0);
            if let Some(c) = start.get_mut(step + 1) {
                *c += prev;
            }
        }
        let mut order = vec![0usize; visited];
        for (i, &step) in steps.iter().enumerate() {
            if let Some(pos) = start.get_mut(usize::from(step)) {
                if let Some(slot) = order.get_mut(*pos) {
                    *slot = i;
                }
                *pos += 1;
            }
        }
        let mut k = 0;
        let mut run: Vec<PciAddress> = Vec::new();
        let step_at = |i: usize| steps.get(i).map_or(usize::MAX, |&s| usize::from(s));
        while let Some(&i) = order.get(k) {
            let step = step_at(i);
            // A run of devices of one step and one set of flags that go
            // straight to ReserveNext (without isolation groups, which
            // differ from device to device): the address set places them
            // as one run, with the addresses and failures of each in turn.
            if !set.isolation && self.plain_placement(step, i) {
                let f = fl(i);
                let devices = order.get(k..).unwrap_or_default();
                let len = devices
                    .iter()
                    .take_while(|&&j| {
                        step_at(j) == step && fl(j) == f && self.plain_placement(step, j)
                    })
                    .count();
                let mut done = 0;
                while done < len {
                    run.clear();
                    let result = set.reserve_run(f, len - done, &mut run);
                    let rest = devices.get(done..).unwrap_or_default();
                    if pass == Pass::Real {
                        for (&j, &addr) in rest.iter().zip(&run) {
                            self.place_address(j, addr);
                        }
                    }
                    done += run.len();
                    let Err(e) = result else { break };
                    // ReserveNext failed for the next device of the run.
                    if let Some(&j) = devices.get(done) {
                        self.not_placed(set, j, e)?;
                    }
                    done += 1;
                }
                k += len;
                continue;
            }
            k += 1;
            match step {
                STEP_OTHER_CONTROLLERS => {
                    let usb2 = match self.devices.get(i).map(|d| &d.kind) {
                        Some(DeviceKind::Controller(c)) => match &c.kind {
                            ControllerKind::Usb(Some(m)) => {
                                m.usb2_function().map(|(function, mf_on)| Usb2Place {
                                    index: c.index,
                                    function,
                                    multifunction: if mf_on {
                                        Multifunction::On
                                    } else {
                                        Multifunction::Absent
                                    },
                                })
                            }
                            _ => None,
                        },
                        _ => None,
                    };
                    if let Some(usb2) = usb2 {
                        self.place_usb2(set, i, usb2, fl(i), pass)?;
                        continue;
                    }
                }
                STEP_VIRTIO_DISK => {
                    let Some(dev) = self.devices.get(i) else {
                        continue;
                    };
                    if dev.address.present().is_some() {
                        continue;
                    }
                    match &dev.address {
                        DeviceAddress::Other(t) if t == "ccw" => continue,
                        DeviceAddress::Other(t)
                            if t == "virtio-mmio" && self.caps.has("virtio-mmio") =>
                        {
                            continue;
                        }
                        DeviceAddress::Other(t) => {
                            return Err(fail(
                                AllocError::VirtioDiskAddressType {
                                    address_type: t.clone(),
                                },
                                CheckMode::Auto,
                                Some(dev),
                            ));
                        }
                        _ => {}
                    }
                }
                _ => {}
            }
            self.place(set, i, fl(i), None, pass)?;
        }
        Ok(())
    }

    /// Whether device `i`, visited in `step`, goes straight to ReserveNext
    /// without address checks or a fixed function: an unaddressed device
    /// of a step without special cases (not a USB2 controller, not a
    /// virtio disk).
    fn plain_placement(&self, step: usize, i: usize) -> bool {
        step != STEP_OTHER_CONTROLLERS
            && step != STEP_VIRTIO_DISK
            && self
                .devices
                .get(i)
                .is_some_and(|d| d.address == DeviceAddress::None)
    }

    /// USB2 controllers of one index share a slot (§5.9 step 5).
    fn place_usb2(
        &mut self,
        set: &mut AddressSet,
        i: usize,
        usb2: Usb2Place,
        flags: ConnectFlags,
        pass: Pass,
    ) -> Result<(), Error> {
        let Usb2Place {
            index,
            function: func,
            multifunction: mf,
        } = usb2;
        let sibling = self.controller_positions().find_map(|p| {
            let d = self.devices.get(p)?;
            let sc = d.kind.controller()?;
            (Plan::is_usb2(sc) && sc.index == index)
                .then(|| d.address.present())
                .flatten()
        });
        if let Some(s) = sibling {
            let mut a = PciAddress::new(
                s.domain(),
                s.bus(),
                s.slot(),
                Function::new(func).unwrap_or(Function::ZERO),
            );
            set.reserve(&mut a, flags, CheckMode::Explicit)
                .map_err(|e| fail(e, CheckMode::Explicit, self.devices.get(i)))?;
            self.set_address(i, DeviceAddress::Pci(a.with_multifunction(mf)));
            return Ok(());
        }
        let a = match set.reserve_next(flags, Some(func)) {
            Ok(a) => a,
            Err(e) if set.counted_past_limit(&e) => return Ok(()),
            Err(e) => return Err(fail(e, CheckMode::Auto, self.devices.get(i))),
        };
        if pass == Pass::Real {
            self.set_address(i, DeviceAddress::Pci(a.with_multifunction(mf)));
        }
        Ok(())
    }

    /// §5.12 step 6: function 0 of a slot with other functions in use gets
    /// `multifunction='on'` unless the user wrote a value.
    fn mark_multifunction(&mut self) {
        let pci = |d: &Device| match &d.address {
            DeviceAddress::Pci(a) if !a.is_empty() && a.domain() == 0 => Some(*a),
            _ => None,
        };
        // Slots (one bit per slot of each bus; assigned addresses are on
        // domain 0) with a device on a function other than 0: usually none.
        // (An address on a function other than 0 is never the empty one.)
        let mut shared = [0u32; 256];
        let mut any = false;
        for d in &self.devices {
            if let DeviceAddress::Pci(a) = &d.address
                && a.function().as_u8() != 0
                && a.domain() == 0
                && let Some(bits) = shared.get_mut(usize::from(a.bus()))
            {
                *bits |= 1u32 << a.slot().as_u8();
                any = true;
            }
        }
        if !any {
            return;
        }
        let in_shared = |a: &PciAddress| {
            shared
                .get(usize::from(a.bus()))
                .is_some_and(|bits| bits & (1u32 << a.slot().as_u8()) != 0)
        };
        // The first device (iteration order: kind rank, then list
        // position) at function 0 of each of them; the mirrored first
        // console is not visited.
        let skipped = self.skipped_console();
        let mut heads: Vec<(usize, u8, usize)> = Vec::new();
        for (j, d) in self.devices.iter().enumerate() {
            if let DeviceAddress::Pci(a) = &d.address
                && a.function().as_u8() == 0
                && in_shared(a)
                && pci(d).is_some()
                && Some(j) != skipped
            {
                let a = *a;
                let key = usize::from(a.bus()) * 32 + usize::from(a.slot().as_u8());
                heads.push((key, d.kind.iteration_rank(), j));
            }
        }
        heads.sort_unstable();
        heads.dedup_by_key(|h| h.0);
        let heads = heads.into_iter().map(|(_, _, j)| j);
        for j in heads {
            if let Some(DeviceAddress::Pci(b)) = self.devices.get(j).map(|d| &d.address)
                && b.multifunction() == Multifunction::Absent
            {
                let on = b.with_multifunction(Multifunction::On);
                self.set_address(j, DeviceAddress::Pci(on));
            }
        }
    }

    /// §5.12 step 7: model names and target values of PCI controllers.
    fn controller_defaults(&mut self) -> Result<(), Error> {
        // The lowest busNr set on any PCI controller, kept up to date as
        // defaults are filled in; found when an expander bus first needs it.
        let mut lowest_bus_nr: Option<u32> = None;
        let caps = std::sync::Arc::clone(&self.caps);
        let phb_name = self.profile.root_model_name;
        for pos in 0..self.devices.len() {
            let is_pci_controller = self.devices.get(pos).is_some_and(|d| {
                matches!(
                    d.kind,
                    DeviceKind::Controller(Controller {
                        kind: ControllerKind::Pci(_),
                        ..
                    })
                )
            });
            if !is_pci_controller {
                continue;
            }
            let mut failure = None;
            let phb_index = phb_name.and_then(|name| self.phb_target_index(pos, name));
            let needs_bus_nr = self.devices.get(pos).is_some_and(|d| {
                matches!(
                    &d.kind,
                    DeviceKind::Controller(Controller {
                        kind: ControllerKind::Pci(p),
                        ..
                    }) if p.target.bus_nr.is_none() && matches!(
                        p.model,
                        Some(ControllerModel::PciExpanderBus | ControllerModel::PcieExpanderBus)
                    )
                )
            });
            if needs_bus_nr && lowest_bus_nr.is_none() {
                lowest_bus_nr = Some(self.lowest_bus_nr());
            }
            let own = self.devices.get(pos).and_then(|d| d.address.present());
            let Some(DeviceKind::Controller(c)) = self.edit_kind(pos) else {
                continue;
            };
            let index = c.idx();
            let ControllerKind::Pci(p) = &mut c.kind else {
                continue;
            };
            let Some(model) = p.model else { continue };
            if p.model_name.is_none() {
                p.model_name = match (model, phb_name) {
                    (ControllerModel::PciRoot, Some(name)) => Some(name.into()),
                    _ => model.default_model_name(&caps).map(Into::into),
                };
            }
            let t = &mut p.target;
            match model {
                ControllerModel::PciBridge => {
                    t.chassis_nr.get_or_insert(index);
                }
                ControllerModel::PcieRootPort => {
                    t.chassis.get_or_insert(index);
                    if let Some(a) = own {
                        t.port.get_or_insert(
                            u32::from(a.slot().as_u8()) * 8 + u32::from(a.function().as_u8()),
                        );
                    }
                }
                ControllerModel::PcieSwitchDownstreamPort => {
                    t.chassis.get_or_insert(index);
                    if let Some(a) = own {
                        t.port.get_or_insert(u32::from(a.slot().as_u8()));
                    }
                }
                ControllerModel::PciExpanderBus | ControllerModel::PcieExpanderBus => {
                    if t.bus_nr.is_none()
                        && let Some(lowest) = &mut lowest_bus_nr
                    {
                        if *lowest <= 2 {
                            let bus = own.map_or(0, |a| u32::from(a.bus()));
                            failure = Some(AllocError::NoFreeBusNr { bus });
                        } else {
                            *lowest -= 2;
                            t.bus_nr = Some(*lowest);
                        }
                    }
                }
                ControllerModel::PciRoot => {
                    if t.index.is_none() {
                        match phb_index {
                            Some(Ok(v)) => t.index = Some(v),
                            Some(Err(())) => failure = Some(AllocError::NoTargetIndex { index }),
                            None => {}
                        }
                    }
                }
                ControllerModel::PcieRoot
                | ControllerModel::DmiToPciBridge
                | ControllerModel::PcieToPciBridge
                | ControllerModel::PcieSwitchUpstreamPort => {}
            }
            if model == ControllerModel::PciBridge
                && let Some(a) = own
                && index <= u32::from(a.bus())
            {
                let bus = u32::from(a.bus());
                failure = Some(AllocError::BridgeIndexNotAboveBus { index, bus });
            }
            if let Some(reason) = failure {
                return Err(fail(reason, CheckMode::Auto, self.devices.get(pos)));
            }
        }
        Ok(())
    }
}

impl Plan {
    /// The lowest busNr set on any PCI controller (256 when none is).
    fn lowest_bus_nr(&self) -> u32 {
        self.devices
            .iter()
            .filter_map(|d| match &d.kind {
                DeviceKind::Controller(Controller {
                    kind: ControllerKind::Pci(p),
                    ..
                }) => p.target.bus_nr,
                _ => None,
            })
            .min()
            .unwrap_or(256)
    }

    /// The target index the PHB at `pos` gets (§5.12 step 7.2): 0 for
    /// index 0, else the lowest of 1..=31 no PHB (a pci-root already named
    /// `name`) uses. `None` when `pos` is not a PHB without target index.
    fn phb_target_index(&self, pos: usize, name: &str) -> Option<Result<u32, ()>> {
        let c = self.devices.get(pos)?.kind.controller()?;
        let ControllerKind::Pci(p) = &c.kind else {
            return None;
        };
        if p.model != Some(ControllerModel::PciRoot) || p.target.index.is_some() {
            return None;
        }
        if c.idx() == 0 {
            return Some(Ok(0));
        }
        let used: std::collections::BTreeSet<u32> = self
            .devices
            .iter()
            .filter_map(|d| d.kind.controller())
            .filter_map(|o| match &o.kind {
                ControllerKind::Pci(op)
                    if op.model == Some(ControllerModel::PciRoot)
                        && op.model_name.as_deref() == Some(name) =>
                {
                    op.target.index
                }
                _ => None,
            })
            .collect();
        Some((1..=31).find(|v| !used.contains(v)).ok_or(()))
    }
}

/// Whether a console mirrors the first serial port (its target is serial,
/// or not given), so that the passes in iteration order skip it (§5.14).
fn mirrors_serial(d: &Device) -> bool {
    matches!(
        d.kind,
        DeviceKind::Console(ConsoleTarget::Serial | ConsoleTarget::None)
    )
}

/// PCI controller indexes a plan can have once `max_pci_index` passed.
const MAX_INDEXES: usize = addrset::MAX_BUSES;

/// The step of a device the device loop does not visit.
const NOT_VISITED: u8 = u8::MAX;

/// Number of steps of the device loop (with hostdev interfaces and
/// `<hostdev>` elements as two steps).
const LOOP_STEPS: usize = 18;
const STEP_OTHER_CONTROLLERS: usize = 4;
const STEP_VIRTIO_DISK: usize = 5;

/// The step of §5.9 in which a device is visited, if any.
#[inline]
pub(crate) fn loop_step(kind: &DeviceKind) -> Option<usize> {
    let pci_source = |s: &HostdevSource| {
        matches!(
            s,
            HostdevSource::Pci(_) | HostdevSource::ScsiHost(_) | HostdevSource::MdevVfioPci
        )
    };
    Some(match kind {
        DeviceKind::Controller(c) => match &c.kind {
            ControllerKind::Pci(p) => {
                if p.model.is_some_and(ControllerModel::is_root) {
                    return None;
                }
                0
            }
            ControllerKind::Fdc | ControllerKind::Ccid => return None,
            ControllerKind::Usb(Some(UsbModel::None)) => return None,
            ControllerKind::Ide if c.idx() == 0 => return None,
            ControllerKind::Scsi(Some(ScsiModel::Ncr53c90)) => return None,
            _ => STEP_OTHER_CONTROLLERS,
        },
        DeviceKind::Filesystem { .. } => 1,
        DeviceKind::Interface { hostdev: None, .. } => 2,
        DeviceKind::Sound(
            SoundModel::Es1370
            | SoundModel::Ac97
            | SoundModel::Ich6
            | SoundModel::Ich9
            | SoundModel::Ich7,
        ) => 3,
        DeviceKind::Disk {
            bus: crate::device::DiskBus::Virtio,
            ..
        } => STEP_VIRTIO_DISK,
        DeviceKind::Interface {
            hostdev: Some(s), ..
        } if pci_source(s) => 6,
        DeviceKind::Hostdev(s) if pci_source(s) => 7,
        DeviceKind::Memballoon(m) if *m != BalloonModel::None => 8,
        DeviceKind::Rng(_) => 9,
        DeviceKind::Watchdog(WatchdogModel::I6300esb) => 10,
        DeviceKind::Video(m) if !matches!(m, VideoModel::None | VideoModel::Ramfb) => 11,
        DeviceKind::Shmem(_) => 12,
        DeviceKind::Input {
            bus: crate::device::InputBus::Virtio,
            ..
        } => 13,
        DeviceKind::Serial(SerialTarget::Pci) => 14,
        DeviceKind::Iommu(IommuModel::Virtio) => 15,
        DeviceKind::Vsock(_) => 16,
        DeviceKind::Memory(MemoryModel::VirtioPmem | MemoryModel::VirtioMem) => 17,
        _ => return None,
    })
}

/// Whether the bus of PCI controller `index` is locked (§5.15 set-up 1).
fn set_locked(index: u32, isolation: bool) -> bool {
    isolation && index == 0
}

/// The PIIX3 exemption of §5.3 step 6.
fn is_piix3_integrated(dev: &Device, addr: &PciAddress) -> bool {
    let Some(c) = dev.kind.controller() else {
        return false;
    };
    if addr.bus() != 0 || addr.slot().as_u8() != 1 || c.idx() != 0 {
        return false;
    }
    match &c.kind {
        ControllerKind::Ide => addr.function().as_u8() == 1,
        ControllerKind::Usb(None | Some(UsbModel::Piix3Uhci)) => addr.function().as_u8() == 2,
        _ => false,
    }
}

/// Whether the given addresses are to be reserved in iteration order only
/// (the reference a test compares the list-order path with); never outside
/// tests.
#[cfg(not(test))]
#[inline(always)]
const fn iteration_order_only() -> bool {
    false
}

#[cfg(test)]
fn iteration_order_only() -> bool {
    tests::ITERATION_ORDER_ONLY.with(std::cell::Cell::get)
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use proptest::prelude::*;

    use crate::VirtioModel;
    use crate::device::{
        ConsoleTarget, Controller, Device, DeviceAddress, DeviceKind, NicModel, SerialTarget,
    };
    use crate::{Capabilities, ControllerModel, Machine, PciAddress, Plan};

    thread_local! {
        pub(super) static ITERATION_ORDER_ONLY: Cell<bool> = const { Cell::new(false) };
    }

    /// A device for the given-address test: a NIC, a root port, a bridge,
    /// an RNG, a console or a serial port, sometimes at an address on a few
    /// crowded slots.
    fn device() -> impl Strategy<Value = Device> {
        (
            0u8..6,
            prop::option::weighted(
                0.7,
                (0u8..3, 1u8..6, prop_oneof![3 => Just(0u8), 1 => 0u8..8]),
            ),
        )
            .prop_map(|(kind, at)| {
                let kind = match kind {
                    0 => DeviceKind::Interface {
                        model: Some(NicModel::Virtio),
                        hostdev: None,
                    },
                    1 => DeviceKind::Controller(Controller {
                        index: None,
                        ..Controller::pci(ControllerModel::PcieRootPort, 0)
                    }),
                    2 => DeviceKind::Controller(Controller {
                        index: None,
                        ..Controller::pci(ControllerModel::PciBridge, 0)
                    }),
                    3 => DeviceKind::Rng(VirtioModel::Default),
                    4 => DeviceKind::Console(ConsoleTarget::None),
                    _ => DeviceKind::Serial(SerialTarget::Isa),
                };
                let d = Device::new(kind);
                match at.and_then(|(b, s, f)| PciAddress::from_parts(b, s, f).ok()) {
                    Some(a) => d.with_address(DeviceAddress::Pci(a)),
                    None => d,
                }
            })
    }

    /// The plan's devices after assignment, or its error, with the given
    /// addresses reserved as the allocator chooses and in iteration order.
    fn both_ways(
        mut plan: Plan,
    ) -> (
        Result<Vec<Device>, crate::Error>,
        Result<Vec<Device>, crate::Error>,
    ) {
        let mut reference = plan.clone();
        let quick = plan.assign().map(|()| plan.devices().to_vec());
        ITERATION_ORDER_ONLY.with(|c| c.set(true));
        let exact = reference.assign().map(|()| reference.devices().to_vec());
        ITERATION_ORDER_ONLY.with(|c| c.set(false));
        (quick, exact)
    }

    #[test]
    fn given_addresses_in_list_order_keep_a_root_ports_slot_aggregate() {
        let at = |s, f| DeviceAddress::Pci(PciAddress::from_parts(0, s, f).unwrap_or_default());
        let port =
            |index| DeviceKind::Controller(Controller::pci(ControllerModel::PcieRootPort, index));
        let mut plan = Plan::new(Machine::q35(), Capabilities::qemu_8_0_x86_64());
        plan.add_device(Device::new(DeviceKind::Rng(VirtioModel::Default)).with_address(at(1, 0)));
        plan.add_device(Device::new(DeviceKind::Rng(VirtioModel::Default)).with_address(at(2, 1)));
        plan.add_device(Device::new(port(1)).with_address(at(2, 0)));
        plan.add_device(Device::new(port(2)));
        let (quick, exact) = both_ways(plan);
        assert_eq!(quick, exact);
        // In iteration order the given port comes before the RNG that shares
        // its slot, so the slot is aggregate and the second port joins it;
        // list order (the RNG first) must not lose that.
        let second = exact
            .iter()
            .flatten()
            .filter(|d| matches!(&d.kind, DeviceKind::Controller(c) if c.index == Some(2)))
            .find_map(|d| d.address.present());
        assert_eq!(
            second.map(|a| a.to_string()).as_deref(),
            Some("0000:00:02.2")
        );
    }

    proptest! {
        /// Reserving the given addresses in list order, where that is
        /// taken, gives what iteration order gives: the same plan, or the
        /// same error.
        #[test]
        fn prop_given_addresses_in_list_order_are_as_in_iteration_order(
            q35 in any::<bool>(),
            devices in prop::collection::vec(device(), 0..24),
        ) {
            let machine = if q35 { Machine::q35() } else { Machine::pc() };
            let mut plan = Plan::new(machine, Capabilities::qemu_8_0_x86_64());
            for (k, mut d) in devices.into_iter().enumerate() {
                // PCI controllers get indexes from 1 up (0 is the root's).
                if let DeviceKind::Controller(c) = &mut d.kind {
                    c.index = u32::try_from(k + 1).ok();
                }
                plan.add_device(d);
            }
            let (quick, exact) = both_ways(plan);
            prop_assert_eq!(quick, exact);
        }
    }
}
