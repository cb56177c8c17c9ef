//! Devices of a guest, as the engine sees them, and the connect-flags
//! calculator (spec §3).
//!
//! The model keeps exactly what decides PCI placement: the device kind, the
//! model values that change its flags, and its address. Everything else in a
//! domain definition is the front end's business.

use std::fmt;

use crate::address::PciAddress;
use crate::caps::Capabilities;
use crate::controller::{ControllerModel, PciTarget};
use crate::flags::ConnectFlags;
use crate::machine::HostPci;

/// The `model` of a virtio device (§3.2).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, Default)]
pub enum VirtioModel {
    /// Attribute absent.
    #[default]
    Default,
    /// `virtio`.
    Virtio,
    /// `virtio-transitional`.
    Transitional,
    /// `virtio-non-transitional`.
    NonTransitional,
    /// An out-of-range value (libvirt's LAST) that a valid parse never gives.
    Invalid,
}

impl VirtioModel {
    /// Parses a model attribute value; `None` for an unknown value.
    pub fn parse(s: &str) -> Option<VirtioModel> {
        match s {
            "virtio" => Some(VirtioModel::Virtio),
            "virtio-transitional" => Some(VirtioModel::Transitional),
            "virtio-non-transitional" => Some(VirtioModel::NonTransitional),
            _ => None,
        }
    }
}

/// Disk bus (`<target bus=...>`).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum DiskBus {
    /// `virtio`.
    Virtio,
    /// `ide`.
    Ide,
    /// `scsi`.
    Scsi,
    /// `sata`.
    Sata,
    /// `fdc`.
    Fdc,
    /// `usb`.
    Usb,
    /// `xen`.
    Xen,
    /// `sd`.
    Sd,
    /// `uml`.
    Uml,
    /// `none` or another bus.
    None,
}

/// NIC models that matter for flags.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum NicModel {
    /// `virtio`.
    Virtio,
    /// `virtio-transitional`.
    VirtioTransitional,
    /// `virtio-non-transitional`.
    VirtioNonTransitional,
    /// `e1000e` (PCI Express).
    E1000e,
    /// `usb-net`.
    UsbNet,
    /// Any other model libvirt knows (`rtl8139`, `e1000`, `vmxnet3`, …).
    Known(String),
    /// A model string libvirt does not know (e.g. `ne2k_pci`).
    Unknown(String),
}

/// NIC models libvirt 9.0 knows by name.
pub const KNOWN_NIC_MODELS: [&str; 21] = [
    "unknown",
    "netfront",
    "rtl8139",
    "virtio",
    "e1000",
    "e1000e",
    "virtio-transitional",
    "virtio-non-transitional",
    "usb-net",
    "spapr-vlan",
    "lan9118",
    "scm91c111",
    "vlance",
    "vmxnet",
    "vmxnet2",
    "vmxnet3",
    "Am79C970A",
    "Am79C973",
    "82540EM",
    "82545EM",
    "82543GC",
];

impl NicModel {
    /// Classifies a `<model type=...>` value.
    pub fn parse(s: &str) -> NicModel {
        let is = |k: &str| s.eq_ignore_ascii_case(k);
        if is("virtio") {
            NicModel::Virtio
        } else if is("virtio-transitional") {
            NicModel::VirtioTransitional
        } else if is("virtio-non-transitional") {
            NicModel::VirtioNonTransitional
        } else if is("e1000e") {
            NicModel::E1000e
        } else if is("usb-net") {
            NicModel::UsbNet
        } else if KNOWN_NIC_MODELS.iter().any(|k| is(k)) {
            NicModel::Known(s.to_string())
        } else {
            NicModel::Unknown(s.to_string())
        }
    }
}

/// Sound card models.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum SoundModel {
    /// `sb16`.
    Sb16,
    /// `es1370`.
    Es1370,
    /// `pcspk`.
    Pcspk,
    /// `ac97`.
    Ac97,
    /// `ich6`.
    Ich6,
    /// `ich9`.
    Ich9,
    /// `usb`.
    Usb,
    /// `ich7`.
    Ich7,
}

