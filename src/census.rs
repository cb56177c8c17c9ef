//! What a plan's devices hold, gathered in one pass, so that the checks
//! after assignment (§6.4–6.5) that cannot apply skip their own passes over
//! the device list. The census decides only whether a check runs, never its
//! outcome: a check that runs sees the whole plan, as before.

use crate::device::{
    ControllerKind, Device, DeviceAddress, DeviceKind, DiskBus, InputBus, NicModel, SerialTarget,
    SoundModel,
};

/// One pass over the device list (see the module docs).
#[derive(Debug, Default)]
pub(crate) struct Census {
    /// Positions of the devices the per-device checks may refuse: a kind
    /// with a check, a spapr-vio bus id or a non-PCI address type.
    pub(crate) checked: Vec<usize>,
    /// Positions of the PCI controllers.
    pub(crate) pci_controllers: Vec<usize>,
    /// Positions of the USB controllers.
    pub(crate) usb_controllers: Vec<usize>,
    /// A USB controller without a model is there.
    pub(crate) usb_without_model: bool,
    /// A device that needs a USB bus is there.
    pub(crate) usb_devices: bool,
    /// A console is there.
    pub(crate) consoles: bool,
    /// Disks with a drive address.
    pub(crate) drives: usize,
    /// Videos.
    pub(crate) videos: usize,
    /// An IDE controller is there.
    pub(crate) ide_controllers: bool,
    /// A device has zPCI ids.
    pub(crate) zpci: bool,
}

impl Census {
    /// The census of `devices`.
    pub(crate) fn of(devices: &[Device]) -> Census {
        let mut c = Census::default();
        for (i, d) in devices.iter().enumerate() {
            let generic = d.bus_id.is_some() || matches!(d.address, DeviceAddress::Other(_));
            c.zpci |= d.zpci.is_some();
            if c.note(i, d) || generic {
                c.checked.push(i);
            }
        }
        c
    }

    /// Notes device `d` at position `i`; true when its kind has a check of
    /// its own in the per-device checks.
    fn note(&mut self, i: usize, d: &Device) -> bool {
        match &d.kind {
            DeviceKind::Controller(ctl) => match &ctl.kind {
                ControllerKind::Pci(_) => {
                    self.pci_controllers.push(i);
                    false
                }
                ControllerKind::Usb(m) => {
                    self.usb_controllers.push(i);
                    self.usb_without_model |= m.is_none();
                    false
                }
                ControllerKind::Ide => {
                    self.ide_controllers = true;
                    true
                }
                ControllerKind::Scsi(_) => true,
                ControllerKind::Fdc
                | ControllerKind::Sata
                | ControllerKind::VirtioSerial(_)
                | ControllerKind::Ccid
                | ControllerKind::Xenbus
                | ControllerKind::Isa => false,
            },
            DeviceKind::Disk { bus, .. } => {
                self.drives += usize::from(d.drive.is_some());
                self.usb_devices |= *bus == DiskBus::Usb;
                true
            }
            DeviceKind::Input { bus, .. } => {
                self.usb_devices |= *bus == InputBus::Usb;
                true
            }
            DeviceKind::Sound(m) => {
                self.usb_devices |= *m == SoundModel::Usb;
                false
            }
            DeviceKind::Interface { model, .. } => {
                self.usb_devices |= matches!(model, Some(NicModel::UsbNet));
                false
            }
            DeviceKind::Serial(t) => {
                self.usb_devices |= *t == SerialTarget::Usb;
                true
            }
            DeviceKind::Hub | DeviceKind::Redirdev => {
                self.usb_devices = true;
                false
            }
            DeviceKind::Console(_) => {
                self.consoles = true;
                false
            }
            DeviceKind::Video(_) => {
                self.videos += 1;
                true
            }
            DeviceKind::Hostdev(_)
            | DeviceKind::Iommu(_)
            | DeviceKind::Shmem(_)
            | DeviceKind::Smartcard
            | DeviceKind::Watchdog(_) => true,
            DeviceKind::Parallel
            | DeviceKind::Channel(_)
            | DeviceKind::Filesystem { .. }
            | DeviceKind::Memballoon(_)
            | DeviceKind::Rng(_)
            | DeviceKind::Nvram
            | DeviceKind::Tpm { .. }
            | DeviceKind::Panic
            | DeviceKind::Memory(_)
            | DeviceKind::Vsock(_) => false,
        }
    }
}
