//! Errors: each layer owns its error type beside its code
//! ([`AddressError`] in `address`, [`TopologyError`] in `topology`,
//! [`XmlError`] in `libvirt`); this module holds the assignment and
//! configuration errors and wraps them all in the crate [`Error`](enum@Error).
//!
//! Messages reproduce libvirt's wording (including its capitalisation and the
//! class prefix such as `XML error: `), because VM managers match on them and
//! our conformance suite compares them with libvirt's. Where we know which
//! device caused an error, the message ends with `; device: <device>`.

use thiserror::Error;

pub use crate::address::AddressError;
use crate::address::PciAddress;
#[cfg(feature = "libvirt")]
pub use crate::libvirt::LiveError;
#[cfg(feature = "libvirt")]
pub use crate::libvirt::XmlError;
pub use crate::topology::TopologyError;

/// libvirt's error classes; each gives a message prefix.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum ErrorClass {
    /// `XML error: ` (configuration errors).
    Xml,
    /// `internal error: `.
    Internal,
    /// `unsupported configuration: `.
    Unsupported,
    /// `Operation not supported: ` (a live attach or detach libvirt does
    /// not do).
    OperationUnsupported,
    /// `operation failed: `.
    OperationFailed,
    /// `device not found: ` (a detach that matches no device).
    DeviceMissing,
}

impl ErrorClass {
    /// libvirt's error code for the class (`virErrorNumber`), as the
    /// bindings report it.
    ///
    /// ```
    /// assert_eq!(pciplan::ErrorClass::Xml.libvirt_code(), "VIR_ERR_XML_ERROR");
    /// ```
    pub const fn libvirt_code(self) -> &'static str {
        match self {
            ErrorClass::Xml => "VIR_ERR_XML_ERROR",
            ErrorClass::Internal => "VIR_ERR_INTERNAL_ERROR",
            ErrorClass::Unsupported => "VIR_ERR_CONFIG_UNSUPPORTED",
            ErrorClass::OperationUnsupported => "VIR_ERR_OPERATION_UNSUPPORTED",
            ErrorClass::OperationFailed => "VIR_ERR_OPERATION_FAILED",
            ErrorClass::DeviceMissing => "VIR_ERR_DEVICE_MISSING",
        }
    }

    /// The message prefix.
    pub const fn prefix(self) -> &'static str {
        match self {
            ErrorClass::Xml => "XML error: ",
            ErrorClass::Internal => "internal error: ",
            ErrorClass::Unsupported => "unsupported configuration: ",
            ErrorClass::OperationUnsupported => "Operation not supported: ",
            ErrorClass::OperationFailed => "operation failed: ",
            ErrorClass::DeviceMissing => "device not found: ",
        }
    }
}

