//! The address kinds decided before PCI (§5.1 steps 3–4): CCW on s390-ccw
//! machines (§4.8) and virtio-mmio on arm/riscv `virt` and `vexpress-*`
//! (§4.5). Devices given one of these addresses are no longer wanted on PCI.
//! CCW device numbers and spapr-vio registers are numbered as the live
//! libvirt numbers them (`docs/libvirt-rules.md`, rule 24).

use std::collections::BTreeSet;

use crate::controller::ControllerModel;
use crate::device::{
    BalloonModel, BusId, ControllerKind, Device, DeviceAddress, DeviceKind, DiskBus, HostdevSource,
    InputBus, MemoryModel, NicModel, VideoModel,
};
use crate::error::{ConfigError, Error};
use crate::machine::VirtioTransport;
use crate::plan::Plan;

/// Which devices a transport step takes.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Step {
    Ccw,
    Mmio,
}

impl Plan {
    /// CCW devnos (s390-ccw): given ones are kept (a devno two devices give
    /// is refused, reported on the later one in device iteration order);
    /// every other CCW device, in device iteration order, gets the lowest
    /// free devno of subchannel set 0xfe.0, from 0x0000.
    fn number_ccw(&mut self) -> Result<(), Error> {
        let order = self.iteration_order();
        let mut used: BTreeSet<(u32, u32, u32)> = BTreeSet::new();
        for &i in &order {
            let Some(d) = self.devices.get(i) else {
                continue;
            };
            if let Some(BusId::Ccw { cssid, ssid, devno }) = d.bus_id
                && !used.insert((cssid, ssid, devno))
            {
                return Err(config(
                    ConfigError::CcwInUse {
                        devno: format!("{cssid:x}.{ssid:x}.{devno:04x}"),
                    },
                    d,
                ));
            }
        }
        // Numbers are only taken, never given back: every number below the
        // cursor is in use, so the first free one is found from the cursor
        // on (linear in all, not per device).
        let mut cursor: u32 = 0;
        for i in order {
            let wants = self.devices.get(i).is_some_and(|d| {
                matches!(&d.address, DeviceAddress::Other(t) if t == "ccw") && d.bus_id.is_none()
            });
            if !wants {
                continue;
            }
            let Some(d) = self.edit_device(i) else {
                continue;
            };
            let Some(devno) = (cursor..=0xFFFF).find(|n| !used.contains(&(0xfe, 0, *n))) else {
                continue;
            };
            cursor = devno.saturating_add(1);
            used.insert((0xfe, 0, devno));
            d.bus_id = Some(BusId::Ccw {
                cssid: 0xfe,
                ssid: 0,
                devno,
            });
        }
        Ok(())
    }

    /// spapr-vio registers: NICs from 0x1000, SCSI controllers from 0x2000,
    /// serial ports from 0x30000000, NVRAM from 0x3000, TPMs from 0x4000,
    /// each the first free value upward in steps of 0x1000, in that order
    /// of kinds and array order within a kind. A given register that
    /// another device also has is refused.
    pub(super) fn number_spapr_vio(&mut self) -> Result<(), Error> {
        let mut used: BTreeSet<u64> = self
            .devices
            .iter()
            .filter_map(|d| match d.bus_id {
                Some(BusId::SpaprVio { reg }) => Some(reg),
                _ => None,
            })
            .collect();
        let base = |k: &DeviceKind| -> Option<(u8, u64)> {
            Some(match k {
                DeviceKind::Interface { .. } => (0, 0x1000),
                DeviceKind::Controller(_) => (1, 0x2000),
                DeviceKind::Serial(_) => (2, 0x3000_0000),
                DeviceKind::Nvram => (3, 0x3000),
                DeviceKind::Tpm { .. } => (4, 0x4000),
                _ => return None,
            })
        };
        let mut order: Vec<(u8, usize, u64)> = self
            .devices
            .iter()
            .enumerate()
            .filter(|(_, d)| matches!(&d.address, DeviceAddress::Other(t) if t == "spapr-vio"))
            .filter_map(|(i, d)| base(&d.kind).map(|(rank, b)| (rank, i, b)))
            .collect();
        if order.is_empty() {
            return Ok(());
        }
        order.sort_by_key(|(rank, i, _)| (*rank, *i));
        // The first console mirrors the first serial port: not a device of
        // its own here.
        let counted = self.iteration_order();
        // How many counted devices have each register, and which devices
        // are counted: one pass, not one per device.
        let mut in_counted = vec![false; self.devices.len()];
        let mut holders: std::collections::HashMap<u64, usize> = std::collections::HashMap::new();
        for &j in &counted {
            if let Some(slot) = in_counted.get_mut(j) {
                *slot = true;
            }
            if let Some(BusId::SpaprVio { reg }) = self.devices.get(j).and_then(|o| o.bus_id) {
                let n = holders.entry(reg).or_default();
                *n = n.saturating_add(1);
            }
        }
        for &(_, i, _) in &order {
            let Some(d) = self.devices.get(i) else {
                continue;
            };
            let Some(BusId::SpaprVio { reg }) = d.bus_id else {
                continue;
            };
            let own = usize::from(in_counted.get(i).copied().unwrap_or(false));
            let clash = holders.get(&reg).copied().unwrap_or(0) > own;
            if clash {
                let reg = if reg == 0 {
                    "0".to_string()
                } else {
                    format!("{reg:#x}")
                };
                return Err(config(ConfigError::SpaprVioInUse { reg }, d));
            }
        }
        // Per start value, where its search goes on: registers are only
        // taken, so every one of its steps below the cursor is in use.
        let mut cursors: std::collections::HashMap<u64, u64> = std::collections::HashMap::new();
        for (_, i, start) in order {
            if self.devices.get(i).is_none_or(|d| d.bus_id.is_some()) {
                continue;
            }
            let Some(d) = self.edit_device(i) else {
                continue;
            };
            let mut reg = cursors.get(&start).copied().unwrap_or(start);
            while used.contains(&reg) {
                reg = reg.saturating_add(0x1000);
            }
            cursors.insert(start, reg.saturating_add(0x1000));
            used.insert(reg);
            d.bus_id = Some(BusId::SpaprVio { reg });
        }
        Ok(())
    }

