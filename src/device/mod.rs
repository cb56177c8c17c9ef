//! Devices of a guest, as the engine sees them, and the connect-flags
//! calculator (spec §3).
//!
//! The model keeps exactly what decides PCI placement: the device kind, the
//! model values that change its flags, and its address. Everything else in a
//! domain definition is the front end's business.

use std::fmt;

use crate::address::PciAddress;
use crate::controller::{ControllerModel, PciTarget};

/// The type of a controller, with the model where it matters.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
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
    /// `<model name=...>`: borrowed when it is one of the names pciplan
    /// fills in (a default), owned when read from a definition.
    pub model_name: Option<std::borrow::Cow<'static, str>>,
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

/// What a device is. Variant order is libvirt's device iteration order (§5.14).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
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
    Shmem(ShmemModel),
    /// `<tpm>`.
    Tpm {
        /// `model='spapr-tpm-proxy'` (pSeries; not a spapr-vio device).
        spapr_proxy: bool,
    },
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
            DeviceKind::Shmem(_) => 18,
            DeviceKind::Tpm { .. } => 19,
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
            DeviceKind::Shmem(_) => "shmem",
            DeviceKind::Tpm { .. } => "tpm",
            DeviceKind::Panic => "panic",
            DeviceKind::Memory(_) => "memory",
            DeviceKind::Redirdev => "redirdev",
            DeviceKind::Iommu(_) => "iommu",
            DeviceKind::Vsock(_) => "vsock",
        }
    }

    /// libvirt's name of the device type in its messages
    /// (`virDomainDeviceType`): the element name, except `chr` for serial
    /// ports, parallel ports, channels and consoles.
    ///
    /// ```
    /// use pciplan::{DeviceKind, device::{ChannelTarget, VirtioModel}};
    /// assert_eq!(DeviceKind::Rng(VirtioModel::Default).libvirt_type(), "rng");
    /// assert_eq!(DeviceKind::Channel(ChannelTarget::None).libvirt_type(), "chr");
    /// ```
    pub const fn libvirt_type(&self) -> &'static str {
        match self {
            DeviceKind::Serial(_)
            | DeviceKind::Parallel
            | DeviceKind::Channel(_)
            | DeviceKind::Console(_) => "chr",
            other => other.element(),
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
#[repr(u8)]
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
    /// The zPCI extension of its PCI address (`<zpci>`), an s390 feature.
    pub zpci: Option<Zpci>,
    /// The drive address of an IDE/SCSI/SATA/FDC disk (given, or derived
    /// from its target name as libvirt does).
    pub drive: Option<Drive>,
    /// The numbers of a CCW or spapr-vio address (given, or assigned).
    pub bus_id: Option<BusId>,
}

/// The numbers of a non-PCI address that libvirt assigns.
///
/// ```
/// let c = pciplan::device::BusId::Ccw { cssid: 0xfe, ssid: 0, devno: 1 };
/// assert_eq!(c.to_string(), "<address type='ccw' cssid='0xfe' ssid='0x0' devno='0x0001'/>");
/// ```
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum BusId {
    /// `<address type='ccw' cssid ssid devno>` (s390).
    Ccw {
        /// Channel subsystem id.
        cssid: u32,
        /// Subchannel set id.
        ssid: u32,
        /// Device number.
        devno: u32,
    },
    /// `<address type='spapr-vio' reg>` (pSeries).
    SpaprVio {
        /// Register.
        reg: u64,
    },
}

impl std::fmt::Display for BusId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BusId::Ccw { cssid, ssid, devno } => write!(
                f,
                "<address type='ccw' cssid='0x{cssid:x}' ssid='0x{ssid:x}' devno='0x{devno:04x}'/>"
            ),
            BusId::SpaprVio { reg } => write!(f, "<address type='spapr-vio' reg='0x{reg:08x}'/>"),
        }
    }
}

/// A drive address (`<address type='drive'>`).
///
/// ```
/// let d = pciplan::device::Drive { controller: 0, bus: 1, target: 0, unit: 0 };
/// assert_eq!(d.to_string(), "controller='0' bus='1' target='0' unit='0'");
/// ```
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Drive {
    /// Controller index.
    pub controller: u32,
    /// Bus.
    pub bus: u32,
    /// Target.
    pub target: u32,
    /// Unit.
    pub unit: u32,
}

impl std::fmt::Display for Drive {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "controller='{}' bus='{}' target='{}' unit='{}'",
            self.controller, self.bus, self.target, self.unit
        )
    }
}

/// zPCI identifiers of a PCI address (§1.2); each may be unset.
///
/// ```
/// let z = pciplan::device::Zpci { uid: Some(1), fid: None };
/// assert!(z.is_given());
/// ```
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Zpci {
    /// `uid`, 1..=0xFFFF when valid.
    pub uid: Option<u32>,
    /// `fid`.
    pub fid: Option<u32>,
}

impl Zpci {
    /// Whether a uid or a fid is given.
    pub fn is_given(&self) -> bool {
        self.uid.is_some() || self.fid.is_some()
    }
}

impl Device {
    /// A device of this kind without an address.
    pub fn new(kind: DeviceKind) -> Device {
        Device {
            kind,
            address: DeviceAddress::None,
            label: String::new(),
            origin: None,
            zpci: None,
            drive: None,
            bus_id: None,
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

impl Device {
    /// The device as it is named in messages: its [`Display`](fmt::Display)
    /// form (`interface 'net0'`, `controller type='pci' index='1'
    /// model='pci-bridge'`).
    ///
    /// ```
    /// use pciplan::{Device, DeviceKind};
    /// assert_eq!(Device::new(DeviceKind::Panic).name(), "panic");
    /// ```
    pub fn name(&self) -> String {
        match &self.kind {
            // Most devices of a large plan: no formatting needed.
            k if self.label.is_empty() && !matches!(k, DeviceKind::Controller(_)) => {
                k.element().to_owned()
            }
            _ => self.to_string(),
        }
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

mod calculator;
mod models;

pub use calculator::{FlagContext, connect_flags};
pub use models::*;
