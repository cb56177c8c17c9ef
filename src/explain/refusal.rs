//! Refusals: the rule behind an error, the devices involved and a fix.

use crate::error::{AllocError, ConfigError, Error};
use crate::plan::Plan;

/// The rule of the spec a refusal comes from.
///
/// ```
/// use pciplan::explain::RefusalRule;
/// assert_eq!((RefusalRule::Chipset.section(), RefusalRule::Chipset.title()), ("§5.8", "fixed chipset address"));
/// ```
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum RefusalRule {
    /// A device's connection kind does not fit the bus (§2.5).
    Compatibility,
    /// The address is outside the bus's slots, bus range or domain (§5.5).
    AddressRange,
    /// Two devices on one address (§5.4).
    DoubleUse,
    /// No free compatible slot and no growth (§5.6, §5.17).
    NoFreeSlot,
    /// The dry run cannot add the bus a device needs (§5.7, §5.13).
    CannotGrow,
    /// A fixed chipset address is violated (§5.8).
    Chipset,
    /// A device has an address type it cannot use (§5.9, §6.5).
    AddressType,
    /// PCI controller values after assignment (§6.4).
    ControllerValidation,
    /// zPCI identifiers (§5.10, §6.6).
    Zpci,
    /// Live attach and detach (§5.17).
    Hotplug,
    /// The machine has no PCI bus (§5.12 step 1).
    NoBuses,
    /// The definition is invalid before assignment (§6.2).
    Configuration,
    /// The input could not be read (§6.1).
    Parse,
}

impl RefusalRule {
    /// The spec section, e.g. `§2.5`.
    ///
    /// ```
    /// assert_eq!(pciplan::explain::RefusalRule::DoubleUse.section(), "§5.4");
    /// ```
    pub fn section(self) -> &'static str {
        match self {
            RefusalRule::Compatibility => "§2.5",
            RefusalRule::AddressRange => "§5.5",
            RefusalRule::DoubleUse => "§5.4",
            RefusalRule::NoFreeSlot => "§5.6",
            RefusalRule::CannotGrow => "§5.7",
            RefusalRule::Chipset => "§5.8",
            RefusalRule::AddressType => "§5.9",
            RefusalRule::ControllerValidation => "§6.4",
            RefusalRule::Zpci => "§5.10",
            RefusalRule::Hotplug => "§5.17",
            RefusalRule::NoBuses => "§5.12",
            RefusalRule::Configuration => "§6.2",
            RefusalRule::Parse => "§6.1",
        }
    }

    /// The rule in a few words.
    ///
    /// ```
    /// assert_eq!(pciplan::explain::RefusalRule::NoFreeSlot.title(), "no free slot");
    /// ```
    pub fn title(self) -> &'static str {
        match self {
            RefusalRule::Compatibility => "connect flags do not fit the bus",
            RefusalRule::AddressRange => "address outside the bus",
            RefusalRule::DoubleUse => "address used twice",
            RefusalRule::NoFreeSlot => "no free slot",
            RefusalRule::CannotGrow => "no bus can be added",
            RefusalRule::Chipset => "fixed chipset address",
            RefusalRule::AddressType => "wrong address type",
            RefusalRule::ControllerValidation => "PCI controller values",
            RefusalRule::Zpci => "zPCI identifiers",
            RefusalRule::Hotplug => "live attach or detach",
            RefusalRule::NoBuses => "no PCI bus",
            RefusalRule::Configuration => "invalid definition",
            RefusalRule::Parse => "unreadable input",
        }
    }
}

/// Why a plan is refused: the rule, the devices involved, a concrete fix.
///
/// ```
/// use pciplan::{Capabilities, Device, DeviceAddress, DeviceKind, Machine, PciAddress, Plan, VirtioModel};
/// let mut plan = Plan::new(Machine::pc(), Capabilities::qemu_8_0_x86_64());
/// let at = DeviceAddress::Pci(PciAddress::from_parts(0, 5, 0)?);
/// plan.add_device(Device::new(DeviceKind::Rng(VirtioModel::Default)).with_address(at.clone()));
/// plan.add_device(Device::new(DeviceKind::Rng(VirtioModel::Default)).with_address(at));
/// let r = pciplan::explain::explain(&plan).err().map(|r| r.rule);
/// assert_eq!(r, Some(pciplan::explain::RefusalRule::DoubleUse));
/// # Ok::<(), pciplan::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Refusal {
    /// The rule.
    pub rule: RefusalRule,
    /// Its spec section.
    pub section: &'static str,
    /// libvirt's message.
    pub message: String,
    /// The devices involved, as libvirt names them.
    pub devices: Vec<String>,
    /// What to change.
    pub fix: String,
    /// The error itself.
    #[cfg_attr(feature = "serde", serde(skip))]
    pub error: Box<Error>,
}

