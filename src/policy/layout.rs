//! How each machine family's PCI topology grows under a policy: the one
//! place where the families differ for policies.

use super::PolicyError;
use crate::controller::ControllerModel;
use crate::machine::MachineFamily;
use crate::plan::Plan;

/// The shape a policy grows on a machine.
///
/// ```
/// use pciplan::{Capabilities, Machine, Plan};
/// use pciplan::policy::Layout;
/// let plan = Plan::new(Machine::q35(), Capabilities::qemu_8_0_x86_64());
/// assert_eq!(Layout::of(&plan, "spare_ports")?, Layout::Pcie { expanders: true });
/// # Ok::<(), pciplan::policy::PolicyError>(())
/// ```
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Layout {
    /// A pcie-root machine (q35, arm and riscv `virt`): devices behind
    /// pcie-root-ports, expander buses are pcie-expander-bus.
    Pcie {
        /// Whether the machine's firmware and QEMU take expander buses.
        expanders: bool,
    },
    /// A pci-root machine with hot-pluggable conventional buses (i440fx):
    /// devices on slots, expander buses are pci-expander-bus.
    Pci,
}

impl Layout {
    /// The layout of the plan's machine; `what` names the policy feature
    /// in the error.
    ///
    /// # Errors
    /// [`PolicyError::Unsupported`] for pSeries, s390, machines without
    /// PCI and other machines the policies do not know.
    pub fn of(plan: &Plan, what: &'static str) -> Result<Layout, PolicyError> {
        let machine = plan.machine();
        match machine.family() {
            MachineFamily::Q35 | MachineFamily::ArmVirt => Ok(Layout::Pcie { expanders: true }),
            MachineFamily::RiscvVirt => Ok(Layout::Pcie { expanders: false }),
            MachineFamily::I440fx => Ok(Layout::Pci),
            MachineFamily::Isapc
            | MachineFamily::OtherX86
            | MachineFamily::ArmVersatile
            | MachineFamily::ArmOther
            | MachineFamily::RiscvOther
            | MachineFamily::Pseries
            | MachineFamily::Ppc64Other
            | MachineFamily::S390Ccw
            | MachineFamily::S390Other
            | MachineFamily::Generic => Err(PolicyError::Unsupported {
                what,
                machine: machine.name().to_string(),
            }),
        }
    }

    /// The controller a spare hot-plug place is made of.
    pub const fn spare_model(self) -> ControllerModel {
        match self {
            Layout::Pcie { .. } => ControllerModel::PcieRootPort,
            Layout::Pci => ControllerModel::PciBridge,
        }
    }

    /// The expander bus model for groups, if the machine takes one.
    pub const fn expander(self) -> Option<ControllerModel> {
        match self {
            Layout::Pcie { expanders: true } => Some(ControllerModel::PcieExpanderBus),
            Layout::Pcie { expanders: false } => None,
            Layout::Pci => Some(ControllerModel::PciExpanderBus),
        }
    }

    /// Whether an endpoint behind an expander bus needs a port of its own
    /// (PCI Express) or sits on the expander's bus itself.
    pub const fn members_need_ports(self) -> bool {
        match self {
            Layout::Pcie { .. } => true,
            Layout::Pci => false,
        }
    }
}
