//! What the QEMU command line depends on per machine: the emulator, the
//! `-machine` and `-cpu` values, and the names libvirt gives the buses.
//!
//! | family | emulator | `-machine` | root bus | other buses |
//! |---|---|---|---|---|
//! | i440fx | `qemu-system-x86_64` / `-i386` | `pc` | `pci.0` | `pci.N` |
//! | q35 | `qemu-system-x86_64` / `-i386` | `q35` | `pcie.0` | `pci.N` |
//! | arm `virt` | `qemu-system-aarch64` / `-arm` | `virt` (`-cpu max` / `cortex-a15`) | `pcie.0` | `pci.N` |
//! | riscv `virt` | `qemu-system-riscv64` / `-riscv32` | `virt` | `pcie.0` | `pci.N` |
//! | pSeries | `qemu-system-ppc64` | `pseries` | `pci.0` (the built-in PHB) | `pci.N.0` on the PHB `pci.N`, `pci.N` behind a bridge |
//! | s390-ccw | `qemu-system-s390x` | `s390-ccw-virtio` | `pci.0` (zPCI) | `pci.N` |
//!
//! A pSeries PHB (a `pci-root` controller with index N and target index
//! T > 0) is `-device spapr-pci-host-bridge,index=T,id=pci.N`; QEMU names
//! the root bus of a device with id `pci.N` `pci.N.0`, and so does
//! libvirt's `bus=`.

use std::fmt::Write as _;

use super::QemuError;
use crate::controller::ControllerModel;
use crate::device::ControllerKind;
use crate::machine::{Arch, MachineFamily};
use crate::plan::Plan;

/// The machine part of a QEMU command line.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(super) struct Target {
    /// The QEMU program.
    pub emulator: &'static str,
    /// The `-machine` value (the family's generic name).
    pub machine: &'static str,
    /// A `-cpu` value, where the machine's default CPU does not run.
    pub cpu: Option<&'static str>,
    /// The name of bus 0.
    pub root_bus: &'static str,
    /// PCI devices get a `zpci` companion device (s390 with zPCI).
    pub zpci: bool,
    /// RAM per guest NUMA node (pSeries wants 256 MiB alignment).
    pub numa_node_mib: u32,
}

/// The machine part of the command line of this plan.
///
/// # Errors
/// [`QemuError::UnsupportedMachine`] for machines without a PCI command
/// line here (`isapc`, `microvm`, `versatilepb`, `powernv`, …).
pub(super) fn target(plan: &Plan) -> Result<Target, QemuError> {
    let arch = *plan.machine().arch();
    let unsupported = || QemuError::UnsupportedMachine {
        arch: arch.as_str(),
        machine: plan.machine().name().to_string(),
    };
    let x86 = || match arch {
        Arch::I686 => "qemu-system-i386",
        _ => "qemu-system-x86_64",
    };
    let t = |emulator, machine, cpu, root_bus| Target {
        emulator,
        machine,
        cpu,
        root_bus,
        zpci: false,
        numa_node_mib: 128,
    };
    Ok(match plan.machine().family() {
        MachineFamily::I440fx => t(x86(), "pc", None, "pci.0"),
        MachineFamily::Q35 => t(x86(), "q35", None, "pcie.0"),
        MachineFamily::ArmVirt => match arch {
            Arch::Aarch64 => t("qemu-system-aarch64", "virt", Some("max"), "pcie.0"),
            Arch::Armv7l | Arch::Armv6l => {
                t("qemu-system-arm", "virt", Some("cortex-a15"), "pcie.0")
            }
            _ => return Err(unsupported()),
        },
        MachineFamily::RiscvVirt => match arch {
            Arch::Riscv64 => t("qemu-system-riscv64", "virt", None, "pcie.0"),
            Arch::Riscv32 => t("qemu-system-riscv32", "virt", None, "pcie.0"),
            _ => return Err(unsupported()),
        },
        MachineFamily::Pseries => Target {
            numa_node_mib: 256,
            ..t("qemu-system-ppc64", "pseries", None, "pci.0")
        },
        MachineFamily::S390Ccw => Target {
            zpci: true,
            ..t("qemu-system-s390x", "s390-ccw-virtio", None, "pci.0")
        },
        MachineFamily::Isapc
        | MachineFamily::OtherX86
        | MachineFamily::ArmVersatile
        | MachineFamily::ArmOther
        | MachineFamily::RiscvOther
        | MachineFamily::Ppc64Other
        | MachineFamily::S390Other
        | MachineFamily::Generic => return Err(unsupported()),
    })
}

/// The target index of a pSeries PHB: a `pci-root` controller with this
/// index on a pSeries machine. `None` for every other controller.
pub(super) fn phb_target_index(plan: &Plan, index: u32) -> Option<u32> {
    if !plan.machine().is_pseries() {
        return None;
    }
    let c = plan.pci_controller(index)?;
    let ControllerKind::Pci(p) = &c.kind else {
        return None;
    };
    (p.model == Some(ControllerModel::PciRoot)).then_some(p.target.index.unwrap_or(index))
}

/// The `bus=` name of the bus with this number (a controller index), or
/// `None` when no PCI controller provides it.
pub(super) fn bus_name(plan: &Plan, target: &Target, bus: u8) -> Option<String> {
    let index = u32::from(bus);
    match phb_target_index(plan, index) {
        // The built-in PHB.
        Some(0) => return Some(target.root_bus.to_string()),
        Some(_) => return Some(format!("pci.{index}.0")),
        None => {}
    }
    if bus == 0 {
        return Some(target.root_bus.to_string());
    }
    plan.pci_controller(index).map(|_| format!("pci.{index}"))
}

/// The `-device` values of the pSeries PHBs QEMU does not build in (every
/// PHB with a target index other than 0), in controller order.
pub(super) fn phb_devices(plan: &Plan) -> Vec<String> {
    let mut out = Vec::new();
    for d in plan.devices() {
        let Some(c) = d.kind.controller() else {
            continue;
        };
        let ControllerKind::Pci(p) = &c.kind else {
            continue;
        };
        let index = c.idx();
        match phb_target_index(plan, index) {
            Some(0) | None => {}
            Some(t) => {
                let mut s = format!("spapr-pci-host-bridge,index={t}");
                if let Some(node) = p.target.node {
                    let _ = write!(s, ",numa_node={node}");
                }
                let _ = write!(s, ",id=pci.{index}");
                out.push(s);
            }
        }
    }
    out
}
