//! Host facts libvirt reads from the host (given as input, never read here).

use std::collections::BTreeMap;

use crate::address::PciAddress;
use crate::error::ConfigError;

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

impl HostPci {
    /// The host device's IOMMU group; `None` when absent or unknown.
    pub fn iommu_group(&self, addr: PciAddress) -> Option<u32> {
        self.devices.get(&addr.key()).and_then(|d| d.iommu_group)
    }
}