    /// Gives CCW or virtio-mmio addresses to the devices that take them.
    pub(super) fn assign_transports(&mut self) -> Result<(), Error> {
        self.number_spapr_vio()?;
        self.assign_transport_type();
        if self.profile.virtio_transport == VirtioTransport::Ccw {
            self.number_ccw()?;
        }
        Ok(())
    }

    fn assign_transport_type(&mut self) {
        let step = match self.profile.virtio_transport {
            VirtioTransport::Pci => return,
            VirtioTransport::Ccw => Step::Ccw,
            VirtioTransport::MmioUnlessPci => {
                let pci = self.root_model() == Some(ControllerModel::PcieRoot)
                    && (self.caps.has("pcie-root-port") || self.caps.has("ioh3420"))
                    && !self.devices.iter().any(
                        |d| matches!(&d.address, DeviceAddress::Other(t) if t == "virtio-mmio"),
                    );
                if pci || !self.caps.has("virtio-mmio") {
                    return;
                }
                Step::Mmio
            }
        };
        let vfio_ccw = self.caps.has("vfio-ccw");
        let name = match step {
            Step::Ccw => "ccw",
            Step::Mmio => "virtio-mmio",
        };
        for i in 0..self.devices.len() {
            let takes_it = self
                .devices
                .get(i)
                .is_some_and(|d| d.address == DeviceAddress::None && takes(d, step, vfio_ccw));
            if takes_it {
                self.set_address(i, DeviceAddress::Other(name.to_string()));
            }
        }
    }
}

/// Whether a device without an address takes the transport (§4.5, §4.8).
fn takes(d: &Device, step: Step, vfio_ccw: bool) -> bool {
    let virtio_nic = |m: &Option<NicModel>| {
        matches!(
            m,
            Some(NicModel::Virtio | NicModel::VirtioTransitional | NicModel::VirtioNonTransitional)
        )
    };
    match &d.kind {
        DeviceKind::Disk { bus, .. } => *bus == DiskBus::Virtio,
        DeviceKind::Interface {
            model,
            hostdev: None,
        } => virtio_nic(model),
        DeviceKind::Video(m) => *m == VideoModel::Virtio,
        DeviceKind::Input { bus, .. } => *bus == InputBus::Virtio,
        DeviceKind::Controller(c) => {
            matches!(
                c.kind,
                ControllerKind::VirtioSerial(_) | ControllerKind::Scsi(_)
            )
        }
        DeviceKind::Hostdev(HostdevSource::ScsiHost(_)) => true,
        DeviceKind::Hostdev(HostdevSource::MdevVfioCcw) => step == Step::Ccw && vfio_ccw,
        DeviceKind::Memballoon(m) => *m != BalloonModel::None && *m != BalloonModel::Xen,
        DeviceKind::Rng(_) => true,
        DeviceKind::Memory(m) => matches!(m, MemoryModel::VirtioPmem | MemoryModel::VirtioMem),
        DeviceKind::Filesystem { .. } | DeviceKind::Vsock(_) => step == Step::Ccw,
        _ => false,
    }
}

fn config(reason: ConfigError, d: &Device) -> Error {
    Error::Config {
        device: Some(d.to_string()),
        reason,
    }
}
