//! What the real pass did before its device loop, read back from an
//! assigned plan: chipset placements (§5.8), USB2 sets (§5.9 step 5) and
//! isolation groups (§5.15).

use std::collections::HashMap;

use super::Why;
use crate::controller::ControllerModel;
use crate::device::{ControllerKind, Device, DeviceAddress, DeviceKind, HostdevSource};
use crate::machine::Chipset;
use crate::plan::Plan;

/// The USB2 set function of a controller (§5.9 step 5).
pub(super) fn usb2_function(d: &Device) -> Option<u8> {
    match &d.kind {
        DeviceKind::Controller(c) => match &c.kind {
            ControllerKind::Usb(Some(m)) => m.usb2_function().map(|(f, _)| f),
            _ => None,
        },
        _ => None,
    }
}

/// Isolation group per device (§5.15 set-up), 0 when not isolated.
pub(super) fn isolation_groups(plan: &Plan) -> Vec<u32> {
    if !plan.profile().isolation_groups {
        return vec![0; plan.devices().len()];
    }
    plan.devices()
        .iter()
        .map(|d| match &d.kind {
            DeviceKind::Hostdev(HostdevSource::Pci(Some(a)))
            | DeviceKind::Interface {
                hostdev: Some(HostdevSource::Pci(Some(a))),
                ..
            } => plan.host.iommu_group(*a).map_or(0, |g| g.saturating_add(1)),
            _ => 0,
        })
        .collect()
}

/// The primary video when the chipset step placed it by a search (its
/// preferred slot was taken, §5.8 step 3).
pub(super) fn early_video(
    after: &Plan,
    before_addr: &dyn Fn(usize) -> DeviceAddress,
    why: &[Option<Why>],
) -> Option<usize> {
    if after.profile().chipset == Chipset::None {
        return None;
    }
    let (i, d) = after
        .devices()
        .iter()
        .enumerate()
        .find(|(_, d)| matches!(d.kind, DeviceKind::Video(_)))?;
    let usable = !matches!(
        d.kind,
        DeviceKind::Video(crate::device::VideoModel::None | crate::device::VideoModel::Ramfb)
    );
    let undecided = why.get(i).is_some_and(Option::is_none);
    (usable && undecided && before_addr(i).is_wanted() && d.address.present().is_some())
        .then_some(i)
}

/// Devices the chipset step (§5.8) placed, with the rule in words.
pub(super) fn chipset_rules(
    after: &Plan,
    before_addr: &dyn Fn(usize) -> DeviceAddress,
) -> HashMap<usize, &'static str> {
    let mut out = HashMap::new();
    let chipset = after.profile().chipset;
    let at = |d: &Device, bus: u8, slot: u8, f: u8| {
        d.address
            .present()
            .is_some_and(|a| a.key() == (0, bus, slot, f))
    };
    let mut first_video = true;
    let mut first_ich9_sound = true;
    for (i, d) in after.devices().iter().enumerate() {
        if before_addr(i).present().is_some() {
            if matches!(d.kind, DeviceKind::Video(_)) {
                first_video = false;
            }
            continue;
        }
        let rule = match (&d.kind, chipset) {
            (DeviceKind::Controller(c), Chipset::I440fx) => match (&c.kind, c.idx()) {
                (ControllerKind::Ide, 0) if at(d, 0, 1, 1) => {
                    Some("the primary IDE controller is part of PIIX3 at 00:01.1")
                }
                (ControllerKind::Usb(_), 0) if at(d, 0, 1, 2) => {
                    Some("the PIIX3 USB controller is part of PIIX3 at 00:01.2")
                }
                _ => None,
            },
            (DeviceKind::Controller(c), Chipset::Q35) => match &c.kind {
                ControllerKind::Sata if c.idx() == 0 && at(d, 0, 0x1f, 2) => {
                    Some("the primary SATA controller is part of ICH9 at 00:1f.2")
                }
                ControllerKind::Usb(Some(crate::device::UsbModel::Ich9Uhci1))
                    if at(d, 0, 0x1d, 0) || at(d, 0, 0x1a, 0) =>
                {
                    Some("ich9-uhci1 prefers slot 0x1d, then 0x1a")
                }
                ControllerKind::Pci(p)
                    if p.model == Some(ControllerModel::DmiToPciBridge) && at(d, 0, 0x1e, 0) =>
                {
                    Some("a dmi-to-pci-bridge prefers slot 0x1e")
                }
                _ => None,
            },
            (DeviceKind::Video(m), Chipset::I440fx | Chipset::Q35) => {
                let primary_slot = if chipset == Chipset::I440fx { 2 } else { 1 };
                let usable = !matches!(
                    m,
                    crate::device::VideoModel::None | crate::device::VideoModel::Ramfb
                );
                let r = (first_video && usable && at(d, 0, primary_slot, 0)).then_some(
                    if chipset == Chipset::I440fx {
                        "the primary video prefers 00:02.0"
                    } else {
                        "the primary video prefers 00:01.0"
                    },
                );
                first_video = false;
                r
            }
            (DeviceKind::Sound(crate::device::SoundModel::Ich9), Chipset::Q35) => {
                let r = (first_ich9_sound && at(d, 0, 0x1b, 0))
                    .then_some("the first ich9 sound card prefers 00:1b.0");
                first_ich9_sound = false;
                r
            }
            _ => None,
        };
        if let Some(r) = rule {
            out.insert(i, r);
        }
    }
    out
}