/// Video models.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum VideoModel {
    /// No type resolved yet.
    Default,
    /// `vga`.
    Vga,
    /// `cirrus`.
    Cirrus,
    /// `vmvga`.
    Vmvga,
    /// `xen`.
    Xen,
    /// `vbox`.
    Vbox,
    /// `qxl`.
    Qxl,
    /// `parallels`.
    Parallels,
    /// `virtio`.
    Virtio,
    /// `gop`.
    Gop,
    /// `none`.
    None,
    /// `bochs`.
    Bochs,
    /// `ramfb`.
    Ramfb,
}

impl VideoModel {
    /// The libvirt spelling of the video type.
    pub const fn as_str(self) -> &'static str {
        match self {
            VideoModel::Default => "default",
            VideoModel::Vga => "vga",
            VideoModel::Cirrus => "cirrus",
            VideoModel::Vmvga => "vmvga",
            VideoModel::Xen => "xen",
            VideoModel::Vbox => "vbox",
            VideoModel::Qxl => "qxl",
            VideoModel::Parallels => "parallels",
            VideoModel::Virtio => "virtio",
            VideoModel::Gop => "gop",
            VideoModel::None => "none",
            VideoModel::Bochs => "bochs",
            VideoModel::Ramfb => "ramfb",
        }
    }
}

/// USB controller models.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum UsbModel {
    /// `piix3-uhci`.
    Piix3Uhci,
    /// `piix4-uhci`.
    Piix4Uhci,
    /// `ehci`.
    Ehci,
    /// `ich9-ehci1`.
    Ich9Ehci1,
    /// `ich9-uhci1`.
    Ich9Uhci1,
    /// `ich9-uhci2`.
    Ich9Uhci2,
    /// `ich9-uhci3`.
    Ich9Uhci3,
    /// `vt82c686b-uhci`.
    Vt82c686bUhci,
    /// `pci-ohci`.
    PciOhci,
    /// `nec-xhci`.
    NecXhci,
    /// `qusb1`.
    Qusb1,
    /// `qusb2`.
    Qusb2,
    /// `qemu-xhci`.
    QemuXhci,
    /// `none`.
    None,
}

impl UsbModel {
    /// The libvirt spelling.
    pub const fn as_str(self) -> &'static str {
        match self {
            UsbModel::Piix3Uhci => "piix3-uhci",
            UsbModel::Piix4Uhci => "piix4-uhci",
            UsbModel::Ehci => "ehci",
            UsbModel::Ich9Ehci1 => "ich9-ehci1",
            UsbModel::Ich9Uhci1 => "ich9-uhci1",
            UsbModel::Ich9Uhci2 => "ich9-uhci2",
            UsbModel::Ich9Uhci3 => "ich9-uhci3",
            UsbModel::Vt82c686bUhci => "vt82c686b-uhci",
            UsbModel::PciOhci => "pci-ohci",
            UsbModel::NecXhci => "nec-xhci",
            UsbModel::Qusb1 => "qusb1",
            UsbModel::Qusb2 => "qusb2",
            UsbModel::QemuXhci => "qemu-xhci",
            UsbModel::None => "none",
        }
    }

    /// Parses a model value.
    pub fn parse(s: &str) -> Option<UsbModel> {
        [
            UsbModel::Piix3Uhci,
            UsbModel::Piix4Uhci,
            UsbModel::Ehci,
            UsbModel::Ich9Ehci1,
            UsbModel::Ich9Uhci1,
            UsbModel::Ich9Uhci2,
            UsbModel::Ich9Uhci3,
            UsbModel::Vt82c686bUhci,
            UsbModel::PciOhci,
            UsbModel::NecXhci,
            UsbModel::Qusb1,
            UsbModel::Qusb2,
            UsbModel::QemuXhci,
            UsbModel::None,
        ]
        .into_iter()
        .find(|m| m.as_str() == s)
    }

    /// The USB2 companion set: (function, multifunction on) for ich9 models.
    pub const fn usb2_function(self) -> Option<(u8, bool)> {
        match self {
            UsbModel::Ich9Uhci1 => Some((0, true)),
            UsbModel::Ich9Uhci2 => Some((1, false)),
            UsbModel::Ich9Uhci3 => Some((2, false)),
            UsbModel::Ich9Ehci1 => Some((7, false)),
            _ => None,
        }
    }
}

