//! The address kinds decided before PCI (§5.1 steps 3–4): CCW on s390-ccw
//! machines (§4.8) and virtio-mmio on arm/riscv `virt` and `vexpress-*`
//! (§4.5). Devices given one of these addresses are no longer wanted on PCI.

use crate::controller::ControllerModel;
use crate::device::{
    BalloonModel, ControllerKind, Device, DeviceAddress, DeviceKind, DiskBus, HostdevSource,
    InputBus, MemoryModel, NicModel, VideoModel,
};
use crate::machine::VirtioTransport;
use crate::plan::Plan;

/// Which devices a transport step takes.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Step {
    Ccw,
    Mmio,
}

impl Plan {
    /// Gives CCW or virtio-mmio addresses to the devices that take them.
    pub(super) fn assign_transports(&mut self) {
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
        for d in &mut self.devices {
            if d.address == DeviceAddress::None && takes(d, step, vfio_ccw) {
                d.address = DeviceAddress::Other(name.to_string());
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
