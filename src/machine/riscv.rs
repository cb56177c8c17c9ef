//! riscv machines: `virt` is arm `virt` with a memballoon and without
//! `pcie-expander-bus` (§4.6).

use super::{MachineFamily, Profile, VirtioTransport};
use crate::caps::Capabilities;
use crate::controller::ControllerModel;
use crate::device::{NicModel, VideoModel};

pub(super) fn profile(family: MachineFamily, caps: &Capabilities) -> Profile {
    // A USB controller without model becomes piix3-uhci, as on x86 (live
    // libvirt).
    let mut p = Profile::base(caps);
    if family == MachineFamily::RiscvVirt {
        let gpex = caps.has("gpex-pcihost");
        p.root = gpex.then_some(ControllerModel::PcieRoot);
        p.supports_pci = gpex;
        p.virtio_transport = VirtioTransport::MmioUnlessPci;
        p.nic_model = NicModel::Virtio;
        p.video_model = VideoModel::Virtio;
    } else {
        p.supports_pci = false;
    }
    p
}