/// A failure of address assignment (spec §6.3).
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum AllocError {
    /// The guest has no PCI bus at all.
    #[error("No PCI buses available")]
    NoBuses,
    /// Domain other than 0.
    #[error("Invalid PCI address {addr}. Only PCI domain 0 is available")]
    DomainNotZero {
        /// The address.
        addr: PciAddress,
    },
    /// Bus beyond the last one.
    #[error("Invalid PCI address {addr}. Only PCI buses up to {last} are available")]
    BusOutOfRange {
        /// The address.
        addr: PciAddress,
        /// The last bus number.
        last: u32,
    },
    /// An integrated device off bus 0.
    #[error("The device at PCI address {addr} needs to be an integrated device (bus=0)")]
    NotIntegrated {
        /// The address.
        addr: PciAddress,
    },
    /// Automatic placement on a bus that does not allow it.
    #[error(
        "The device at PCI address {addr} was auto-assigned this address, but the PCI controller with index='{bus}' doesn't allow auto-assignment"
    )]
    NoAutoAssign {
        /// The address.
        addr: PciAddress,
        /// The bus (controller index).
        bus: u32,
    },
    /// Hot-plug onto a bus without hotplug.
    #[error(
        "The device at PCI address {addr} requires hotplug capability, but the PCI controller with index='{bus}' doesn't support hotplug"
    )]
    NoHotplug {
        /// The address.
        addr: PciAddress,
        /// The bus (controller index).
        bus: u32,
    },
    /// The bus does not accept the device's connection kind.
    #[error(
        "The device at PCI address {addr} cannot be plugged into the PCI controller with index='{bus}'. It requires a controller that accepts a {kind}."
    )]
    Incompatible {
        /// The address.
        addr: PciAddress,
        /// The bus (controller index).
        bus: u32,
        /// The connection kind the device needs.
        kind: &'static str,
    },
    /// Device flags without any connection kind.
    #[error(
        "The device at PCI address {addr} has unrecognized connection type flags 0x{flags:02x}"
    )]
    UnrecognizedFlags {
        /// The address.
        addr: PciAddress,
        /// The flags.
        flags: u32,
    },
    /// Slot below the bus's lowest.
    #[error("Invalid PCI address {addr}. slot must be >= {min}")]
    SlotTooLow {
        /// The address.
        addr: PciAddress,
        /// Lowest usable slot.
        min: u8,
    },
    /// Slot above the bus's highest.
    #[error("Invalid PCI address {addr}. slot must be <= {max}")]
    SlotTooHigh {
        /// The address.
        addr: PciAddress,
        /// Highest usable slot.
        max: u8,
    },
    /// The function is already in use.
    #[error("Attempted double use of PCI Address {addr}")]
    DoubleUse {
        /// The address.
        addr: PciAddress,
    },
    /// No free compatible slot (outside the dry run).
    #[error("No more available PCI slots")]
    NoFreeSlot,
    /// A PCI controller found no slot and cannot be added automatically.
    #[error(
        "a PCI slot is needed to connect a PCI controller model='{model}', but none is available, and it cannot be automatically added"
    )]
    ControllerNotAddable {
        /// The controller model.
        model: &'static str,
    },
    /// A device whose flags name no growable bus kind found no slot.
    #[error("Cannot automatically add a new PCI bus for a device with connect flags {flags:02x}")]
    CannotAddBus {
        /// The device's flags.
        flags: u32,
    },
    /// PIIX3 controllers need a conventional bus 0.
    #[error("Bus 0 must be PCI for integrated PIIX3 USB or IDE controllers")]
    Piix3BusNotPci,
    /// i440fx IDE 0 elsewhere than 00:01.1.
    #[error("Primary IDE controller must have PCI address 0:0:1.1")]
    PrimaryIde,
    /// i440fx USB 0 elsewhere than 00:01.2.
    #[error("PIIX3 USB controller at index 0 must have PCI address 0:0:1.2")]
    Piix3Usb,
    /// q35 SATA 0 elsewhere than 00:1f.2.
    #[error("Primary SATA controller must have PCI address 0:0:1f.2")]
    PrimarySata,
    /// A virtio disk with a non-PCI address type.
    #[error("virtio disk cannot have an address of type '{address_type}'")]
    VirtioDiskAddressType {
        /// The address type.
        address_type: String,
    },
    /// A PCI controller without model.
    #[error("PCI controller model was not set correctly")]
    ModelUnset,
    /// A controller index beyond the bus array.
    #[error("Inappropriate new pci controller index {index} exceeds addrs array length")]
    IndexBeyondBuses {
        /// The index.
        index: u32,
    },
    /// No busNr can be chosen for an expander bus.
    #[error(
        "No free busNr lower than current lowest busNr is available to auto-assign to bus {bus}. Must be manually assigned"
    )]
    NoFreeBusNr {
        /// The bus the expander sits on.
        bus: u32,
    },
    /// No target index is left for a new PHB (pSeries).
    #[error("No usable target index found for {index}")]
    NoTargetIndex {
        /// The PHB's controller index.
        index: u32,
    },
    /// A zPCI uid or fid is already in use.
    #[error("zPCI {id} {value:o} is already reserved")]
    ZpciReserved {
        /// `uid` or `fid`.
        id: &'static str,
        /// The value.
        value: u32,
    },
    /// No zPCI uid or fid is left.
    #[error("There is no more free {id}.")]
    ZpciExhausted {
        /// `uid` or `fid`.
        id: &'static str,
    },
    /// A pci-bridge whose index is not above its own bus.
    #[error(
        "PCI controller at index {index} (0x{index:02x}) has bus='0x{bus:02x}', but index must be larger than bus"
    )]
    BridgeIndexNotAboveBus {
        /// The bridge's index.
        index: u32,
        /// The bus it sits on.
        bus: u32,
    },
    /// Growth would need a bus number above 255.
    #[error("PCI controller index {index} too high, maximum is 255")]
    TooManyBuses {
        /// The index that would be needed.
        index: u32,
    },
    /// Hot-plug at an address with function ≠ 0.
    #[error("Only PCI device addresses with function=0 are supported")]
    HotplugFunctionNotZero,
    /// The device does not exist in the plan.
    #[error("no device with id {id} in the plan")]
    NoSuchDevice {
        /// The id.
        id: usize,
    },
    /// Live detach of a device on a multifunction slot.
    #[error("cannot hot unplug {device} device with multifunction PCI guest address: {addr}")]
    MultifunctionUnplug {
        /// libvirt's device type name (`interface`, `disk`, …).
        device: &'static str,
        /// The device's address.
        addr: PciAddress,
    },
    /// Live detach behind a controller with `hotplug='off'`.
    #[error(
        "cannot hot unplug {device} device with PCI guest address: {addr} - not allowed by controller"
    )]
    UnplugNotAllowed {
        /// libvirt's device type name.
        device: &'static str,
        /// The device's address.
        addr: PciAddress,
    },
    /// The controller cannot be hot-plugged.
    #[error("'{controller_type}' controller cannot be hot plugged.")]
    ControllerHotplug {
        /// Controller type.
        controller_type: &'static str,
    },
    /// The controller cannot be hot-unplugged.
    #[error("'{controller_type}' controller cannot be hot unplugged.")]
    ControllerUnplug {
        /// Controller type.
        controller_type: &'static str,
    },
}

