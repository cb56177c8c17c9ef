//! Machine types (spec §4): architectures, machine families and the
//! [`Profile`] of each family, plus host facts.
//!
//! Where machines differ, the difference lives here, one file per family
//! (`x86.rs`, `arm.rs`, `riscv.rs`, `pseries.rs`, `s390.rs`, `other.rs`):
//! each builds a [`Profile`] value that the defaults and the allocator
//! consult instead of branching on the machine.

mod arm;
mod host;
mod other;
mod pseries;
mod riscv;
mod s390;
mod x86;

pub use host::{HostDevice, HostPci};

use crate::caps::Capabilities;
use crate::controller::ControllerModel;
use crate::device::{NicModel, ScsiModel, UsbModel, VideoModel};
use crate::error::ConfigError;

/// Guest architecture (libvirt's spelling in `<os><type arch>`).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Arch {
    /// `x86_64`.
    X86_64,
    /// `i686`.
    I686,
    /// `aarch64`.
    Aarch64,
    /// `armv7l`.
    Armv7l,
    /// `armv6l`.
    Armv6l,
    /// `riscv32`.
    Riscv32,
    /// `riscv64`.
    Riscv64,
    /// `ppc64` (big endian).
    Ppc64,
    /// `ppc64le`.
    Ppc64le,
    /// `ppc`.
    Ppc,
    /// `ppcemb`.
    Ppcemb,
    /// `s390`.
    S390,
    /// `s390x`.
    S390x,
    /// `sparc`.
    Sparc,
    /// `sparc64`.
    Sparc64,
    /// `alpha`.
    Alpha,
    /// `mips`.
    Mips,
    /// `mipsel`.
    Mipsel,
    /// `mips64`.
    Mips64,
    /// `mips64el`.
    Mips64el,
    /// `sh4`.
    Sh4,
    /// `sh4eb`.
    Sh4eb,
}

/// Every architecture with its spelling.
const ARCHES: [(Arch, &str); 22] = [
    (Arch::X86_64, "x86_64"),
    (Arch::I686, "i686"),
    (Arch::Aarch64, "aarch64"),
    (Arch::Armv7l, "armv7l"),
    (Arch::Armv6l, "armv6l"),
    (Arch::Riscv32, "riscv32"),
    (Arch::Riscv64, "riscv64"),
    (Arch::Ppc64, "ppc64"),
    (Arch::Ppc64le, "ppc64le"),
    (Arch::Ppc, "ppc"),
    (Arch::Ppcemb, "ppcemb"),
    (Arch::S390, "s390"),
    (Arch::S390x, "s390x"),
    (Arch::Sparc, "sparc"),
    (Arch::Sparc64, "sparc64"),
    (Arch::Alpha, "alpha"),
    (Arch::Mips, "mips"),
    (Arch::Mipsel, "mipsel"),
    (Arch::Mips64, "mips64"),
    (Arch::Mips64el, "mips64el"),
    (Arch::Sh4, "sh4"),
    (Arch::Sh4eb, "sh4eb"),
];

impl Arch {
    /// Parses an `<os><type arch>` value.
    ///
    /// ```
    /// use pciplan::machine::Arch;
    /// assert_eq!(Arch::parse("aarch64")?, Arch::Aarch64);
    /// assert!(Arch::parse("pdp11").is_err());
    /// # Ok::<(), pciplan::error::ConfigError>(())
    /// ```
    ///
    /// # Errors
    /// [`ConfigError::UnsupportedArch`] for names libvirt does not know.
    pub fn parse(s: &str) -> Result<Arch, ConfigError> {
        ARCHES
            .iter()
            .find(|(_, name)| *name == s)
            .map(|(a, _)| *a)
            .ok_or_else(|| ConfigError::UnsupportedArch {
                arch: s.to_string(),
            })
    }