impl Refusal {
    /// The refusal for an error on `plan` (the plan as given, before
    /// assignment).
    ///
    /// ```
    /// use pciplan::{AllocError, Capabilities, Error, ErrorClass, Machine, Plan};
    /// let plan = Plan::new(Machine::q35(), Capabilities::qemu_8_0_x86_64());
    /// let e = Error::Assign { class: ErrorClass::Internal, device: None, reason: AllocError::NoFreeSlot };
    /// assert!(pciplan::explain::Refusal::new(e, &plan).fix.contains("pcie-root-port"));
    /// ```
    pub fn new(error: Error, plan: &Plan) -> Refusal {
        let mut devices: Vec<String> = Vec::new();
        let device = match &error {
            Error::Assign { device, .. }
            | Error::Config { device, .. }
            | Error::Policy { device, .. } => device.clone(),
            _ => None,
        };
        devices.extend(device.clone());
        let (rule, fix) = match &error {
            Error::Assign { reason, .. } => alloc_rule(reason, plan, &mut devices),
            Error::Config { reason, .. } => (RefusalRule::Configuration, config_fix(reason)),
            Error::Address(_) => (
                RefusalRule::Parse,
                "write the address with bus <= 0xff, slot <= 0x1f and function <= 7".to_string(),
            ),
            #[cfg(feature = "libvirt")]
            Error::Xml(_) => (
                RefusalRule::Parse,
                "correct the XML at the place the message names".to_string(),
            ),
            #[cfg(feature = "libvirt")]
            Error::Live { .. } => (
                RefusalRule::Hotplug,
                "attach or detach it with the guest shut off (--config), or choose another device"
                    .to_string(),
            ),
            Error::Policy { .. } => (
                RefusalRule::Configuration,
                "relax the policy (fewer spare ports, no grouping), or split the devices over \
                 more guests: the message names the ceiling or budget"
                    .to_string(),
            ),
            Error::Topology(_) => (
                RefusalRule::ControllerValidation,
                "give every PCI controller an address on a bus that an existing controller provides, \
                 with an index above that bus"
                    .to_string(),
            ),
        };
        Refusal {
            rule,
            section: rule.section(),
            message: error.to_string(),
            devices,
            fix,
            error: Box::new(error),
        }
    }
}

