//! PCI controller models and what each one offers and needs (spec §1.4, §2.2–2.4).

use std::fmt;
use std::str::FromStr;

use crate::caps::Capabilities;
use crate::flags::ConnectFlags;

/// The ten PCI controller models (`<controller type='pci' model='...'>`).
///
/// ```
/// use pciplan::ControllerModel;
/// let m: ControllerModel = "pcie-root-port".parse()?;
/// assert_eq!(m.slot_range(), (0, 0));
/// assert!(m.accepts().contains(pciplan::ConnectFlags::PCIE_DEVICE));
/// # Ok::<(), pciplan::Error>(())
/// ```
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ControllerModel {
    /// `pci-root`: the i440fx root bus (and pSeries PHBs).
    PciRoot,
    /// `pcie-root`: the q35 root complex.
    PcieRoot,
    /// `pci-bridge`: a conventional PCI-to-PCI bridge.
    PciBridge,
    /// `dmi-to-pci-bridge` (i82801b11-bridge).
    DmiToPciBridge,
    /// `pcie-root-port`.
    PcieRootPort,
    /// `pcie-switch-upstream-port` (x3130-upstream).
    PcieSwitchUpstreamPort,
    /// `pcie-switch-downstream-port` (xio3130-downstream).
    PcieSwitchDownstreamPort,
    /// `pci-expander-bus` (pxb).
    PciExpanderBus,
    /// `pcie-expander-bus` (pxb-pcie).
    PcieExpanderBus,
    /// `pcie-to-pci-bridge` (pcie-pci-bridge).
    PcieToPciBridge,
}

/// Every model, in libvirt's enum order.
pub const ALL_MODELS: [ControllerModel; 10] = [
    ControllerModel::PciRoot,
    ControllerModel::PcieRoot,
    ControllerModel::PciBridge,
    ControllerModel::DmiToPciBridge,
    ControllerModel::PcieRootPort,
    ControllerModel::PcieSwitchUpstreamPort,
    ControllerModel::PcieSwitchDownstreamPort,
    ControllerModel::PciExpanderBus,
    ControllerModel::PcieExpanderBus,
    ControllerModel::PcieToPciBridge,
];