    /// libvirt's spelling.
    ///
    /// ```
    /// assert_eq!(pciplan::machine::Arch::Ppc64le.as_str(), "ppc64le");
    /// ```
    pub fn as_str(&self) -> &'static str {
        ARCHES
            .iter()
            .find(|(a, _)| a == self)
            .map_or("x86_64", |(_, name)| name)
    }

    /// The machine a domain of this architecture gets when it names none
    /// and the QEMU binary declares no default (`pc`, `virt`, `pseries`,
    /// `s390-ccw-virtio`, …).
    ///
    /// ```
    /// assert_eq!(pciplan::machine::Arch::Ppc64.default_machine(), "pseries");
    /// ```
    pub const fn default_machine(self) -> &'static str {
        match self {
            Arch::X86_64 | Arch::I686 => "pc",
            Arch::Aarch64 | Arch::Armv7l | Arch::Armv6l | Arch::Riscv32 | Arch::Riscv64 => "virt",
            Arch::Ppc64 | Arch::Ppc64le => "pseries",
            Arch::S390 | Arch::S390x => "s390-ccw-virtio",
            Arch::Ppc | Arch::Ppcemb => "g3beige",
            Arch::Sparc => "SS-5",
            Arch::Sparc64 => "sun4u",
            Arch::Alpha => "clipper",
            Arch::Mips | Arch::Mipsel | Arch::Mips64 | Arch::Mips64el => "malta",
            Arch::Sh4 | Arch::Sh4eb => "r2d",
        }
    }

    /// x86_64 or i686.
    pub const fn is_x86(self) -> bool {
        matches!(self, Arch::X86_64 | Arch::I686)
    }

    /// aarch64, armv7l or armv6l.
    pub const fn is_arm(self) -> bool {
        matches!(self, Arch::Aarch64 | Arch::Armv7l | Arch::Armv6l)
    }

    /// riscv32 or riscv64.
    pub const fn is_riscv(self) -> bool {
        matches!(self, Arch::Riscv32 | Arch::Riscv64)
    }

    /// ppc64 or ppc64le.
    pub const fn is_ppc64(self) -> bool {
        matches!(self, Arch::Ppc64 | Arch::Ppc64le)
    }

    /// s390 or s390x.
    pub const fn is_s390(self) -> bool {
        matches!(self, Arch::S390 | Arch::S390x)
    }
}

/// The machine families that decide PCI placement (§4.1).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum MachineFamily {
    /// i440fx (`pc`, `pc-0.*`, `pc-1.*`, `pc-i440fx-*`, `rhel*`): pci-root.
    I440fx,
    /// q35 (`q35`, `pc-q35-*`): pcie-root.
    Q35,
    /// `isapc`: no PCI at all.
    Isapc,
    /// Another x86 machine (e.g. `microvm`): no root bus is added.
    OtherX86,
    /// arm `virt` / `virt-*` (aarch64, armv7l, armv6l): pcie-root with GPEX.
    ArmVirt,
    /// arm `versatilepb`: pci-root.
    ArmVersatile,
    /// Any other arm machine (`vexpress-*`, …): no PCI.
    ArmOther,
    /// riscv `virt`: pcie-root with GPEX.
    RiscvVirt,
    /// Any other riscv machine: no PCI.
    RiscvOther,
    /// ppc64 `pseries` / `pseries-*`: PHBs.
    Pseries,
    /// Another ppc64 machine (e.g. `powernv`): one pci-root.
    Ppc64Other,
    /// s390 `s390-ccw*`: CCW, and zPCI when QEMU has it.
    S390Ccw,
    /// Another s390 machine.
    S390Other,
    /// Other architectures (sparc64, alpha, ppc, mips `malta`, sh4, …).
    Generic,
}

/// A machine: architecture and machine type name.
///
/// ```
/// use pciplan::{Machine, MachineFamily};
/// let m = Machine::new("x86_64", "pc-q35-8.0")?;
/// assert_eq!(m.family(), MachineFamily::Q35);
/// let arm = Machine::new("aarch64", "virt-7.2")?;
/// assert_eq!(arm.family(), MachineFamily::ArmVirt);
/// # Ok::<(), pciplan::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Machine {
    arch: Arch,
    name: String,
    family: MachineFamily,
}

