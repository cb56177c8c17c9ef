//! The connect-flags calculator (spec §3): one exhaustive `match` from a
//! device to the PCI connection flags it needs.

use super::{
    BalloonModel, ChannelTarget, ConsoleTarget, ControllerKind, DeviceAddress, DeviceKind, DiskBus,
    FsDriver, HostdevSource, InputBus, IommuModel, MemoryModel, NicModel, ScsiModel, SerialTarget,
    SoundModel, UsbModel, VideoModel, VirtioModel, WatchdogModel,
};
use crate::caps::Capabilities;
use crate::controller::ControllerModel;
use crate::flags::ConnectFlags;
use crate::machine::HostPci;

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
            | HostdevSource::MdevVfioCcw
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
        HostdevSource::MdevVfioPci | HostdevSource::MdevVfioCcw | HostdevSource::MdevOther => {
            ctx.e()
        }
        HostdevSource::ScsiHost(m) => ctx.virtio_rule(*m),
        HostdevSource::Pci(host) => match host.and_then(|h| ctx.host.is_pcie(h)) {
            Some(false) => ctx.p(),
            Some(true) | None => ctx.e(),
        },
        HostdevSource::Scsi(_) | HostdevSource::Other => ConnectFlags::empty(),
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
        DeviceKind::Shmem(_) => ctx.p(),
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
        | DeviceKind::Tpm { .. }
        | DeviceKind::Panic
        | DeviceKind::Redirdev => none,
    }
}
