//! Other architectures (§4.2 table, §4.9): sparc has nothing; sparc64,
//! alpha, ppc, ppcemb and sh4 have a pci-root; mips has one on `malta`.

use super::{Arch, DefaultUsb, Profile};
use crate::caps::Capabilities;
use crate::controller::ControllerModel;

pub(super) fn profile(arch: Arch, name: &str, caps: &Capabilities) -> Profile {
    // A USB controller without model becomes piix3-uhci, as on x86 (seen
    // on alpha `clipper`, ppc `g3beige`, sh4 `r2d` with the live libvirt).
    let mut p = Profile::base(caps);
    match arch {
        Arch::Sparc => {
            p.memballoon = false;
        }
        Arch::Mips | Arch::Mipsel | Arch::Mips64 | Arch::Mips64el => {
            p.default_usb = DefaultUsb::Unset;
            p.root = (name == "malta").then_some(ControllerModel::PciRoot);
        }
        _ => {
            p.default_usb = DefaultUsb::Unset;
            p.root = Some(ControllerModel::PciRoot);
        }
    }
    p
}
