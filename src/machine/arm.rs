//! arm machines: `virt` (pcie-root with GPEX), `versatilepb` (pci-root),
//! `vexpress-*` and the rest (no PCI) (§4.5).

use super::{Arch, Growth, MachineFamily, Profile, VirtioTransport, xhci};
use crate::caps::Capabilities;
use crate::controller::ControllerModel;
use crate::device::{NicModel, VideoModel};

/// The family of an arm machine name (§4.1).
pub(super) fn family(name: &str) -> MachineFamily {
    if name == "virt" || name.starts_with("virt-") {
        MachineFamily::ArmVirt
    } else if name == "versatilepb" {
        MachineFamily::ArmVersatile
    } else {
        MachineFamily::ArmOther
    }
}

pub(super) fn profile(
    family: MachineFamily,
    arch: Arch,
    name: &str,
    caps: &Capabilities,
) -> Profile {
    let mut p = Profile::base(caps);
    p.memballoon = false;
    p.growth = Growth::Bridges;
    if arch == Arch::Aarch64 {
        p.usb_model = xhci(caps);
    }
    match family {
        MachineFamily::ArmVirt => {
            let gpex = caps.has("gpex-pcihost");
            p.root = gpex.then_some(ControllerModel::PcieRoot);
            p.supports_pci = gpex;
            p.virtio_transport = VirtioTransport::MmioUnlessPci;
            p.pcie_expander_bus = true;
            p.nic_model = NicModel::Virtio;
            p.video_model = VideoModel::Virtio;
        }
        MachineFamily::ArmVersatile => {
            p.root = Some(ControllerModel::PciRoot);
            p.nic_model = NicModel::Known("smc91c111".into());
        }
        _ => {
            p.supports_pci = false;
            if name.starts_with("vexpress-") {
                p.virtio_transport = VirtioTransport::MmioUnlessPci;
            }
            p.nic_model = NicModel::Known("lan9118".into());
        }
    }
    p
}