impl Machine {
    /// A machine from arch and machine type name.
    ///
    /// # Errors
    /// [`ConfigError::UnsupportedArch`].
    pub fn new(arch: &str, name: &str) -> Result<Machine, crate::Error> {
        let arch = Arch::parse(arch)?;
        let virt = name == "virt" || name.starts_with("virt-");
        let family = match arch {
            Arch::X86_64 | Arch::I686 => x86::family(name),
            Arch::Aarch64 | Arch::Armv7l | Arch::Armv6l => arm::family(name),
            Arch::Riscv32 | Arch::Riscv64 if virt => MachineFamily::RiscvVirt,
            Arch::Riscv32 | Arch::Riscv64 => MachineFamily::RiscvOther,
            Arch::Ppc64 | Arch::Ppc64le => pseries::family(name),
            Arch::S390 | Arch::S390x if name.starts_with("s390-ccw") => MachineFamily::S390Ccw,
            Arch::S390 | Arch::S390x => MachineFamily::S390Other,
            Arch::Ppc
            | Arch::Ppcemb
            | Arch::Sparc
            | Arch::Sparc64
            | Arch::Alpha
            | Arch::Mips
            | Arch::Mipsel
            | Arch::Mips64
            | Arch::Mips64el
            | Arch::Sh4
            | Arch::Sh4eb => MachineFamily::Generic,
        };
        Ok(Machine {
            arch,
            name: name.to_string(),
            family,
        })
    }

    /// An i440fx `pc` machine on x86_64.
    pub fn pc() -> Machine {
        Machine {
            arch: Arch::X86_64,
            name: "pc".into(),
            family: MachineFamily::I440fx,
        }
    }

    /// A `q35` machine on x86_64.
    pub fn q35() -> Machine {
        Machine {
            arch: Arch::X86_64,
            name: "q35".into(),
            family: MachineFamily::Q35,
        }
    }

    /// The architecture.
    pub fn arch(&self) -> &Arch {
        &self.arch
    }
    /// The machine type name.
    pub fn name(&self) -> &str {
        &self.name
    }
    /// The family.
    pub fn family(&self) -> MachineFamily {
        self.family
    }
    /// True for i440fx machines.
    pub fn is_i440fx(&self) -> bool {
        self.family == MachineFamily::I440fx
    }
    /// True for q35 machines.
    pub fn is_q35(&self) -> bool {
        self.family == MachineFamily::Q35
    }
    /// True for pSeries machines.
    pub fn is_pseries(&self) -> bool {
        self.family == MachineFamily::Pseries
    }
    /// True for `s390-ccw*` machines.
    pub fn is_s390_ccw(&self) -> bool {
        self.family == MachineFamily::S390Ccw
    }

    /// What this machine does differently, given the QEMU binary (§4).
    ///
    /// ```
    /// use pciplan::{Capabilities, Machine, ControllerModel};
    /// let caps = Capabilities::from_names(["gpex-pcihost", "pcie-root-port"]);
    /// let p = Machine::new("aarch64", "virt")?.profile(&caps);
    /// assert_eq!(p.root, Some(ControllerModel::PcieRoot));
    /// assert!(!p.memballoon);
    /// # Ok::<(), pciplan::Error>(())
    /// ```
    pub fn profile(&self, caps: &Capabilities) -> Profile {
        match self.family {
            MachineFamily::I440fx
            | MachineFamily::Q35
            | MachineFamily::Isapc
            | MachineFamily::OtherX86 => x86::profile(self.family, caps),
            MachineFamily::ArmVirt | MachineFamily::ArmVersatile | MachineFamily::ArmOther => {
                arm::profile(self.family, self.arch, &self.name, caps)
            }
            MachineFamily::RiscvVirt | MachineFamily::RiscvOther => {
                riscv::profile(self.family, caps)
            }
            MachineFamily::Pseries | MachineFamily::Ppc64Other => {
                pseries::profile(self.family, caps)
            }
            MachineFamily::S390Ccw | MachineFamily::S390Other => s390::profile(self.family, caps),
            MachineFamily::Generic => other::profile(self.arch, &self.name, caps),
        }
    }