impl AllocError {
    /// libvirt's class for this error in the given mode.
    pub fn class(&self, explicit: bool) -> ErrorClass {
        match self {
            AllocError::NoBuses => ErrorClass::Xml,
            AllocError::NoHotplug { .. } => ErrorClass::Xml,
            AllocError::NoAutoAssign { .. }
            | AllocError::NoFreeSlot
            | AllocError::ControllerNotAddable { .. }
            | AllocError::CannotAddBus { .. }
            | AllocError::Piix3BusNotPci
            | AllocError::PrimaryIde
            | AllocError::Piix3Usb
            | AllocError::PrimarySata
            | AllocError::ModelUnset
            | AllocError::IndexBeyondBuses { .. }
            | AllocError::ZpciReserved { .. }
            | AllocError::ZpciExhausted { .. }
            | AllocError::HotplugFunctionNotZero => ErrorClass::Internal,
            AllocError::ControllerHotplug { .. } | AllocError::ControllerUnplug { .. } => {
                ErrorClass::OperationUnsupported
            }
            AllocError::MultifunctionUnplug { .. } | AllocError::UnplugNotAllowed { .. } => {
                ErrorClass::OperationFailed
            }
            AllocError::VirtioDiskAddressType { .. }
            | AllocError::NoFreeBusNr { .. }
            | AllocError::NoTargetIndex { .. }
            | AllocError::BridgeIndexNotAboveBus { .. }
            | AllocError::TooManyBuses { .. }
            | AllocError::NoSuchDevice { .. } => ErrorClass::Unsupported,
            AllocError::DomainNotZero { .. }
            | AllocError::BusOutOfRange { .. }
            | AllocError::NotIntegrated { .. }
            | AllocError::Incompatible { .. }
            | AllocError::UnrecognizedFlags { .. }
            | AllocError::SlotTooLow { .. }
            | AllocError::SlotTooHigh { .. }
            | AllocError::DoubleUse { .. } => {
                if explicit {
                    ErrorClass::Xml
                } else {
                    ErrorClass::Internal
                }
            }
        }
    }
}