fn alloc_rule(
    reason: &AllocError,
    plan: &Plan,
    devices: &mut Vec<String>,
) -> (RefusalRule, String) {
    use AllocError as A;
    let pcie_machine = plan.profile().root == Some(crate::ControllerModel::PcieRoot);
    match reason {
        A::NoBuses => (
            RefusalRule::NoBuses,
            "this machine has no PCI bus: remove the device's PCI <address>, or use a machine type with PCI"
                .to_string(),
        ),
        A::DomainNotZero { addr } => (
            RefusalRule::AddressRange,
            format!("use domain='0x0000' instead of {addr}"),
        ),
        A::BusOutOfRange { last, .. } => (
            RefusalRule::AddressRange,
            format!(
                "use a bus up to 0x{last:02x}, or add a PCI controller with the index of that bus first"
            ),
        ),
        A::SlotTooLow { min, .. } => (
            RefusalRule::AddressRange,
            format!("use slot 0x{min:02x} or higher on this bus (slot 0 belongs to the bridge itself)"),
        ),
        A::SlotTooHigh { max, .. } => (
            RefusalRule::AddressRange,
            if *max == 0 {
                "a root or downstream port has only slot 0x00: use slot='0x00', or a pci-bridge for more slots".to_string()
            } else {
                format!("use slot 0x{max:02x} or lower")
            },
        ),
        A::NotIntegrated { .. } => (
            RefusalRule::Compatibility,
            "an integrated device must sit on bus 0: use bus='0x00' or remove the address".to_string(),
        ),
        A::NoAutoAssign { bus, .. } => (
            RefusalRule::Compatibility,
            format!("give the device an explicit address, or move it off bus {bus}"),
        ),
        A::NoHotplug { bus, .. } => (
            RefusalRule::Compatibility,
            format!(
                "attach it to a hot-pluggable bus (a pcie-root-port or pci-bridge without hotplug='off') instead of bus {bus}"
            ),
        ),
        A::Incompatible { kind, bus, .. } => {
            let fix = match *kind {
                "standard PCI device" if pcie_machine => format!(
                    "add a `pcie-to-pci-bridge` (or a `dmi-to-pci-bridge` with a `pci-bridge`) and put the device there, \
                     or for a virtio device use `model='virtio-non-transitional'`; bus {bus} only takes PCI Express devices"
                ),
                "standard PCI device" => format!(
                    "move the device to a conventional PCI bus (pci-root or a pci-bridge), not bus {bus}"
                ),
                "PCI Express device" if pcie_machine => format!(
                    "put the device on a `pcie-root-port` (remove its address and pciplan adds one), not on bus {bus}"
                ),
                "PCI Express device" => "this machine has no PCI Express bus: use a conventional model (e.g. `model='virtio-transitional'`) or a q35 machine".to_string(),
                other => format!("plug it into a bus that accepts a {other}, not bus {bus}"),
            };
            (RefusalRule::Compatibility, fix)
        }
        A::UnrecognizedFlags { .. } => (
            RefusalRule::Compatibility,
            "the device does not use PCI: remove its PCI <address>".to_string(),
        ),
        A::DoubleUse { addr } => {
            let others: Vec<String> = plan
                .devices()
                .iter()
                .filter(|d| {
                    d.address
                        .present()
                        .is_some_and(|a| a.key() == addr.key())
                })
                .map(ToString::to_string)
                .collect();
            let reserved = others.len() < 2;
            for o in others {
                if !devices.contains(&o) {
                    devices.push(o);
                }
            }
            let fix = if reserved {
                format!(
                    "{addr} is already taken by a reservation (the chipset functions of §5.8, or an implicit \
                     device): remove the device's <address> so pciplan assigns a free slot, or choose another slot"
                )
            } else {
                format!(
                    "free {addr}: remove the <address> of one of the devices using it (pciplan then assigns a free one), \
                     or move the device with address {addr}"
                )
            };
            (RefusalRule::DoubleUse, fix)
        }
        A::NoFreeSlot => (
            RefusalRule::NoFreeSlot,
            if pcie_machine {
                "no hot-pluggable slot is free: add a pcie-root-port to the definition (takes effect after a restart), \
                 or detach a device first"
                    .to_string()
            } else {
                "no hot-pluggable slot is free: add a pci-bridge to the definition (takes effect after a restart), \
                 or detach a device first"
                    .to_string()
            },
        ),
        A::ControllerNotAddable { model } => (
            RefusalRule::CannotGrow,
            match *model {
                "pcie-root-port" if pcie_machine => "pcie-root has no free slot for another pcie-root-port: put root ports on \
                     functions of one slot (multifunction), or add a `pcie-switch-upstream-port` with downstream ports, \
                     or free slot 0x1f-range slots taken by explicit addresses"
                    .to_string(),
                "pcie-root-port" => "pcie-root-port needs a PCI Express machine: use a q35 machine type".to_string(),
                "pcie-switch-downstream-port" => {
                    "add a `pcie-switch-upstream-port` for the downstream port to sit on".to_string()
                }
                "pci-bridge" => "the last bus is exactly full: add a `pci-bridge` explicitly, or move a device with an \
                     explicit address off the root bus"
                    .to_string(),
                other => format!("free a root-bus slot for the {other}, or give it an explicit address"),
            },
        ),
        A::CannotAddBus { flags } => (
            RefusalRule::CannotGrow,
            if *flags == 0 {
                "the device does not use PCI (connect flags 00): remove its PCI <address> or choose a PCI model"
                    .to_string()
            } else {
                "add a `pcie-root-port` (or free one) for the pcie-to-pci-bridge".to_string()
            },
        ),
        A::Piix3BusNotPci => (
            RefusalRule::Chipset,
            "the integrated PIIX3 IDE/USB controllers need a conventional bus 0: use machine type pc".to_string(),
        ),
        A::PrimaryIde => (
            RefusalRule::Chipset,
            "give the primary IDE controller address 0000:00:01.1, or remove its address".to_string(),
        ),
        A::Piix3Usb => (
            RefusalRule::Chipset,
            "give the USB controller address 0000:00:01.2, remove its address, or choose another model"
                .to_string(),
        ),
        A::PrimarySata => (
            RefusalRule::Chipset,
            "give the primary SATA controller address 0000:00:1f.2, or remove its address".to_string(),
        ),
        A::VirtioDiskAddressType { address_type } => (
            RefusalRule::AddressType,
            format!("remove the disk's <address type='{address_type}'/> or use type='pci'"),
        ),
        A::ModelUnset => (
            RefusalRule::ControllerValidation,
            "set model= on the PCI controller (e.g. model='pcie-root-port')".to_string(),
        ),
        A::IndexBeyondBuses { index } => (
            RefusalRule::ControllerValidation,
            format!("lower the PCI controller index {index}"),
        ),
        A::NoFreeBusNr { .. } => (
            RefusalRule::ControllerValidation,
            "give the expander bus an explicit <target busNr='...'/>".to_string(),
        ),
        A::NoTargetIndex { .. } => (
            RefusalRule::ControllerValidation,
            "remove a PCI host bridge: target indexes 1-31 are all in use".to_string(),
        ),
        A::BridgeIndexNotAboveBus { index, bus } => (
            RefusalRule::ControllerValidation,
            format!("give the pci-bridge an index above {bus} (it has {index}), or put it on a lower bus"),
        ),
        A::TooManyBuses { .. } => (
            RefusalRule::CannotGrow,
            "more than 256 buses would be needed: use multifunction slots or fewer conventional PCI devices"
                .to_string(),
        ),
        A::ZpciReserved { id, .. } => (
            RefusalRule::Zpci,
            format!("choose another zPCI {id}, or remove it so pciplan picks a free one"),
        ),
        A::ZpciExhausted { id } => (
            RefusalRule::Zpci,
            format!("free a zPCI {id}: every value is in use"),
        ),
        A::HotplugFunctionNotZero => (
            RefusalRule::Hotplug,
            "hot-plug at function 0 (function='0x0') or without an address".to_string(),
        ),
        A::NoSuchDevice { id } => (
            RefusalRule::Hotplug,
            format!("the plan has no device {id}: pick one of its devices"),
        ),
        A::MultifunctionUnplug { addr, .. } => (
            RefusalRule::Hotplug,
            format!("detach every function of {addr} by changing the definition and restarting"),
        ),
        A::UnplugNotAllowed { .. } => (
            RefusalRule::Hotplug,
            "the controller has hotplug='off': change the definition and restart instead".to_string(),
        ),
        A::ControllerHotplug { controller_type } => (
            RefusalRule::Hotplug,
            format!("add the {controller_type} controller to the definition and restart"),
        ),
        A::ControllerUnplug { controller_type } => (
            RefusalRule::Hotplug,
            format!("remove the {controller_type} controller from the definition and restart"),
        ),
    }
}

fn config_fix(reason: &ConfigError) -> String {
    match reason {
        ConfigError::RootModel { .. } | ConfigError::RootIndex | ConfigError::RootAddress => {
            "use the machine's root model (pci-root or pcie-root) at index 0, without an address"
                .to_string()
        }
        ConfigError::DuplicateIndex { .. } => "give each controller of one type its own index".to_string(),
        ConfigError::PxbMachine | ConfigError::PxbPcieMachine => {
            "use the expander bus model of this machine (pci-expander-bus on pc, pcie-expander-bus on q35)"
                .to_string()
        }
        ConfigError::NumaNode { .. } => "name a NUMA node the <cpu><numa> has".to_string(),
        _ => "change the element the message names".to_string(),
    }
}
