//! Live attach and detach (spec §5.17): one device at a time, on the
//! address set of the running guest, without growth and without moving
//! anything.

use super::addrset::AddressSet;
use super::{Pass, fail};
use crate::address::PciAddress;
use crate::device::{ControllerKind, Device, DeviceKind, connect_flags};
use crate::error::{AllocError, Error};
use crate::flags::{CheckMode, ConnectFlags};
use crate::plan::Plan;

impl Plan {
    /// Attaches one device to an assigned plan the way libvirt's live attach
    /// does: only hot-pluggable slots qualify, no controller is added, and no
    /// other address changes. Returns the device's position in the plan.
    ///
    /// A device with a present address must use function 0 and a free,
    /// hot-pluggable slot; a device without one gets the first free
    /// hot-pluggable slot.
    ///
    /// # Errors
    /// [`AllocError::NoFreeSlot`] when no hot-pluggable slot is free,
    /// [`AllocError::HotplugFunctionNotZero`], [`AllocError::ControllerHotplug`]
    /// for controllers other than SCSI, or the address checks of §5.5. On
    /// error the plan is unchanged.
    ///
    /// ```
    /// use pciplan::{Capabilities, Device, DeviceKind, Machine, Plan, VirtioModel};
    /// let mut plan = Plan::new(Machine::q35(), Capabilities::qemu_8_0_x86_64());
    /// plan.assign()?;
    /// // the spare root port takes one hot-plugged device
    /// let i = plan.hotplug_add(Device::new(DeviceKind::Rng(VirtioModel::Default)))?;
    /// assert!(plan.devices()[i].address.present().is_some());
    /// # Ok::<(), pciplan::Error>(())
    /// ```
    pub fn hotplug_add(&mut self, device: Device) -> Result<usize, Error> {
        if let DeviceKind::Controller(c) = &device.kind
            && !matches!(c.kind, ControllerKind::Scsi(_))
        {
            return Err(fail(
                AllocError::ControllerHotplug {
                    controller_type: c.kind.type_name(),
                },
                CheckMode::Auto,
                Some(&device),
            ));
        }
        let ctx = self.flag_context();
        let own = connect_flags(&device.kind, &device.address, &ctx);
        if own.is_empty() {
            // Nothing to place: the address set does not change.
            return Ok(self.insert_device(device));
        }
        let flags = own | ConnectFlags::HOTPLUGGABLE;
        let Some(mut set) = self.live.0.take() else {
            return self.hotplug_add_rebuilt(device, flags);
        };
        // The kept set: a failed reservation leaves it as it was (a search
        // only moves its cursors), so it goes back in either way.
        let placed = reserve_for_hotplug(&mut set, &device, flags);
        self.live.0 = Some(set);
        let mut device = device;
        device.address = crate::DeviceAddress::Pci(placed?);
        Ok(self.insert_device(device))
    }

    /// [`Plan::hotplug_add`] on a plan without a kept address set (one that
    /// was never assigned, or changed since): the set is built from the
    /// devices, on a copy, and kept for the next hot-plug.
    fn hotplug_add_rebuilt(&mut self, device: Device, flags: ConnectFlags) -> Result<usize, Error> {
        let bus_count = usize::try_from(self.max_pci_index()?.saturating_add(1)).unwrap_or(0);
        let mut work = self.clone();
        let all_flags = work.compute_flags();
        let flagged = work.devices.len();
        let mut set = work.build_set(bus_count, Pass::Real, &all_flags, flagged)?;
        work.chipset(&mut set, &all_flags, Pass::Real)?;
        let mut device = device;
        device.address = crate::DeviceAddress::Pci(reserve_for_hotplug(&mut set, &device, flags)?);
        let i = work.insert_device(device);
        work.live.0 = set.for_hotplug().map(Box::new);
        *self = work;
        Ok(i)
    }
}

/// The address a hot-plugged device takes in `set`: its own (function 0,
/// free, hot-pluggable) or the first free hot-pluggable slot. `set` is
/// unchanged on error.
fn reserve_for_hotplug(
    set: &mut AddressSet,
    device: &Device,
    flags: ConnectFlags,
) -> Result<PciAddress, Error> {
    match device.address.present() {
        Some(mut addr) => {
            if addr.function().as_u8() != 0 {
                return Err(fail(
                    AllocError::HotplugFunctionNotZero,
                    CheckMode::Explicit,
                    Some(device),
                ));
            }
            set.reserve(&mut addr, flags, CheckMode::Explicit)
                .map_err(|e| fail(e, CheckMode::Explicit, Some(device)))?;
            Ok(addr)
        }
        None => set
            .reserve_next(flags, None)
            .map_err(|e| fail(e, CheckMode::Auto, Some(device))),
    }
}

impl Plan {
    /// Detaches one device from a running guest the way libvirt's live
    /// detach does: its address is released (a later hot-add may reuse it)
    /// and nothing else moves. Returns the removed device.
    ///
    /// # Errors
    /// [`AllocError::NoSuchDevice`]; [`AllocError::MultifunctionUnplug`] for a
    /// device on a slot with several functions in use;
    /// [`AllocError::UnplugNotAllowed`] behind a controller with
    /// `hotplug='off'`; [`AllocError::ControllerUnplug`] for controllers
    /// other than SCSI. On error the plan is unchanged.
    ///
    /// ```
    /// use pciplan::{Capabilities, Device, DeviceKind, Machine, Plan, VirtioModel};
    /// let mut plan = Plan::new(Machine::q35(), Capabilities::qemu_8_0_x86_64());
    /// let rng = plan.add_device(Device::new(DeviceKind::Rng(VirtioModel::Default)));
    /// plan.assign()?;
    /// let removed = plan.hotplug_remove(rng)?;
    /// let again = plan.hotplug_add(removed.with_address(pciplan::DeviceAddress::None))?;
    /// assert!(plan.devices()[again].address.present().is_some());
    /// # Ok::<(), pciplan::Error>(())
    /// ```
    pub fn hotplug_remove(&mut self, i: usize) -> Result<Device, Error> {
        let Some(dev) = self.devices.get(i) else {
            return Err(fail(
                AllocError::NoSuchDevice { id: i },
                CheckMode::Auto,
                None,
            ));
        };
        if let DeviceKind::Controller(c) = &dev.kind
            && !matches!(c.kind, ControllerKind::Scsi(_))
        {
            return Err(fail(
                AllocError::ControllerUnplug {
                    controller_type: c.kind.type_name(),
                },
                CheckMode::Auto,
                Some(dev),
            ));
        }
        if let Some(a) = dev.address.present() {
            let device = dev.kind.libvirt_type();
            let shares_slot = self.devices.iter().enumerate().any(|(j, o)| {
                j != i
                    && o.address.present().is_some_and(|b| {
                        b.domain() == a.domain() && b.bus() == a.bus() && b.slot() == a.slot()
                    })
            });
            if shares_slot {
                return Err(fail(
                    AllocError::MultifunctionUnplug { device, addr: a },
                    CheckMode::Auto,
                    Some(dev),
                ));
            }
            let off = self
                .pci_controller(u32::from(a.bus()))
                .and_then(|c| match &c.kind {
                    ControllerKind::Pci(p) => p.target.hotplug,
                    _ => None,
                })
                == Some(false);
            if off {
                return Err(fail(
                    AllocError::UnplugNotAllowed { device, addr: a },
                    CheckMode::Auto,
                    Some(dev),
                ));
            }
        }
        let removed = self.devices.remove(i);
        if let (Some(set), Some(a)) = (self.live.0.as_mut(), removed.address.present()) {
            set.release(&a);
        }
        Ok(removed)
    }
}
