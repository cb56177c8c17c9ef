//! x86 machines: i440fx (`pc`), q35, `isapc` and the rest (§4.3, §4.4).

use super::{Chipset, DefaultUsb, MachineFamily, Profile};
use crate::caps::Capabilities;
use crate::controller::ControllerModel;

/// The family of an x86 machine name (§4.1).
pub(super) fn family(name: &str) -> MachineFamily {
    if name == "pc"
        || name.starts_with("pc-0.")
        || name.starts_with("pc-1.")
        || name.starts_with("pc-i440fx-")
        || name.starts_with("rhel")
    {
        MachineFamily::I440fx
    } else if name == "q35" || name.starts_with("pc-q35-") {
        MachineFamily::Q35
    } else if name == "isapc" {
        MachineFamily::Isapc
    } else {
        MachineFamily::OtherX86
    }
}

pub(super) fn profile(family: MachineFamily, caps: &Capabilities) -> Profile {
    let mut p = Profile::base(caps);
    p.ide = true;
    match family {
        MachineFamily::I440fx => {
            p.root = Some(ControllerModel::PciRoot);
            p.default_usb = DefaultUsb::Unset;
            p.chipset = Chipset::I440fx;
            p.pci_expander_bus = true;
            p.pcihole64_root = Some(ControllerModel::PciRoot);
        }
        MachineFamily::Q35 => {
            p.root = Some(ControllerModel::PcieRoot);
            p.default_usb = DefaultUsb::Q35;
            p.sata0 = true;
            p.ide = false;
            p.chipset = Chipset::Q35;
            p.pcie_expander_bus = true;
            p.pcihole64_root = Some(ControllerModel::PcieRoot);
            p.usb_model_required = true;
        }
        MachineFamily::Isapc => {}
        _ => p.default_usb = DefaultUsb::Unset,
    }
    p
}