    /// Whether PCI assignment runs at all (§4.1 SupportsPCI).
    pub fn supports_pci(&self, caps: &Capabilities) -> bool {
        self.profile(caps).supports_pci
    }
}

/// The default USB controller a machine adds at index 0 (§4.2).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum DefaultUsb {
    /// None.
    None,
    /// One controller whose model stays unset until models are defaulted.
    Unset,
    /// q35: `qemu-xhci`, else `nec-xhci`, else the ich9 EHCI set.
    Q35,
}

/// The fixed chipset functions and preferred slots of §5.8.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Chipset {
    /// No reservations, no preferred slots.
    None,
    /// PIIX3 at 00:01, the primary video at 00:02.
    I440fx,
    /// ICH9 at 00:1f, preferred slots for USB, bridges, video and sound.
    Q35,
}

/// How new buses are added when the dry run needs them (§5.7).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Growth {
    /// pci-bridge / pcie-root-port (and a first bridge level).
    Bridges,
    /// New PCI host bridges (pci-root), pSeries.
    HostBridges,
}

/// Where virtio devices without an address go (§4.5, §4.8).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum VirtioTransport {
    /// PCI.
    Pci,
    /// PCI when there is a pcie-root and root ports and no device already
    /// uses virtio-mmio; otherwise virtio-mmio when QEMU has it (arm, riscv).
    MmioUnlessPci,
    /// CCW (s390-ccw).
    Ccw,
}

/// What one machine family does differently (§4): a plain value the
/// defaults and the allocator consult.
///
/// ```
/// use pciplan::{Capabilities, Machine};
/// use pciplan::machine::Growth;
/// let p = Machine::new("ppc64", "pseries")?.profile(&Capabilities::empty());
/// assert_eq!(p.growth, Growth::HostBridges);
/// # Ok::<(), pciplan::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Profile {
    /// The root controller added at index 0, if any.
    pub root: Option<ControllerModel>,
    /// The `<model name>` a root of index `n` gets (pSeries PHBs).
    pub root_model_name: Option<&'static str>,
    /// Whether PCI assignment runs (§4.1).
    pub supports_pci: bool,
    /// The default USB controller.
    pub default_usb: DefaultUsb,
    /// What a USB controller without a model becomes.
    pub usb_model: Option<UsbModel>,
    /// What it becomes in a new definition (libvirt's ABI-update parse),
    /// when that differs (ppc64).
    pub usb_model_new_definition: Option<UsbModel>,
    /// A USB controller without model and address becomes `none` (s390).
    pub usb_unaddressed_none: bool,
    /// A USB controller whose model stays unset cannot start (q35).
    pub usb_model_required: bool,
    /// A virtio memballoon is added when none is given.
    pub memballoon: bool,
    /// An implicit SATA controller index 0 (q35).
    pub sata0: bool,
    /// The machine has a built-in IDE bus (IDE controllers allowed).
    pub ide: bool,
    /// Chipset reservations and preferred slots.
    pub chipset: Chipset,
    /// How the dry run adds buses.
    pub growth: Growth,
    /// Virtio transport for devices without an address.
    pub virtio_transport: VirtioTransport,
    /// `pci-expander-bus` allowed.
    pub pci_expander_bus: bool,
    /// `pcie-expander-bus` allowed.
    pub pcie_expander_bus: bool,
    /// Isolation groups (§5.15).
    pub isolation_groups: bool,
    /// The root model that may carry `pcihole64`.
    pub pcihole64_root: Option<ControllerModel>,
    /// NIC model for interfaces without one.
    pub nic_model: NicModel,
    /// Video model for videos without one.
    pub video_model: VideoModel,
    /// SCSI controller model for controllers without one (`None`: error).
    pub scsi_model: Option<ScsiModel>,
    /// spapr-vio devices on this machine also include NVRAM and TPMs.
    pub spapr_vio_platform: bool,
    /// With graphics, a USB keyboard and mouse are added (ppc64).
    pub usb_inputs_for_graphics: bool,
}