/// A configuration rejected before or after assignment (spec §6.2, §6.4, §6.5).
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// Unknown controller model.
    #[error("Unknown model type '{model}'")]
    UnknownModel {
        /// The model.
        model: String,
    },
    /// Architecture not handled.
    #[error("unsupported architecture '{arch}'")]
    UnsupportedArch {
        /// The arch.
        arch: String,
    },
    /// Index 0 of the wrong model.
    #[error(
        "The PCI controller with index='0' must be model='{expected}' for this machine type, but model='{found}' was found instead"
    )]
    RootModel {
        /// The model the machine needs.
        expected: &'static str,
        /// The model found (`(null)` when unset).
        found: String,
    },
    /// A root controller at an index other than 0.
    #[error("pci-root and pcie-root controllers should have index 0")]
    RootIndex,
    /// A root controller with an address.
    #[error("pci-root and pcie-root controllers should not have an address")]
    RootAddress,
    /// pxb off i440fx.
    #[error("pci-expander-bus controllers are only supported on 440fx-based machinetypes")]
    PxbMachine,
    /// pxb-pcie off q35.
    #[error("pcie-expander-bus controllers are not supported with this machine type")]
    PxbPcieMachine,
    /// `<node>` not among the guest's NUMA cells.
    #[error(
        "{model} with index {index} is configured for a NUMA node ({node}) not present in the domain's <cpu><numa> array ({cells})"
    )]
    NumaNode {
        /// Controller model.
        model: &'static str,
        /// Controller index.
        index: u32,
        /// The node.
        node: u32,
        /// Number of guest NUMA cells.
        cells: u32,
    },
    /// Two controllers of one type share an index.
    #[error("Multiple '{controller_type}' controllers with index '{index}'")]
    DuplicateIndex {
        /// Controller type.
        controller_type: &'static str,
        /// The index.
        index: u32,
    },
    /// Index above 255.
    #[error("PCI controller index {index} too high, maximum is 255")]
    IndexTooHigh {
        /// The index.
        index: u32,
    },
    /// A target value out of range.
    #[error("PCI controller {option} '{value}' out of range - must be {range}")]
    TargetRange {
        /// `chassisNr`, `chassis`, `port`, `busNr`.
        option: &'static str,
        /// The value.
        value: u32,
        /// The allowed range, as libvirt writes it.
        range: &'static str,
    },
    /// A CCW address on a machine other than s390-ccw.
    #[error("cannot use CCW address type for device '<null>' using machine type '{machine}'")]
    CcwMachine {
        /// The machine type.
        machine: String,
    },
    /// An IDE disk on a drive controller above 0.
    #[error("Only 1 IDE controller is supported")]
    IdeSecondController,
    /// A drive address with a target other than 0.
    #[error("target must be 0 for {bus} controller")]
    DriveTarget {
        /// The bus (`ide`).
        bus: &'static str,
    },
    /// An IDE controller index above 0 on a machine with one built in.
    #[error("Only a single IDE controller is supported for this machine type")]
    IdeSingleController,
    /// A controller model QEMU has no device for.
    #[error("Unsupported controller model: {model}")]
    ControllerModelUnsupported {
        /// The model.
        model: &'static str,
    },
    /// A watchdog model the machine cannot have.
    #[error("{model} model of watchdog cannot be used with this machine type")]
    WatchdogMachine {
        /// The model.
        model: &'static str,
    },
    /// An iTCO watchdog off q35.
    #[error("itco model of watchdog is only part of q35 machine")]
    ItcoNotQ35,
    /// A shmem model the QEMU binary lacks.
    #[error("{model} device is not supported with this QEMU binary")]
    ShmemUnsupported {
        /// The model.
        model: &'static str,
    },
    /// Two disks on one drive address.
    #[error("Found duplicate drive address for disk with target name '{dev}' {drive}")]
    DuplicateDrive {
        /// The first disk's target name.
        dev: String,
        /// The address.
        drive: String,
    },
    /// A zPCI uid of 0 or above 0xFFFF.
    #[error("Invalid PCI address uid='0x{uid:04x}', must be > 0x0000 and <= 0xffff")]
    ZpciUid {
        /// The uid.
        uid: u32,
    },
    /// A PHB target index above 30.
    #[error("PCI controller target index '{value}' out of range - must be 0-30")]
    TargetIndexRange {
        /// The value.
        value: u32,
    },
    /// Target index 0 on a PHB other than index 0, or the reverse.
    #[error("Only the PCI controller with index 0 can have target index 0, and vice versa")]
    TargetIndexZero,
    /// `<node>` on index 0.
    #[error("The PCI controller with index=0 can't be associated with a NUMA node")]
    NodeOnIndexZero,
    /// A required option is missing.
    #[error(
        "Required option '{option}' is not set for PCI controller with index '{index}', model '{model}' and modelName '{name}'"
    )]
    OptionRequired {
        /// Option name.
        option: &'static str,
        /// Index.
        index: u32,
        /// Model.
        model: &'static str,
        /// Model name or `none`.
        name: String,
    },
    /// An option that the model does not take.
    #[error(
        "Option '{option}' is not valid for PCI controller with index '{index}', model '{model}' and modelName '{name}'"
    )]
    OptionInvalid {
        /// Option name.
        option: &'static str,
        /// Index.
        index: u32,
        /// Model.
        model: &'static str,
        /// Model name or `none`.
        name: String,
    },
    /// A model name that does not belong to the model.
    #[error(
        "Option 'modelName' has invalid value for PCI controller with index '{index}', model '{model}' and modelName '{name}'"
    )]
    ModelNameInvalid {
        /// Index.
        index: u32,
        /// Model.
        model: &'static str,
        /// The name.
        name: String,
    },
    /// A non-root model at index 0.
    #[error("Index for '{model}' controllers must be > 0")]
    IndexMustBePositive {
        /// Model.
        model: &'static str,
    },
    /// A root model off index 0.
    #[error("Index for '{model}' controllers must be 0")]
    IndexMustBeZero {
        /// Model.
        model: &'static str,
    },
    /// pcihole64 on the wrong machine.
    #[error("Setting the 64-bit PCI hole size is not supported for machine '{machine}'")]
    Pcihole64Machine {
        /// Machine name.
        machine: String,
    },
    /// hotplug attribute without QEMU support.
    #[error(
        "setting the 'hotplug' property on a '{name}' device is not supported by this QEMU binary"
    )]
    HotplugUnsupported {
        /// Device name.
        name: String,
    },
    /// The controller's device is missing from QEMU.
    #[error("The '{name}' device is not supported by this QEMU binary")]
    DeviceUnsupported {
        /// Device name.
        name: String,
    },
    /// A disk with a PCI address on a bus that is not PCI.
    #[error("Invalid address type '{address_type}' for the disk '{dev}' with the bus type '{bus}'")]
    DiskAddressType {
        /// Address type.
        address_type: String,
        /// Disk target.
        dev: String,
        /// Disk bus.
        bus: String,
    },
    /// A USB disk with a PCI address.
    #[error("unexpected address type for usb disk")]
    UsbDiskAddress,
    /// A ramfb video with an address.
    #[error("address not supported for video type ramfb")]
    RamfbAddress,
    /// A virtio IOMMU without a PCI address.
    #[error("IOMMU device: '{model}' needs a PCI address")]
    IommuNeedsPci {
        /// Model.
        model: &'static str,
    },
    /// A shmem with a non-PCI address.
    #[error("only 'pci' addresses are supported for the shared memory device")]
    ShmemAddress,
    /// (Non-)transitional virtio model on an input.
    #[error("virtio (non-)transitional models are not supported for input type={input_type}")]
    InputVirtioModel {
        /// Input type.
        input_type: String,
    },
    /// An mdev with an address type its model cannot use.
    #[error("Unsupported address type '{address_type}' with mediated device model '{model}'")]
    MdevAddressType {
        /// Address type.
        address_type: String,
        /// The mdev model.
        model: &'static str,
    },
    /// More than one watchdog.
    #[error("only a single watchdog device is supported")]
    SingleWatchdog,
    /// Two USB controllers share an index (other than a USB2 set).
    #[error("Duplicate USB controllers with index {index}")]
    DuplicateUsb {
        /// The index.
        index: u32,
    },
    /// `model='none'` together with another USB controller.
    #[error("Can't add another USB controller: USB is disabled for this domain")]
    UsbDisabledController,
    /// A machine type the QEMU binary does not have.
    #[error("Emulator '{emulator}' does not support machine type '{machine}'")]
    MachineUnsupported {
        /// The `<emulator>`.
        emulator: String,
        /// The machine type.
        machine: String,
    },
    /// Two devices with one CCW device number.
    #[error("The CCW devno '{devno}' is in use already")]
    CcwInUse {
        /// `cssid.ssid.devno` in hex.
        devno: String,
    },
    /// Two devices with one spapr-vio register.
    #[error("spapr-vio address {reg} already in use")]
    SpaprVioInUse {
        /// The register in hex.
        reg: String,
    },
    /// A spapr-vio register above 32 bits.
    #[error("spapr-vio reg='{reg:#x}' exceeds maximum possible value (0xffffffff)")]
    SpaprVioRegRange {
        /// The register.
        reg: u64,
    },
    /// USB devices without a usable USB controller.
    #[error("USB is disabled for this domain, but USB devices are present in the domain XML")]
    UsbDisabledDevices,
    /// A USB input while USB is disabled.
    #[error("Can't add USB input device. USB bus is disabled")]
    UsbDisabledInput,
    /// An ich9 UHCI companion without its master.
    #[error("No master USB controller specified")]
    UsbNoMaster,
    /// IDE on a machine without IDE.
    #[error("IDE controllers are unsupported for this QEMU binary or machine type")]
    IdeUnsupported,
    /// A secondary video of a type that can only be primary.
    #[error("video type '{model}' is only valid as primary video device")]
    VideoNotPrimary {
        /// The video type.
        model: &'static str,
    },
    /// A `none` video together with other videos.
    #[error("a 'none' video type must be the only video device defined for the domain")]
    VideoNoneNotAlone,
    /// A zPCI extension without QEMU support.
    #[error("This QEMU binary doesn't support zPCI")]
    ZpciUnsupported,
    /// Two host devices name the same host PCI device.
    #[error("Hostdev already exists in the domain configuration")]
    HostdevDuplicate,
    /// A USB controller without model where none can be chosen.
    #[error("no model provided for USB controller")]
    UsbNoModel,
    /// No SCSI controller model can be chosen.
    #[error("Unable to determine model for SCSI controller idx={index}")]
    ScsiNoModel {
        /// Index.
        index: u32,
    },
    /// The host PCI description file is malformed.
    #[error("host PCI description, line {line}: {reason}")]
    HostPci {
        /// Line number (1-based).
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// An `<address type>` libvirt does not know.
    #[error("unknown address type '{address_type}'")]
    UnknownAddressType {
        /// The type as written.
        address_type: String,
    },
    /// A smartcard with an address other than a CCID one.
    #[error("Controllers must use the 'ccid' address type")]
    SmartcardAddressType,
    /// A watchdog model that takes no address was given one.
    #[error("{model} model of watchdog does not support configuring the address")]
    WatchdogAddress {
        /// The watchdog model.
        model: &'static str,
    },
    /// A PCI watchdog with an address of another bus.
    #[error("{model} model of watchdog can go only on PCI bus")]
    WatchdogPciOnly {
        /// The watchdog model.
        model: &'static str,
    },
    /// A serial port whose address type does not match its target type.
    #[error("Target type '{target}' requires address type '{address_type}'")]
    SerialAddressType {
        /// The serial target type.
        target: &'static str,
        /// The address type it needs.
        address_type: &'static str,
    },
    /// More than one video with `primary='yes'`.
    #[error("Only one primary video device is supported")]
    PrimaryVideos,
    /// No `<os><type>` (and no Xen bootloader).
    #[error("an os <type> must be specified")]
    NoOsType,
    /// A plan or input exceeds a documented resource limit.
    #[error("{what} exceeds the limit of {limit}")]
    Limit {
        /// What was counted.
        what: &'static str,
        /// The limit.
        limit: usize,
    },
}

