//! The chipset step (spec §5.8): fixed functions of the i440fx and q35
//! chipsets and their preferred slots. Unlike ordinary placement, these
//! addresses are written into the devices in the dry run too.

use super::addrset::AddressSet;
use super::{Pass, fail, fixed};
use crate::address::Multifunction;
use crate::controller::ControllerModel;
use crate::device::{ControllerKind, DeviceAddress, DeviceKind, SoundModel, UsbModel, VideoModel};
use crate::error::{AllocError, Error};
use crate::flags::{CheckMode, ConnectFlags};
use crate::machine::Chipset;
use crate::plan::Plan;

impl Plan {
    /// §5.8: fixed chipset functions and preferred slots (i440fx and q35).
    pub(super) fn chipset(
        &mut self,
        set: &mut AddressSet,
        flags: &[ConnectFlags],
        pass: Pass,
    ) -> Result<(), Error> {
        match self.profile.chipset {
            Chipset::I440fx => self.chipset_i440fx(set, flags, pass),
            Chipset::Q35 => self.chipset_q35(set, flags, pass),
            Chipset::None => Ok(()),
        }
    }

    fn chipset_i440fx(
        &mut self,
        set: &mut AddressSet,
        flags: &[ConnectFlags],
        pass: Pass,
    ) -> Result<(), Error> {
        let p = ConnectFlags::P;
        for pos in 0..self.devices.len() {
            let Some(dev) = self.devices.get(pos) else {
                continue;
            };
            let Some(c) = dev.kind.controller() else {
                continue;
            };
            let forced = match (&c.kind, c.idx()) {
                (ControllerKind::Ide, 0) => Some((1, AllocError::PrimaryIde)),
                (ControllerKind::Usb(None | Some(UsbModel::Piix3Uhci)), 0) => {
                    Some((2, AllocError::Piix3Usb))
                }
                _ => None,
            };
            let Some((func, err)) = forced else { continue };
            let want = fixed(0, 1, func);
            let mf = match &dev.address {
                DeviceAddress::Pci(a) => a.multifunction(),
                _ => Multifunction::Absent,
            };
            if let Some(a) = dev.address.present()
                && a.key() != want.key()
            {
                return Err(fail(err, CheckMode::Auto, Some(dev)));
            }
            let mut addr = want.with_multifunction(mf);
            if set.len() > 0 {
                set.reserve(&mut addr, p, CheckMode::Explicit)
                    .map_err(|e| fail(e, CheckMode::Explicit, Some(dev)))?;
            }
            self.set_address(pos, DeviceAddress::Pci(addr));
        }
        if set.len() > 0 {
            for f in [0, 3] {
                let mut a = fixed(0, 1, f);
                set.reserve(&mut a, p, CheckMode::Explicit)
                    .map_err(|e| fail(e, CheckMode::Explicit, None))?;
            }
        }
        self.primary_video(set, flags, pass, 2, p)
    }

    fn chipset_q35(
        &mut self,
        set: &mut AddressSet,
        flags: &[ConnectFlags],
        pass: Pass,
    ) -> Result<(), Error> {
        let e = ConnectFlags::PCIE_DEVICE;
        for pos in 0..self.devices.len() {
            let Some(dev) = self.devices.get(pos) else {
                continue;
            };
            let Some(c) = dev.kind.controller() else {
                continue;
            };
            let no_address = dev.address == DeviceAddress::None;
            match (&c.kind, c.idx()) {
                (ControllerKind::Sata, 0) => {
                    let want = fixed(0, 0x1f, 2);
                    let mf = match &dev.address {
                        DeviceAddress::Pci(a) => a.multifunction(),
                        _ => Multifunction::Absent,
                    };
                    if let Some(a) = dev.address.present()
                        && a.key() != want.key()
                    {
                        return Err(fail(AllocError::PrimarySata, CheckMode::Auto, Some(dev)));
                    }
                    self.set_address(pos, DeviceAddress::Pci(want.with_multifunction(mf)));
                }
                (ControllerKind::Usb(Some(UsbModel::Ich9Uhci1)), _) if no_address => {
                    let slot = [0x1d, 0x1a].into_iter().find(|&s| set.slot_free(0, s));
                    if let Some(s) = slot {
                        let mut a = fixed(0, s, 0);
                        set.reserve(&mut a, e, CheckMode::Explicit)
                            .map_err(|err| fail(err, CheckMode::Explicit, Some(dev)))?;
                        self.set_address(
                            pos,
                            DeviceAddress::Pci(a.with_multifunction(Multifunction::On)),
                        );
                    }
                }
                (ControllerKind::Pci(p), _)
                    if no_address
                        && p.model == Some(ControllerModel::DmiToPciBridge)
                        && set.slot_free(0, 0x1e) =>
                {
                    let mut a = fixed(0, 0x1e, 0);
                    set.reserve(&mut a, e, CheckMode::Explicit)
                        .map_err(|err| fail(err, CheckMode::Explicit, Some(dev)))?;
                    self.set_address(pos, DeviceAddress::Pci(a));
                }
                _ => {}
            }
        }
        if set.len() > 0 {
            for f in [0, 3] {
                let mut a = fixed(0, 0x1f, f);
                set.reserve(&mut a, e, CheckMode::Explicit)
                    .map_err(|err| fail(err, CheckMode::Explicit, None))?;
            }
        }
        self.primary_video(set, flags, pass, 1, e)?;
        if set.slot_free(0, 0x1b) {
            let sound = self.devices.iter().position(|d| {
                matches!(d.kind, DeviceKind::Sound(SoundModel::Ich9)) && d.address.is_wanted()
            });
            if let Some(i) = sound {
                let mut a = fixed(0, 0x1b, 0);
                set.reserve(&mut a, e, CheckMode::Explicit)
                    .map_err(|err| fail(err, CheckMode::Explicit, self.devices.get(i)))?;
                self.set_address(i, DeviceAddress::Pci(a));
            }
        }
        Ok(())
    }

    /// The primary video goes to `00:<slot>.0` when that slot is free.
    fn primary_video(
        &mut self,
        set: &mut AddressSet,
        flags: &[ConnectFlags],
        pass: Pass,
        slot: u8,
        chipset_flags: ConnectFlags,
    ) -> Result<(), Error> {
        let Some(i) = self
            .devices
            .iter()
            .position(|d| matches!(d.kind, DeviceKind::Video(_)))
        else {
            return Ok(());
        };
        let Some(dev) = self.devices.get(i) else {
            return Ok(());
        };
        if matches!(
            dev.kind,
            DeviceKind::Video(VideoModel::None | VideoModel::Ramfb)
        ) || !dev.address.is_wanted()
        {
            return Ok(());
        }
        let mut addr = fixed(0, slot, 0);
        set.validate(&addr, chipset_flags, CheckMode::Explicit)
            .map_err(|e| fail(e, CheckMode::Explicit, Some(dev)))?;
        if !set.slot_free(0, slot) {
            let own = flags.get(i).copied().unwrap_or_default();
            return self.place(set, i, own, None, pass);
        }
        set.reserve(&mut addr, chipset_flags, CheckMode::Explicit)
            .map_err(|e| fail(e, CheckMode::Explicit, Some(dev)))?;
        self.set_address(i, DeviceAddress::Pci(addr));
        Ok(())
    }
}
