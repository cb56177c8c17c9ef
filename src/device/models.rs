//! The model values of each device kind that decide its connect flags.

use crate::address::PciAddress;

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
        // The usual spelling first, compared as it is.
        if s == "virtio" || is("virtio") {
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

    /// An ich9 UHCI model: a USB2 companion of an `ich9-ehci1` master.
    pub const fn is_ich9_companion(self) -> bool {
        matches!(
            self,
            UsbModel::Ich9Uhci1 | UsbModel::Ich9Uhci2 | UsbModel::Ich9Uhci3
        )
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

/// The source of a host device, as far as placement cares.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum HostdevSource {
    /// `mode='subsystem' type='pci'`, with the host address.
    Pci(Option<PciAddress>),
    /// `mode='subsystem' type='scsi_host'` (vhost-scsi) with its model.
    ScsiHost(VirtioModel),
    /// `mode='subsystem' type='mdev'` with model `vfio-pci`.
    MdevVfioPci,
    /// `mode='subsystem' type='mdev'` with model `vfio-ccw` (s390).
    MdevVfioCcw,
    /// An mdev of another model (`vfio-ap`, …).
    MdevOther,
    /// `mode='subsystem' type='scsi'`: a host SCSI device on a guest SCSI
    /// controller, with its drive address (controller, unit) when known.
    Scsi(Option<(u32, u32)>),
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

/// `<shmem>` models.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum ShmemModel {
    /// `ivshmem` (the default; QEMU 7.2 no longer has it).
    Ivshmem,
    /// `ivshmem-plain`.
    Plain,
    /// `ivshmem-doorbell`.
    Doorbell,
}

impl ShmemModel {
    /// libvirt's spelling, which is also the QEMU device and capability.
    ///
    /// ```
    /// assert_eq!(pciplan::device::ShmemModel::Plain.as_str(), "ivshmem-plain");
    /// ```
    pub const fn as_str(self) -> &'static str {
        match self {
            ShmemModel::Ivshmem => "ivshmem",
            ShmemModel::Plain => "ivshmem-plain",
            ShmemModel::Doorbell => "ivshmem-doorbell",
        }
    }
}
