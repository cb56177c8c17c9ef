//! ppc64 machines: pSeries with its PCI host bridges (PHBs), spapr-vio and
//! isolation groups (§4.7, §5.15); other ppc64 machines have one pci-root.

use super::{DefaultUsb, Growth, MachineFamily, Profile, xhci};
use crate::caps::Capabilities;
use crate::controller::ControllerModel;
use crate::device::{ScsiModel, UsbModel, VideoModel};

/// The family of a ppc64 machine name (§4.1).
pub(super) fn family(name: &str) -> MachineFamily {
    if name == "pseries" || name.starts_with("pseries-") {
        MachineFamily::Pseries
    } else {
        MachineFamily::Ppc64Other
    }
}

pub(super) fn profile(family: MachineFamily, caps: &Capabilities) -> Profile {
    let mut p = Profile::base(caps);
    p.root = Some(ControllerModel::PciRoot);
    p.default_usb = DefaultUsb::Unset;
    p.usb_model = caps.has("pci-ohci").then_some(UsbModel::PciOhci);
    p.usb_model_new_definition = xhci(caps);
    p.video_model = VideoModel::Vga;
    p.usb_inputs_for_graphics = true;
    if family == MachineFamily::Pseries {
        p.root_model_name = Some("spapr-pci-host-bridge");
        p.growth = Growth::HostBridges;
        p.isolation_groups = true;
        p.scsi_model = Some(ScsiModel::Ibmvscsi);
        p.spapr_vio_platform = true;
    }
    p
}