impl ConfigError {
    /// libvirt's class for this error.
    pub fn class(&self) -> ErrorClass {
        match self {
            ConfigError::RootModel { .. }
            | ConfigError::RootIndex
            | ConfigError::NumaNode { .. }
            | ConfigError::DuplicateIndex { .. }
            | ConfigError::HostPci { .. }
            | ConfigError::MdevAddressType { .. }
            | ConfigError::HostdevDuplicate
            | ConfigError::ZpciUid { .. }
            | ConfigError::CcwInUse { .. }
            | ConfigError::SpaprVioInUse { .. }
            | ConfigError::DuplicateUsb { .. }
            | ConfigError::NoOsType
            | ConfigError::Limit { .. } => ErrorClass::Xml,
            ConfigError::OptionRequired { .. }
            | ConfigError::SingleWatchdog
            | ConfigError::UsbDiskAddress
            | ConfigError::IdeSecondController
            | ConfigError::ScsiNoModel { .. } => ErrorClass::Internal,
            ConfigError::UnknownModel { .. }
            | ConfigError::UnsupportedArch { .. }
            | ConfigError::RootAddress
            | ConfigError::PxbMachine
            | ConfigError::PxbPcieMachine
            | ConfigError::IndexTooHigh { .. }
            | ConfigError::TargetRange { .. }
            | ConfigError::NodeOnIndexZero
            | ConfigError::TargetIndexRange { .. }
            | ConfigError::TargetIndexZero
            | ConfigError::CcwMachine { .. }
            | ConfigError::DriveTarget { .. }
            | ConfigError::IdeSingleController
            | ConfigError::ControllerModelUnsupported { .. }
            | ConfigError::DuplicateDrive { .. }
            | ConfigError::ShmemUnsupported { .. }
            | ConfigError::WatchdogMachine { .. }
            | ConfigError::ItcoNotQ35
            | ConfigError::OptionInvalid { .. }
            | ConfigError::ModelNameInvalid { .. }
            | ConfigError::IndexMustBePositive { .. }
            | ConfigError::IndexMustBeZero { .. }
            | ConfigError::Pcihole64Machine { .. }
            | ConfigError::HotplugUnsupported { .. }
            | ConfigError::DeviceUnsupported { .. }
            | ConfigError::DiskAddressType { .. }
            | ConfigError::RamfbAddress
            | ConfigError::IommuNeedsPci { .. }
            | ConfigError::ShmemAddress
            | ConfigError::InputVirtioModel { .. }
            | ConfigError::UsbNoModel
            | ConfigError::UsbDisabledController
            | ConfigError::UsbDisabledDevices
            | ConfigError::MachineUnsupported { .. }
            | ConfigError::SpaprVioRegRange { .. }
            | ConfigError::UsbDisabledInput
            | ConfigError::UsbNoMaster
            | ConfigError::IdeUnsupported
            | ConfigError::VideoNotPrimary { .. }
            | ConfigError::VideoNoneNotAlone
            | ConfigError::ZpciUnsupported
            | ConfigError::UnknownAddressType { .. }
            | ConfigError::SmartcardAddressType
            | ConfigError::WatchdogAddress { .. }
            | ConfigError::WatchdogPciOnly { .. }
            | ConfigError::SerialAddressType { .. }
            | ConfigError::PrimaryVideos => ErrorClass::Unsupported,
        }
    }
}