/// SCSI controller models.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum ScsiModel {
    /// `auto`.
    Auto,
    /// `buslogic`.
    Buslogic,
    /// `lsilogic`.
    Lsilogic,
    /// `lsisas1068`.
    Lsisas1068,
    /// `vmpvscsi`.
    Vmpvscsi,
    /// `ibmvscsi`.
    Ibmvscsi,
    /// `virtio-scsi`.
    VirtioScsi,
    /// `lsisas1078`.
    Lsisas1078,
    /// `virtio-transitional`.
    VirtioTransitional,
    /// `virtio-non-transitional`.
    VirtioNonTransitional,
    /// `ncr53c90`.
    Ncr53c90,
    /// `am53c974`.
    Am53c974,
    /// `dc390`.
    Dc390,
}

/// The type of a controller, with the model where it matters.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ControllerKind {
    /// `ide`.
    Ide,
    /// `fdc`.
    Fdc,
    /// `scsi`, model unset or set.
    Scsi(Option<ScsiModel>),
    /// `sata`.
    Sata,
    /// `virtio-serial`.
    VirtioSerial(VirtioModel),
    /// `ccid`.
    Ccid,
    /// `usb`, model unset or set.
    Usb(Option<UsbModel>),
    /// `pci`.
    Pci(PciController),
    /// `xenbus`.
    Xenbus,
    /// `isa`.
    Isa,
}

impl ControllerKind {
    /// The `type` attribute value.
    pub const fn type_name(&self) -> &'static str {
        match self {
            ControllerKind::Ide => "ide",
            ControllerKind::Fdc => "fdc",
            ControllerKind::Scsi(_) => "scsi",
            ControllerKind::Sata => "sata",
            ControllerKind::VirtioSerial(_) => "virtio-serial",
            ControllerKind::Ccid => "ccid",
            ControllerKind::Usb(_) => "usb",
            ControllerKind::Pci(_) => "pci",
            ControllerKind::Xenbus => "xenbus",
            ControllerKind::Isa => "isa",
        }
    }
}

/// A `<controller type='pci'>`: model, model name and target.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct PciController {
    /// The model; `None` when the XML gave none (assignment then fails).
    pub model: Option<ControllerModel>,
    /// `<model name=...>`.
    pub model_name: Option<String>,
    /// `<target>`.
    pub target: PciTarget,
    /// `pcihole64` was given.
    pub pcihole64: bool,
}

/// A controller: its kind and index.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Controller {
    /// Type and model.
    pub kind: ControllerKind,
    /// `index`; `None` until defaults assign one.
    pub index: Option<u32>,
    /// A USB companion controller (it has a `<master>` element).
    pub companion: bool,
}

impl Controller {
    /// A PCI controller of the given model and index.
    ///
    /// ```
    /// use pciplan::{Controller, ControllerModel};
    /// let c = Controller::pci(ControllerModel::PcieRootPort, 1);
    /// assert_eq!(c.pci_model(), Some(ControllerModel::PcieRootPort));
    /// ```
    pub fn pci(model: ControllerModel, index: u32) -> Controller {
        Controller {
            kind: ControllerKind::Pci(PciController {
                model: Some(model),
                ..PciController::default()
            }),
            index: Some(index),
            companion: false,
        }
    }

    /// The PCI controller model, for `type='pci'`.
    pub fn pci_model(&self) -> Option<ControllerModel> {
        match &self.kind {
            ControllerKind::Pci(p) => p.model,
            _ => None,
        }
    }

    /// The index, or 0 when not yet assigned.
    pub fn idx(&self) -> u32 {
        self.index.unwrap_or(0)
    }
}

/// The source of a host device, as far as placement cares.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum HostdevSource {
    /// `mode='subsystem' type='pci'`, with the host address.
    Pci(Option<PciAddress>),
    /// `mode='subsystem' type='scsi_host'` (vhost-scsi) with its model.
    ScsiHost(VirtioModel),
    /// `mode='subsystem' type='mdev'` with model `vfio-pci`.
    MdevVfioPci,
    /// An mdev of another model (`vfio-ccw`, `vfio-ap`).
    MdevOther,
    /// USB, SCSI or capability-mode host devices: no PCI.
    Other,
}

/// Filesystem drivers.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum FsDriver {
    /// Default (virtio-9p).
    Default,
    /// `path`.
    Path,
    /// `handle`.
    Handle,
    /// `loop`.
    Loop,
    /// `nbd`.
    Nbd,
    /// `ploop`.
    Ploop,
    /// `virtiofs`.
    Virtiofs,
}

