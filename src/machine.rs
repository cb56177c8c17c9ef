//! Machine types (spec §4) and host facts.

use std::collections::BTreeMap;

use crate::address::PciAddress;
use crate::error::ConfigError;

/// Guest architecture.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Arch {
    /// `x86_64`.
    X86_64,
    /// `i686`.
    I686,
}

impl Arch {
    /// Parses an `<os><type arch>` value.
    ///
    /// # Errors
    /// [`ConfigError::UnsupportedArch`] for architectures pciplan does not
    /// handle yet.
    pub fn parse(s: &str) -> Result<Arch, ConfigError> {
        match s {
            "x86_64" => Ok(Arch::X86_64),
            "i686" => Ok(Arch::I686),
            _ => Err(ConfigError::UnsupportedArch {
                arch: s.to_string(),
            }),
        }
    }

    /// libvirt's spelling.
    pub const fn as_str(&self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64",
            Arch::I686 => "i686",
        }
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
}

/// A machine: architecture and machine type name.
///
/// ```
/// use pciplan::{Machine, MachineFamily};
/// let m = Machine::new("x86_64", "pc-q35-8.0")?;
/// assert_eq!(m.family(), MachineFamily::Q35);
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
        let family = if name == "pc"
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
    /// Whether the machine has PCI at all (x86: always; §4.1).
    pub fn supports_pci(&self) -> bool {
        true
    }
}

/// Facts about host PCI devices that libvirt reads from the host: whether a
/// device is PCI Express and its IOMMU group. Given as input, never read from
/// this machine. A device not listed counts as absent (libvirt then treats a
/// passthrough device as PCI Express).
///
/// ```
/// use pciplan::machine::HostPci;
/// let tsv = "address\tvendor\tdevice\tclass\tiommu_group\tphysfn\tis_pcie\n\
///            0000:00:02.0\t0x8086\t0x0046\t0x0000\t2\t\tfalse\n";
/// let host = HostPci::from_tsv(tsv)?;
/// assert_eq!(host.is_pcie("0000:00:02.0".parse()?), Some(false));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HostPci {
    devices: BTreeMap<(u16, u8, u8, u8), HostDevice>,
}

/// One host PCI device's facts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostDevice {
    /// PCI Express or conventional.
    pub is_pcie: bool,
    /// IOMMU group.
    pub iommu_group: Option<u32>,
}

impl HostPci {
    /// Adds a device.
    pub fn insert(&mut self, addr: PciAddress, dev: HostDevice) {
        self.devices.insert(addr.key(), dev);
    }

    /// Whether the host device is PCI Express; `None` when absent.
    pub fn is_pcie(&self, addr: PciAddress) -> Option<bool> {
        self.devices.get(&addr.key()).map(|d| d.is_pcie)
    }

    /// Reads the tab-separated format of the conformance corpus's
    /// `env/virpcimock-devices.tsv`: a header line naming at least the
    /// columns `address` and `is_pcie` (and optionally `iommu_group`).
    ///
    /// # Errors
    /// [`ConfigError::HostPci`] naming the line that is malformed.
    pub fn from_tsv(text: &str) -> Result<HostPci, ConfigError> {
        let mut lines = text.lines().enumerate();
        let header: Vec<&str> = match lines.next() {
            Some((_, h)) => h.split('\t').collect(),
            None => return Ok(HostPci::default()),
        };
        let col = |name: &str| header.iter().position(|h| h.trim() == name);
        let (Some(addr_col), Some(pcie_col)) = (col("address"), col("is_pcie")) else {
            return Err(ConfigError::HostPci {
                line: 1,
                reason: "header needs the columns 'address' and 'is_pcie'".into(),
            });
        };
        let group_col = col("iommu_group");
        let mut out = HostPci::default();
        for (n, line) in lines {
            if line.trim().is_empty() {
                continue;
            }
            let cells: Vec<&str> = line.split('\t').collect();
            let bad = |reason: &str| ConfigError::HostPci {
                line: n.saturating_add(1),
                reason: reason.to_string(),
            };
            let addr: PciAddress = cells
                .get(addr_col)
                .ok_or_else(|| bad("missing address"))?
                .trim()
                .parse()
                .map_err(|_| bad("malformed address"))?;
            let is_pcie = match cells.get(pcie_col).map(|c| c.trim()) {
                Some("true") => true,
                Some("false") => false,
                _ => return Err(bad("is_pcie must be 'true' or 'false'")),
            };
            let iommu_group = group_col
                .and_then(|c| cells.get(c))
                .and_then(|c| c.trim().parse().ok());
            out.insert(
                addr,
                HostDevice {
                    is_pcie,
                    iommu_group,
                },
            );
        }
        Ok(out)
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
    fn non_x86_arch_is_rejected() {
        assert!(Machine::new("sparc", "pc").is_err());
    }
}