impl ControllerModel {
    /// The libvirt spelling of the model.
    pub const fn as_str(self) -> &'static str {
        match self {
            ControllerModel::PciRoot => "pci-root",
            ControllerModel::PcieRoot => "pcie-root",
            ControllerModel::PciBridge => "pci-bridge",
            ControllerModel::DmiToPciBridge => "dmi-to-pci-bridge",
            ControllerModel::PcieRootPort => "pcie-root-port",
            ControllerModel::PcieSwitchUpstreamPort => "pcie-switch-upstream-port",
            ControllerModel::PcieSwitchDownstreamPort => "pcie-switch-downstream-port",
            ControllerModel::PciExpanderBus => "pci-expander-bus",
            ControllerModel::PcieExpanderBus => "pcie-expander-bus",
            ControllerModel::PcieToPciBridge => "pcie-to-pci-bridge",
        }
    }

    /// True for `pci-root` and `pcie-root`, which plug into nothing.
    pub const fn is_root(self) -> bool {
        matches!(self, ControllerModel::PciRoot | ControllerModel::PcieRoot)
    }

    /// The controller's own connect flags: what it needs upstream (§2.3).
    pub const fn connect_flags(self) -> ConnectFlags {
        match self {
            ControllerModel::PciRoot | ControllerModel::PcieRoot => ConnectFlags::empty(),
            ControllerModel::PciBridge => ConnectFlags::PCI_BRIDGE,
            ControllerModel::DmiToPciBridge => ConnectFlags::DMI_TO_PCI_BRIDGE,
            ControllerModel::PcieToPciBridge => ConnectFlags::PCIE_TO_PCI_BRIDGE,
            ControllerModel::PcieRootPort => {
                ConnectFlags::PCIE_ROOT_PORT.union(ConnectFlags::AGGREGATE_SLOT)
            }
            ControllerModel::PcieSwitchUpstreamPort => ConnectFlags::PCIE_SWITCH_UPSTREAM_PORT,
            ControllerModel::PcieSwitchDownstreamPort => ConnectFlags::PCIE_SWITCH_DOWNSTREAM_PORT,
            ControllerModel::PciExpanderBus => ConnectFlags::PCI_EXPANDER_BUS,
            ControllerModel::PcieExpanderBus => ConnectFlags::PCIE_EXPANDER_BUS,
        }
    }

    /// What the controller's bus accepts, besides HOTPLUGGABLE (§2.2).
    pub const fn accepts(self) -> ConnectFlags {
        use ConnectFlags as F;
        match self {
            ControllerModel::PciRoot => F::PCI_DEVICE
                .union(F::PCI_BRIDGE)
                .union(F::PCI_EXPANDER_BUS)
                .union(F::AUTOASSIGN),
            ControllerModel::PcieRoot => F::PCIE_DEVICE
                .union(F::PCIE_ROOT_PORT)
                .union(F::DMI_TO_PCI_BRIDGE)
                .union(F::PCIE_EXPANDER_BUS),
            ControllerModel::PciBridge
            | ControllerModel::PcieToPciBridge
            | ControllerModel::PciExpanderBus => {
                F::PCI_DEVICE.union(F::PCI_BRIDGE).union(F::AUTOASSIGN)
            }
            ControllerModel::DmiToPciBridge => F::PCI_DEVICE.union(F::PCI_BRIDGE),
            ControllerModel::PcieRootPort | ControllerModel::PcieSwitchDownstreamPort => {
                F::PCIE_DEVICE
                    .union(F::PCIE_SWITCH_UPSTREAM_PORT)
                    .union(F::PCIE_TO_PCI_BRIDGE)
                    .union(F::AUTOASSIGN)
            }
            ControllerModel::PcieSwitchUpstreamPort => F::PCIE_SWITCH_DOWNSTREAM_PORT,
            ControllerModel::PcieExpanderBus => F::PCIE_ROOT_PORT.union(F::DMI_TO_PCI_BRIDGE),
        }
    }

    /// Whether the bus can take hot-plugged devices (unless `hotplug='off'`).
    pub const fn hotpluggable(self) -> bool {
        match self {
            ControllerModel::PciRoot
            | ControllerModel::PciBridge
            | ControllerModel::PcieToPciBridge
            | ControllerModel::PcieRootPort
            | ControllerModel::PcieSwitchDownstreamPort
            | ControllerModel::PciExpanderBus => true,
            ControllerModel::PcieRoot
            | ControllerModel::DmiToPciBridge
            | ControllerModel::PcieSwitchUpstreamPort
            | ControllerModel::PcieExpanderBus => false,
        }
    }

    /// Lowest and highest usable slot of the bus.
    pub const fn slot_range(self) -> (u8, u8) {
        match self {
            ControllerModel::PciRoot
            | ControllerModel::PcieRoot
            | ControllerModel::PciBridge
            | ControllerModel::PcieToPciBridge => (1, 31),
            ControllerModel::DmiToPciBridge
            | ControllerModel::PcieSwitchUpstreamPort
            | ControllerModel::PciExpanderBus
            | ControllerModel::PcieExpanderBus => (0, 31),
            ControllerModel::PcieRootPort | ControllerModel::PcieSwitchDownstreamPort => (0, 0),
        }
    }

    /// Whether the dry run may add this model on its own when a device needs
    /// a bus of it (§2.3, §5.7).
    pub const fn auto_addable(self) -> bool {
        matches!(
            self,
            ControllerModel::PciBridge
                | ControllerModel::PcieRootPort
                | ControllerModel::DmiToPciBridge
                | ControllerModel::PcieToPciBridge
        )
    }

    /// The default `<model name>` (the device QEMU emulates), given the
    /// capabilities; `None` for the roots.
    pub fn default_model_name(self, caps: &Capabilities) -> Option<&'static str> {
        match self {
            ControllerModel::PciRoot | ControllerModel::PcieRoot => None,
            ControllerModel::PciBridge => Some("pci-bridge"),
            ControllerModel::DmiToPciBridge => Some("i82801b11-bridge"),
            ControllerModel::PcieToPciBridge => Some("pcie-pci-bridge"),
            ControllerModel::PcieRootPort => {
                if caps.has("pcie-root-port") {
                    Some("pcie-root-port")
                } else {
                    Some("ioh3420")
                }
            }
            ControllerModel::PcieSwitchUpstreamPort => Some("x3130-upstream"),
            ControllerModel::PcieSwitchDownstreamPort => Some("xio3130-downstream"),
            ControllerModel::PciExpanderBus => Some("pxb"),
            ControllerModel::PcieExpanderBus => Some("pxb-pcie"),
        }
    }

    /// Whether `name` is a valid `<model name>` for this model.
    pub fn accepts_model_name(self, name: &str) -> bool {
        match self {
            ControllerModel::PciRoot => name == "spapr-pci-host-bridge",
            ControllerModel::PcieRoot => false,
            ControllerModel::PcieRootPort => name == "ioh3420" || name == "pcie-root-port",
            ControllerModel::PciBridge => name == "pci-bridge",
            ControllerModel::DmiToPciBridge => name == "i82801b11-bridge",
            ControllerModel::PcieToPciBridge => name == "pcie-pci-bridge",
            ControllerModel::PcieSwitchUpstreamPort => name == "x3130-upstream",
            ControllerModel::PcieSwitchDownstreamPort => name == "xio3130-downstream",
            ControllerModel::PciExpanderBus => name == "pxb",
            ControllerModel::PcieExpanderBus => name == "pxb-pcie",
        }
    }
}