/// Memballoon models.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum BalloonModel {
    /// `virtio`.
    Virtio,
    /// `virtio-transitional`.
    VirtioTransitional,
    /// `virtio-non-transitional`.
    VirtioNonTransitional,
    /// `xen`.
    Xen,
    /// `none`.
    None,
}

/// Watchdog models.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum WatchdogModel {
    /// `i6300esb` (PCI).
    I6300esb,
    /// `ib700` (ISA).
    Ib700,
    /// `diag288` (s390).
    Diag288,
    /// `itco` (q35 chipset).
    Itco,
}

/// Input buses.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum InputBus {
    /// `virtio`.
    Virtio,
    /// `usb`.
    Usb,
    /// Any other bus (ps2, xen, parallels, none).
    Other,
}

/// IOMMU models.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum IommuModel {
    /// `intel`.
    Intel,
    /// `smmuv3`.
    Smmuv3,
    /// `virtio`.
    Virtio,
}

/// Memory device models.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum MemoryModel {
    /// `dimm`.
    Dimm,
    /// `nvdimm`.
    Nvdimm,
    /// `virtio-pmem`.
    VirtioPmem,
    /// `virtio-mem`.
    VirtioMem,
    /// `sgx-epc`.
    SgxEpc,
}

/// Serial port target types.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum SerialTarget {
    /// Unset.
    None,
    /// `isa-serial`.
    Isa,
    /// `usb-serial`.
    Usb,
    /// `pci-serial`.
    Pci,
    /// `spapr-vio-serial`.
    SpaprVio,
    /// `system-serial`.
    System,
    /// `sclp-serial`.
    Sclp,
}

/// Channel target types.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum ChannelTarget {
    /// Unset.
    None,
    /// `guestfwd`.
    Guestfwd,
    /// `virtio`, on the virtio-serial controller its address names
    /// (`<address type='virtio-serial' controller='N'>`, default 0).
    Virtio {
        /// virtio-serial controller index.
        controller: u32,
    },
    /// `xen`.
    Xen,
}

/// Console target types.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum ConsoleTarget {
    /// Unset.
    None,
    /// `serial`.
    Serial,
    /// `xen`.
    Xen,
    /// `uml`.
    Uml,
    /// `virtio`, on the virtio-serial controller its address names.
    Virtio {
        /// virtio-serial controller index.
        controller: u32,
    },
    /// `lxc`, `openvz`, `sclp`, `sclplm`.
    Other,
}

/// What a device is. Variant order is libvirt's device iteration order (§5.14).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum DeviceKind {
    /// `<disk>`: bus, virtio model, target dev.
    Disk {
        /// Bus.
        bus: DiskBus,
        /// virtio model.
        model: VirtioModel,
        /// For ide/scsi/sata/fdc disks: the controller index of the disk's
        /// drive address (given, or derived from the target name by the
        /// front end); libvirt adds missing controllers up to it.
        drive_controller: Option<u32>,
    },
    /// `<interface>`.
    Interface {
        /// NIC model after defaults; `None` when the interface has none.
        model: Option<NicModel>,
        /// For `type='hostdev'`: the host device it implies.
        hostdev: Option<HostdevSource>,
    },
    /// `<sound>`.
    Sound(SoundModel),
    /// `<hostdev>`.
    Hostdev(HostdevSource),
    /// `<video>`.
    Video(VideoModel),
    /// `<controller>`.
    Controller(Controller),
    /// `<smartcard>`.
    Smartcard,
    /// `<serial>`.
    Serial(SerialTarget),
    /// `<parallel>`.
    Parallel,
    /// `<channel>`.
    Channel(ChannelTarget),
    /// `<console>`.
    Console(ConsoleTarget),
    /// `<input>`.
    Input {
        /// Bus.
        bus: InputBus,
        /// virtio model.
        model: VirtioModel,
    },
    /// `<filesystem>`.
    Filesystem {
        /// Driver.
        driver: FsDriver,
        /// virtio model.
        model: VirtioModel,
    },
    /// `<watchdog>`.
    Watchdog(WatchdogModel),
    /// `<memballoon>`.
    Memballoon(BalloonModel),
    /// `<rng>`.
    Rng(VirtioModel),
    /// `<nvram>`.
    Nvram,
    /// `<hub>`.
    Hub,
    /// `<shmem>`.
    Shmem,
    /// `<tpm>`.
    Tpm,
    /// `<panic>`.
    Panic,
    /// `<memory>` device.
    Memory(MemoryModel),
    /// `<redirdev>`.
    Redirdev,
    /// `<iommu>`.
    Iommu(IommuModel),
    /// `<vsock>`.
    Vsock(VirtioModel),
}

