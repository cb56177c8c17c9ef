//! The live attaches QEMU refuses after libvirt accepted them.
//!
//! libvirt picks a hot-pluggable slot by its own bus table (spec §2.4) and
//! sends `device_add`; QEMU then decides by the bus's hot-plug handler,
//! which libvirt does not look at. Where the two disagree the attach fails
//! only after libvirt chose the address, with QEMU's message wrapped as
//! `internal error: unable to execute QEMU command 'device_add': <QEMU's
//! message>`. [`hotplug_refusal`] predicts that refusal (`docs/libvirt-rules.md`,
//! rule 52; found with the live libvirt 9.0 + QEMU 7.2 corpus in
//! `tests/data/hotplug/`).

use std::fmt;

use crate::address::PciAddress;
use crate::controller::ControllerModel;
use crate::machine::MachineFamily;
use crate::plan::Plan;

/// Facts of the running guest that decide QEMU's hot-plug handlers but
/// are no part of the PCI plan.
///
/// ```
/// let guest = pciplan::qemu::GuestFeatures { acpi: true };
/// assert!(guest.acpi);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GuestFeatures {
    /// The domain has `<features><acpi/>`: on i440fx the root bus's
    /// hot-plug handler is the ACPI one (PIIX4 PM), which QEMU only
    /// builds with ACPI.
    pub acpi: bool,
}

/// Why QEMU refuses a `device_add` libvirt sent.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum HotplugRefusal {
    /// The bus has no hot-plug handler: i440fx's `pci.0` without ACPI, the
    /// root bus of a `pci-expander-bus`.
    NoHotplugHandler {
        /// QEMU's name of the bus (`pci.0`, `pci.2`).
        bus: String,
        /// The address libvirt tried.
        addr: PciAddress,
    },
}

impl HotplugRefusal {
    /// The address libvirt chose and sent.
    ///
    /// ```
    /// use pciplan::qemu::HotplugRefusal;
    /// let r = HotplugRefusal::NoHotplugHandler { bus: "pci.0".into(), addr: "0000:00:05.0".parse()? };
    /// assert_eq!(r.addr().to_string(), "0000:00:05.0");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn addr(&self) -> PciAddress {
        match self {
            HotplugRefusal::NoHotplugHandler { addr, .. } => *addr,
        }
    }

    /// The whole message the libvirt user sees, with libvirt's prefix.
    ///
    /// ```
    /// use pciplan::qemu::HotplugRefusal;
    /// let r = HotplugRefusal::NoHotplugHandler { bus: "pci.0".into(), addr: "0000:00:05.0".parse()? };
    /// assert_eq!(
    ///     r.libvirt_message(),
    ///     "internal error: unable to execute QEMU command 'device_add': Bus 'pci.0' does not support hotplugging"
    /// );
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn libvirt_message(&self) -> String {
        format!("internal error: unable to execute QEMU command 'device_add': {self}")
    }

    /// The message the libvirt user sees when the same bus refuses the
    /// unplug (`device_del`) of a device placed there at start.
    ///
    /// ```
    /// use pciplan::qemu::HotplugRefusal;
    /// let r = HotplugRefusal::NoHotplugHandler { bus: "pci.0".into(), addr: "0000:00:05.0".parse()? };
    /// assert_eq!(
    ///     r.libvirt_unplug_message(),
    ///     "internal error: unable to execute QEMU command 'device_del': Bus 'pci.0' does not support hotplugging"
    /// );
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn libvirt_unplug_message(&self) -> String {
        format!("internal error: unable to execute QEMU command 'device_del': {self}")
    }
}

impl fmt::Display for HotplugRefusal {
    /// QEMU's own message.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HotplugRefusal::NoHotplugHandler { bus, .. } => {
                write!(f, "Bus '{bus}' does not support hotplugging")
            }
        }
    }
}

/// The refusal QEMU gives a `device_add` at `addr` of this assigned plan
/// (the running guest), or `None` when QEMU accepts it.
///
/// Only x86 machines (i440fx, q35) are predicted; other machines answer
/// `None`.
///
/// ```
/// use pciplan::{Capabilities, Machine, Plan};
/// use pciplan::qemu::{GuestFeatures, hotplug_refusal};
/// let mut plan = Plan::new(Machine::pc(), Capabilities::qemu_8_0_x86_64());
/// plan.assign()?;
/// let slot = "0000:00:05.0".parse()?;
/// assert!(hotplug_refusal(&plan, slot, GuestFeatures { acpi: true }).is_none());
/// assert!(hotplug_refusal(&plan, slot, GuestFeatures { acpi: false }).is_some());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn hotplug_refusal(
    plan: &Plan,
    addr: PciAddress,
    guest: GuestFeatures,
) -> Option<HotplugRefusal> {
    let family = plan.machine().family();
    if !matches!(family, MachineFamily::I440fx | MachineFamily::Q35) {
        return None;
    }
    let model = plan
        .pci_controller(u32::from(addr.bus()))
        .and_then(|c| c.pci_model())?;
    let refused = match model {
        ControllerModel::PciRoot => !guest.acpi,
        ControllerModel::PciExpanderBus => true,
        ControllerModel::PcieRoot
        | ControllerModel::PciBridge
        | ControllerModel::PcieToPciBridge
        | ControllerModel::PcieRootPort
        | ControllerModel::PcieSwitchDownstreamPort
        | ControllerModel::DmiToPciBridge
        | ControllerModel::PcieSwitchUpstreamPort
        | ControllerModel::PcieExpanderBus => false,
    };
    if !refused {
        return None;
    }
    let root = if family == MachineFamily::Q35 {
        "pcie.0"
    } else {
        "pci.0"
    };
    let bus = if addr.bus() == 0 {
        root.to_string()
    } else {
        format!("pci.{}", addr.bus())
    };
    Some(HotplugRefusal::NoHotplugHandler { bus, addr })
}