/// The QEMU capability a `<model name>` needs (§1.4), if any.
pub fn model_name_capability(name: &str) -> Option<&'static str> {
    Some(match name {
        "pci-bridge" => "pci-bridge",
        "i82801b11-bridge" => "dmi-to-pci-bridge",
        "pcie-pci-bridge" => "pcie-pci-bridge",
        "pcie-root-port" => "pcie-root-port",
        "ioh3420" => "ioh3420",
        "x3130-upstream" => "x3130-upstream",
        "xio3130-downstream" => "xio3130-downstream",
        "pxb" => "pxb",
        "pxb-pcie" => "pxb-pcie",
        "spapr-pci-host-bridge" => "spapr-pci-host-bridge",
        _ => return None,
    })
}

impl fmt::Display for ControllerModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ControllerModel {
    type Err = crate::Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ALL_MODELS
            .iter()
            .copied()
            .find(|m| m.as_str() == s)
            .ok_or_else(|| {
                crate::error::ConfigError::UnknownModel {
                    model: s.to_string(),
                }
                .into()
            })
    }
}

/// `<target>` of a PCI controller. `None` means "not written".
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct PciTarget {
    /// `chassisNr` (pci-bridge).
    pub chassis_nr: Option<u32>,
    /// `chassis` (root and downstream ports).
    pub chassis: Option<u32>,
    /// `port` (root and downstream ports).
    pub port: Option<u32>,
    /// `busNr` (expander buses).
    pub bus_nr: Option<u32>,
    /// `index` (pSeries PHBs).
    pub index: Option<u32>,
    /// `hotplug='on'|'off'`.
    pub hotplug: Option<bool>,
    /// `<node>` child: guest NUMA node.
    pub node: Option<u32>,
}

impl PciTarget {
    /// True when nothing is set (no `<target>` is written).
    pub fn is_empty(&self) -> bool {
        *self == PciTarget::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flags::ConnectFlags as F;

    #[test]
    fn pci_root_accepts_conventional_bridges_and_expanders() {
        let a = ControllerModel::PciRoot.accepts();
        assert!(a.contains(F::PCI_DEVICE | F::PCI_BRIDGE | F::PCI_EXPANDER_BUS | F::AUTOASSIGN));
        assert!(!a.contains(F::PCIE_DEVICE));
    }

    #[test]
    fn pcie_root_has_no_autoassign() {
        assert!(!ControllerModel::PcieRoot.accepts().contains(F::AUTOASSIGN));
    }

    #[test]
    fn root_port_has_single_slot_zero() {
        assert_eq!(ControllerModel::PcieRootPort.slot_range(), (0, 0));
    }

    #[test]
    fn bridges_skip_slot_zero_but_dmi_uses_it() {
        assert_eq!(ControllerModel::PciBridge.slot_range(), (1, 31));
        assert_eq!(ControllerModel::PcieToPciBridge.slot_range(), (1, 31));
        assert_eq!(ControllerModel::DmiToPciBridge.slot_range(), (0, 31));
    }

    #[test]
    fn root_port_carries_aggregate_slot() {
        assert!(
            ControllerModel::PcieRootPort
                .connect_flags()
                .contains(F::AGGREGATE_SLOT)
        );
    }

    #[test]
    fn never_hotpluggable_buses() {
        assert!(!ControllerModel::PcieRoot.hotpluggable());
        assert!(!ControllerModel::DmiToPciBridge.hotpluggable());
        assert!(!ControllerModel::PcieSwitchUpstreamPort.hotpluggable());
        assert!(!ControllerModel::PcieExpanderBus.hotpluggable());
    }

    #[test]
    fn root_port_name_depends_on_capability() {
        let none = Capabilities::empty();
        assert_eq!(
            ControllerModel::PcieRootPort.default_model_name(&none),
            Some("ioh3420")
        );
        let caps = Capabilities::from_names(["pcie-root-port"]);
        assert_eq!(
            ControllerModel::PcieRootPort.default_model_name(&caps),
            Some("pcie-root-port")
        );
    }

    #[test]
    fn model_round_trips_through_text() {
        for m in ALL_MODELS {
            assert_eq!(m.as_str().parse::<ControllerModel>().unwrap(), m);
        }
    }
}