impl DeviceKind {
    /// Position of the kind in libvirt's device iteration order (§5.14).
    pub const fn iteration_rank(&self) -> u8 {
        match self {
            DeviceKind::Disk { .. } => 0,
            DeviceKind::Interface { .. } => 1,
            DeviceKind::Sound(_) => 2,
            DeviceKind::Hostdev(_) => 3,
            DeviceKind::Video(_) => 4,
            DeviceKind::Controller(_) => 5,
            DeviceKind::Smartcard => 6,
            DeviceKind::Serial(_) => 7,
            DeviceKind::Parallel => 8,
            DeviceKind::Channel(_) => 9,
            DeviceKind::Console(_) => 10,
            DeviceKind::Input { .. } => 11,
            DeviceKind::Filesystem { .. } => 12,
            DeviceKind::Watchdog(_) => 13,
            DeviceKind::Memballoon(_) => 14,
            DeviceKind::Rng(_) => 15,
            DeviceKind::Nvram => 16,
            DeviceKind::Hub => 17,
            DeviceKind::Shmem => 18,
            DeviceKind::Tpm => 19,
            DeviceKind::Panic => 20,
            DeviceKind::Memory(_) => 21,
            DeviceKind::Redirdev => 22,
            DeviceKind::Iommu(_) => 23,
            DeviceKind::Vsock(_) => 24,
        }
    }

    /// The XML element name of the kind.
    pub const fn element(&self) -> &'static str {
        match self {
            DeviceKind::Disk { .. } => "disk",
            DeviceKind::Interface { .. } => "interface",
            DeviceKind::Sound(_) => "sound",
            DeviceKind::Hostdev(_) => "hostdev",
            DeviceKind::Video(_) => "video",
            DeviceKind::Controller(_) => "controller",
            DeviceKind::Smartcard => "smartcard",
            DeviceKind::Serial(_) => "serial",
            DeviceKind::Parallel => "parallel",
            DeviceKind::Channel(_) => "channel",
            DeviceKind::Console(_) => "console",
            DeviceKind::Input { .. } => "input",
            DeviceKind::Filesystem { .. } => "filesystem",
            DeviceKind::Watchdog(_) => "watchdog",
            DeviceKind::Memballoon(_) => "memballoon",
            DeviceKind::Rng(_) => "rng",
            DeviceKind::Nvram => "nvram",
            DeviceKind::Hub => "hub",
            DeviceKind::Shmem => "shmem",
            DeviceKind::Tpm => "tpm",
            DeviceKind::Panic => "panic",
            DeviceKind::Memory(_) => "memory",
            DeviceKind::Redirdev => "redirdev",
            DeviceKind::Iommu(_) => "iommu",
            DeviceKind::Vsock(_) => "vsock",
        }
    }

    /// The controller, for controller devices.
    pub fn controller(&self) -> Option<&Controller> {
        match self {
            DeviceKind::Controller(c) => Some(c),
            _ => None,
        }
    }
}

/// The address a device has.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
pub enum DeviceAddress {
    /// No `<address>` at all.
    #[default]
    None,
    /// `<address type='pci' .../>`; an empty one (domain, bus, slot all 0)
    /// asks for assignment.
    Pci(PciAddress),
    /// Another address type (`drive`, `usb`, `ccw`, `virtio-mmio`,
    /// `unassigned`, …), by its type name.
    Other(String),
}

impl DeviceAddress {
    /// A non-empty PCI address (libvirt's "present").
    pub fn present(&self) -> Option<PciAddress> {
        match self {
            DeviceAddress::Pci(a) if !a.is_empty() => Some(*a),
            _ => None,
        }
    }

    /// No address, or an empty PCI address: the device wants one.
    pub fn is_wanted(&self) -> bool {
        match self {
            DeviceAddress::None => true,
            DeviceAddress::Pci(a) => a.is_empty(),
            DeviceAddress::Other(_) => false,
        }
    }

    /// The address type name (`none` when there is none).
    pub fn type_name(&self) -> &str {
        match self {
            DeviceAddress::None => "none",
            DeviceAddress::Pci(_) => "pci",
            DeviceAddress::Other(t) => t,
        }
    }
}