impl Profile {
    /// The generic profile most families start from: no root, no chipset,
    /// bridges for growth, PCI transport, x86-style model defaults.
    pub(crate) fn base(caps: &Capabilities) -> Profile {
        Profile {
            root: None,
            root_model_name: None,
            supports_pci: true,
            default_usb: DefaultUsb::None,
            usb_model: caps.has("piix3-usb-uhci").then_some(UsbModel::Piix3Uhci),
            usb_model_new_definition: None,
            usb_unaddressed_none: false,
            usb_model_required: false,
            memballoon: true,
            sata0: false,
            ide: false,
            chipset: Chipset::None,
            growth: Growth::Bridges,
            virtio_transport: VirtioTransport::Pci,
            pci_expander_bus: false,
            pcie_expander_bus: false,
            isolation_groups: false,
            pcihole64_root: None,
            nic_model: default_nic(caps),
            video_model: if caps.has("cirrus-vga") {
                VideoModel::Cirrus
            } else {
                VideoModel::Vga
            },
            scsi_model: default_scsi(caps),
            spapr_vio_platform: false,
            usb_inputs_for_graphics: false,
        }
    }
}

/// rtl8139 if available, else e1000, else virtio, else rtl8139 (§4.2).
fn default_nic(caps: &Capabilities) -> NicModel {
    if caps.has("rtl8139") {
        NicModel::Known("rtl8139".into())
    } else if caps.has("e1000") {
        NicModel::Known("e1000".into())
    } else if caps.has("virtio-net") {
        NicModel::Virtio
    } else {
        NicModel::Known("rtl8139".into())
    }
}

/// lsilogic if available, else virtio-scsi, else none (§4.2).
fn default_scsi(caps: &Capabilities) -> Option<ScsiModel> {
    if caps.has("lsi") {
        Some(ScsiModel::Lsilogic)
    } else if caps.has("virtio-scsi-pci") {
        Some(ScsiModel::VirtioScsi)
    } else {
        None
    }
}

/// qemu-xhci if available, else nec-xhci (aarch64, ppc64 new definitions).
fn xhci(caps: &Capabilities) -> Option<UsbModel> {
    if caps.has("qemu-xhci") {
        Some(UsbModel::QemuXhci)
    } else if caps.has("nec-usb-xhci") {
        Some(UsbModel::NecXhci)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versioned_i440fx_names_are_i440fx() {
        for n in ["pc", "pc-0.13", "pc-1.2", "pc-i440fx-8.0", "rhel6.5.0"] {
            assert_eq!(
                Machine::new("x86_64", n).unwrap().family(),
                MachineFamily::I440fx
            );
        }
    }

    #[test]
    fn versioned_q35_names_are_q35() {
        assert_eq!(
            Machine::new("i686", "pc-q35-2.5").unwrap().family(),
            MachineFamily::Q35
        );
    }

    #[test]
    fn unknown_arch_is_rejected() {
        assert!(Machine::new("pdp11", "pc").is_err());
    }

    #[test]
    fn every_arch_round_trips_its_name() {
        for (a, name) in ARCHES {
            assert_eq!(Arch::parse(name).unwrap(), a);
            assert_eq!(a.as_str(), name);
        }
    }

    #[test]
    fn pseries_and_s390_ccw_are_recognised() {
        assert!(Machine::new("ppc64le", "pseries-7.1").unwrap().is_pseries());
        assert!(
            Machine::new("s390x", "s390-ccw-virtio-7.2")
                .unwrap()
                .is_s390_ccw()
        );
    }
}
