//! s390 machines: CCW for virtio devices, a pci-root only with zPCI (§4.8).

use super::{MachineFamily, Profile, VirtioTransport};
use crate::caps::Capabilities;
use crate::controller::ControllerModel;
use crate::device::{NicModel, ScsiModel, VideoModel};

pub(super) fn profile(family: MachineFamily, caps: &Capabilities) -> Profile {
    let mut p = Profile::base(caps);
    p.root = caps.has("zpci").then_some(ControllerModel::PciRoot);
    p.usb_model = None;
    p.usb_unaddressed_none = true;
    p.nic_model = NicModel::Virtio;
    p.video_model = VideoModel::Virtio;
    p.scsi_model = Some(ScsiModel::VirtioScsi);
    if family == MachineFamily::S390Ccw {
        p.virtio_transport = VirtioTransport::Ccw;
    }
    p
}