/// One device: what it is, its address, and a label for messages.
///
/// ```
/// use pciplan::{Device, DeviceKind, VirtioModel};
/// let nic = Device::new(DeviceKind::Rng(VirtioModel::Default));
/// assert!(nic.address.is_wanted());
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Device {
    /// What the device is.
    pub kind: DeviceKind,
    /// Its address.
    pub address: DeviceAddress,
    /// A name for messages (e.g. the disk target `vda` or an alias); the
    /// element name and position are used when empty.
    pub label: String,
    /// A token of the front end that created the device (e.g. the position
    /// of its XML element); `None` for devices pciplan added itself.
    pub origin: Option<usize>,
    /// The address carries a zPCI extension (`<zpci>`), an s390 feature.
    pub zpci: bool,
}

impl Device {
    /// A device of this kind without an address.
    pub fn new(kind: DeviceKind) -> Device {
        Device {
            kind,
            address: DeviceAddress::None,
            label: String::new(),
            origin: None,
            zpci: false,
        }
    }

    /// The same device with an address.
    pub fn with_address(mut self, address: DeviceAddress) -> Device {
        self.address = address;
        self
    }

    /// The same device with a front-end origin token.
    pub fn with_origin(mut self, origin: usize) -> Device {
        self.origin = Some(origin);
        self
    }

    /// The same device with a label.
    pub fn with_label(mut self, label: impl Into<String>) -> Device {
        self.label = label.into();
        self
    }
}

impl fmt::Display for Device {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            DeviceKind::Controller(c) => {
                write!(f, "controller type='{}'", c.kind.type_name())?;
                if let Some(i) = c.index {
                    write!(f, " index='{i}'")?;
                }
                if let ControllerKind::Pci(p) = &c.kind
                    && let Some(m) = p.model
                {
                    write!(f, " model='{m}'")?;
                }
                Ok(())
            }
            k => {
                f.write_str(k.element())?;
                if !self.label.is_empty() {
                    write!(f, " '{}'", self.label)?;
                }
                Ok(())
            }
        }
    }
}

/// What the calculator needs besides the device (§3.1).
#[derive(Clone, Debug)]
pub struct FlagContext<'a> {
    /// Whether the controller with index 0 is a pcie-root.
    pub pcie_root: bool,
    /// The QEMU capabilities.
    pub caps: &'a Capabilities,
    /// Host PCI facts (is a host device PCI Express).
    pub host: &'a HostPci,
}

impl FlagContext<'_> {
    /// P: conventional PCI.
    pub fn p(&self) -> ConnectFlags {
        ConnectFlags::P
    }
    /// E: PCI Express on a PCIe machine, else P.
    pub fn e(&self) -> ConnectFlags {
        if self.pcie_root {
            ConnectFlags::E_PCIE
        } else {
            ConnectFlags::P
        }
    }
    /// V: the virtio flags (E when QEMU has the (non-)transitional variants).
    pub fn v(&self) -> ConnectFlags {
        if self.caps.has("virtio-pci-non-transitional") {
            self.e()
        } else {
            ConnectFlags::P
        }
    }
    /// The virtio rule of §3.2.
    pub fn virtio_rule(&self, m: VirtioModel) -> ConnectFlags {
        match m {
            VirtioModel::Default | VirtioModel::Virtio | VirtioModel::NonTransitional => self.v(),
            VirtioModel::Transitional => self.p(),
            VirtioModel::Invalid => ConnectFlags::empty(),
        }
    }
}

/// The hostdev rule of §3.3.
fn hostdev_flags(
    src: &HostdevSource,
    address: &DeviceAddress,
    ctx: &FlagContext<'_>,
) -> ConnectFlags {
    let uses_pci = matches!(
        src,
        HostdevSource::Pci(_)
            | HostdevSource::ScsiHost(_)
            | HostdevSource::MdevVfioPci
            | HostdevSource::MdevOther
    );
    if !uses_pci {
        return ConnectFlags::empty();
    }
    if !ctx.pcie_root {
        return ctx.p();
    }
    if address.present().is_some() {
        return ctx.e();
    }
    match src {
        HostdevSource::MdevVfioPci | HostdevSource::MdevOther => ctx.e(),
        HostdevSource::ScsiHost(m) => ctx.virtio_rule(*m),
        HostdevSource::Pci(host) => match host.and_then(|h| ctx.host.is_pcie(h)) {
            Some(false) => ctx.p(),
            Some(true) | None => ctx.e(),
        },
        HostdevSource::Other => ConnectFlags::empty(),
    }
}