/// Every error pciplan returns.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum Error {
    /// An address could not be parsed.
    #[error("XML error: {0}")]
    Address(#[from] AddressError),
    /// Address assignment failed.
    #[error("{}{reason}{}", class.prefix(), device.as_ref().map(|d| format!("; device: {d}")).unwrap_or_default())]
    Assign {
        /// libvirt's class.
        class: ErrorClass,
        /// The device concerned, when known.
        device: Option<String>,
        /// What failed.
        reason: AllocError,
    },
    /// The configuration is invalid.
    #[error("{}{reason}{}", reason.class().prefix(), device.as_ref().map(|d| format!("; device: {d}")).unwrap_or_default())]
    Config {
        /// The device concerned, when known.
        device: Option<String>,
        /// What is wrong.
        reason: ConfigError,
    },
    /// The XML could not be read.
    #[cfg(feature = "libvirt")]
    #[error("XML error: {0}")]
    Xml(#[from] XmlError),
    /// The controller tree is not a tree.
    #[error("XML error: {0}")]
    Topology(#[from] TopologyError),
    /// A placement policy cannot be met (`pciplan::policy`).
    #[error("{}{reason}{}", ErrorClass::Unsupported.prefix(), device.as_ref().map(|d| format!("; device: {d}")).unwrap_or_default())]
    Policy {
        /// The device concerned, when known.
        device: Option<String>,
        /// What cannot be met.
        reason: crate::policy::PolicyError,
    },
    /// A live attach or detach libvirt refuses (not an address error).
    #[cfg(feature = "libvirt")]
    #[error("{}{err}", err.class().prefix())]
    Live {
        /// What libvirt refused.
        #[from]
        err: LiveError,
    },
}

impl From<ConfigError> for Error {
    fn from(reason: ConfigError) -> Error {
        Error::Config {
            device: None,
            reason,
        }
    }
}

impl Error {
    /// libvirt's class of this error (the prefix of its message).
    ///
    /// ```
    /// let e = pciplan::libvirt::assign_xml("<domain", &pciplan::Capabilities::empty(),
    ///     &Default::default()).unwrap_err();
    /// assert_eq!(e.class(), pciplan::ErrorClass::Xml);
    /// assert!(e.to_string().starts_with(e.class().prefix()));
    /// ```
    pub fn class(&self) -> ErrorClass {
        match self {
            Error::Assign { class, .. } => *class,
            Error::Config { reason, .. } => reason.class(),
            Error::Policy { .. } => ErrorClass::Unsupported,
            _ => ErrorClass::Xml,
        }
    }

    /// The assignment error, if this is one.
    pub fn alloc_error(&self) -> Option<&AllocError> {
        match self {
            Error::Assign { reason, .. } => Some(reason),
            _ => None,
        }
    }
}
