//! libvirt version profiles: the behaviours in which libvirt 11.3 answers
//! differently from 9.0, one switch each (`docs/libvirt-rules.md`, the
//! "libvirt 11.3" section). 9.0 is the default.

use std::fmt;
use std::str::FromStr;

/// Which libvirt's answers a plan reproduces.
///
/// ```
/// use pciplan::LibvirtVersion;
/// let v: LibvirtVersion = "11.3".parse()?;
/// assert!(v.allows_several_watchdogs());
/// assert!(!LibvirtVersion::default().allows_several_watchdogs());
/// # Ok::<(), pciplan::version::UnknownVersion>(())
/// ```
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Hash)]
pub enum LibvirtVersion {
    /// libvirt 9.0 (Debian bookworm), with QEMU 7.2/8.0.
    #[default]
    V9_0,
    /// libvirt 11.3 (Debian trixie), with QEMU 10.0.
    V11_3,
}

/// A version string that names no profile.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown libvirt version '{0}' (known: 9.0, 11.3)")]
pub struct UnknownVersion(pub String);

impl FromStr for LibvirtVersion {
    type Err = UnknownVersion;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "9.0" | "9" => Ok(LibvirtVersion::V9_0),
            "11.3" | "11" => Ok(LibvirtVersion::V11_3),
            other => Err(UnknownVersion(other.to_string())),
        }
    }
}

impl fmt::Display for LibvirtVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LibvirtVersion::V9_0 => "9.0",
            LibvirtVersion::V11_3 => "11.3",
        })
    }
}

impl LibvirtVersion {
    /// Controllers libvirt adds (those implied by disks, host devices and
    /// virtio consoles, and the PCI controllers of the dry run) are
    /// inserted at their place in the controller array, by type and index
    /// (11.3), instead of appended (9.0). The device loop visits
    /// controllers in array order, so their slots differ.
    pub const fn sorts_added_controllers(self) -> bool {
        matches!(self, LibvirtVersion::V11_3)
    }

    /// Several `<watchdog>` devices are accepted (11.3); 9.0 allows one.
    pub const fn allows_several_watchdogs(self) -> bool {
        matches!(self, LibvirtVersion::V11_3)
    }

    /// QEMU's generic PCIe host (`gpex-pcihost`) counts as always present:
    /// libvirt 11 no longer probes it, so arm/riscv `virt` always has a
    /// pcie-root (11.3).
    pub const fn assumes_gpex(self) -> bool {
        matches!(self, LibvirtVersion::V11_3)
    }

    /// q35 gets an implicit `<watchdog model='itco'/>` (11.3).
    pub const fn adds_itco_watchdog_on_q35(self) -> bool {
        matches!(self, LibvirtVersion::V11_3)
    }
}