/// The connect-flags calculator (§3.3): what slot this device needs.
///
/// Empty flags mean the device does not use PCI.
///
/// ```
/// use pciplan::{Capabilities, ConnectFlags as F, DeviceKind, VirtioModel};
/// use pciplan::device::{connect_flags, FlagContext, DiskBus};
/// use pciplan::machine::HostPci;
/// let caps = Capabilities::qemu_8_0_x86_64();
/// let host = HostPci::default();
/// let q35 = FlagContext { pcie_root: true, caps: &caps, host: &host };
/// let disk = |model| DeviceKind::Disk { bus: DiskBus::Virtio, model, drive_controller: None };
/// let none = pciplan::DeviceAddress::None;
/// assert_eq!(connect_flags(&disk(VirtioModel::Default), &none, &q35), F::PCIE_DEVICE | F::AUTOASSIGN);
/// assert_eq!(connect_flags(&disk(VirtioModel::Transitional), &none, &q35), F::PCI_DEVICE | F::AUTOASSIGN);
/// assert_eq!(connect_flags(&disk(VirtioModel::Invalid), &none, &q35), F::empty());
/// ```
pub fn connect_flags(
    kind: &DeviceKind,
    address: &DeviceAddress,
    ctx: &FlagContext<'_>,
) -> ConnectFlags {
    let none = ConnectFlags::empty();
    match kind {
        DeviceKind::Disk { bus, model, .. } => match bus {
            DiskBus::Virtio => ctx.virtio_rule(*model),
            DiskBus::Ide
            | DiskBus::Scsi
            | DiskBus::Sata
            | DiskBus::Fdc
            | DiskBus::Usb
            | DiskBus::Xen
            | DiskBus::Sd
            | DiskBus::Uml
            | DiskBus::None => none,
        },
        DeviceKind::Interface { model, hostdev } => match (hostdev, model) {
            (Some(src), _) => hostdev_flags(src, address, ctx),
            (None, None) => ctx.e(),
            (None, Some(m)) => match m {
                NicModel::UsbNet => none,
                NicModel::Virtio | NicModel::VirtioNonTransitional => ctx.v(),
                NicModel::VirtioTransitional => ctx.p(),
                NicModel::E1000e => ctx.e(),
                NicModel::Unknown(_) => ctx.e(),
                NicModel::Known(_) => ctx.p(),
            },
        },
        DeviceKind::Sound(m) => match m {
            SoundModel::Es1370 | SoundModel::Ac97 | SoundModel::Ich6 | SoundModel::Ich9 => ctx.p(),
            SoundModel::Sb16 | SoundModel::Pcspk | SoundModel::Usb | SoundModel::Ich7 => none,
        },
        DeviceKind::Hostdev(src) => hostdev_flags(src, address, ctx),
        DeviceKind::Video(m) => match m {
            VideoModel::Virtio => ctx.v(),
            VideoModel::Vga
            | VideoModel::Cirrus
            | VideoModel::Vmvga
            | VideoModel::Xen
            | VideoModel::Vbox
            | VideoModel::Qxl
            | VideoModel::Parallels => ctx.p(),
            VideoModel::Bochs => ctx.e(),
            VideoModel::None | VideoModel::Ramfb | VideoModel::Gop | VideoModel::Default => none,
        },
        DeviceKind::Controller(c) => match &c.kind {
            ControllerKind::Pci(p) => p.model.map_or(none, ControllerModel::connect_flags),
            ControllerKind::Sata | ControllerKind::Ide => ctx.p(),
            ControllerKind::Usb(m) => match m {
                None => ctx.p(),
                Some(UsbModel::NecXhci | UsbModel::QemuXhci) => ctx.e(),
                Some(
                    UsbModel::Ehci
                    | UsbModel::Ich9Ehci1
                    | UsbModel::Ich9Uhci1
                    | UsbModel::Ich9Uhci2
                    | UsbModel::Ich9Uhci3
                    | UsbModel::Vt82c686bUhci
                    | UsbModel::Piix3Uhci
                    | UsbModel::Piix4Uhci
                    | UsbModel::PciOhci,
                ) => ctx.p(),
                Some(UsbModel::Qusb1 | UsbModel::Qusb2 | UsbModel::None) => none,
            },
            ControllerKind::Scsi(m) => match m {
                None | Some(ScsiModel::Ncr53c90) => none,
                Some(ScsiModel::VirtioScsi | ScsiModel::VirtioNonTransitional) => ctx.v(),
                Some(
                    ScsiModel::VirtioTransitional
                    | ScsiModel::Auto
                    | ScsiModel::Buslogic
                    | ScsiModel::Lsilogic
                    | ScsiModel::Lsisas1068
                    | ScsiModel::Lsisas1078
                    | ScsiModel::Vmpvscsi
                    | ScsiModel::Ibmvscsi
                    | ScsiModel::Dc390
                    | ScsiModel::Am53c974,
                ) => ctx.p(),
            },
            ControllerKind::VirtioSerial(m) => ctx.virtio_rule(*m),
            ControllerKind::Fdc
            | ControllerKind::Ccid
            | ControllerKind::Xenbus
            | ControllerKind::Isa => none,
        },
        DeviceKind::Filesystem { driver, model } => match driver {
            FsDriver::Default | FsDriver::Path | FsDriver::Handle => ctx.virtio_rule(*model),
            FsDriver::Virtiofs => ctx.v(),
            FsDriver::Loop | FsDriver::Nbd | FsDriver::Ploop => none,
        },
        DeviceKind::Memballoon(m) => match m {
            BalloonModel::Virtio | BalloonModel::VirtioNonTransitional => ctx.v(),
            BalloonModel::VirtioTransitional => ctx.p(),
            BalloonModel::Xen | BalloonModel::None => none,
        },
        DeviceKind::Rng(m) => ctx.virtio_rule(*m),
        DeviceKind::Watchdog(m) => match m {
            WatchdogModel::I6300esb => ctx.p(),
            WatchdogModel::Ib700 | WatchdogModel::Diag288 | WatchdogModel::Itco => none,
        },
        DeviceKind::Shmem => ctx.p(),
        DeviceKind::Input { bus, model } => match bus {
            InputBus::Virtio => ctx.virtio_rule(*model),
            InputBus::Usb | InputBus::Other => none,
        },
        // Quirk (§3.3): libvirt reads every character device's target type
        // as if it were a serial port's; value 3 is pci-serial for serial
        // ports, xen for channels and uml for consoles.
        DeviceKind::Serial(t) => match t {
            SerialTarget::Pci => ctx.p(),
            SerialTarget::None
            | SerialTarget::Isa
            | SerialTarget::Usb
            | SerialTarget::SpaprVio
            | SerialTarget::System
            | SerialTarget::Sclp => none,
        },
        DeviceKind::Channel(t) => match t {
            ChannelTarget::Xen => ctx.p(),
            ChannelTarget::None | ChannelTarget::Guestfwd | ChannelTarget::Virtio { .. } => none,
        },
        DeviceKind::Console(t) => match t {
            ConsoleTarget::Uml => ctx.p(),
            ConsoleTarget::None
            | ConsoleTarget::Serial
            | ConsoleTarget::Xen
            | ConsoleTarget::Virtio { .. }
            | ConsoleTarget::Other => none,
        },
        DeviceKind::Parallel => none,
        DeviceKind::Iommu(m) => match m {
            IommuModel::Virtio => ctx.v() | ConnectFlags::INTEGRATED,
            IommuModel::Intel | IommuModel::Smmuv3 => none,
        },
        DeviceKind::Vsock(m) => match m {
            VirtioModel::Virtio | VirtioModel::NonTransitional => ctx.v(),
            VirtioModel::Transitional => ctx.p(),
            VirtioModel::Default | VirtioModel::Invalid => none,
        },
        DeviceKind::Memory(m) => match m {
            MemoryModel::VirtioPmem | MemoryModel::VirtioMem => ctx.v(),
            MemoryModel::Dimm | MemoryModel::Nvdimm | MemoryModel::SgxEpc => none,
        },
        DeviceKind::Smartcard
        | DeviceKind::Nvram
        | DeviceKind::Hub
        | DeviceKind::Tpm
        | DeviceKind::Panic
        | DeviceKind::Redirdev => none,
    }
}
