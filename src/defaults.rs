//! libvirt's post-parse steps that change PCI placement (spec §4.2, §5.14),
//! the checks that run before assignment (§6.2) and the validation after it
//! (§6.4–6.5). Every step is idempotent, so planning a planned result
//! changes nothing.

use std::collections::BTreeSet;

use crate::census::Census;
use crate::controller::{ControllerModel, model_name_capability};
use crate::device::{
    BalloonModel, ChannelTarget, ConsoleTarget, Controller, ControllerKind, Device, DeviceAddress,
    DeviceKind, DiskBus, HostdevSource, InputBus, IommuModel, NicModel, ScsiModel, SerialTarget,
    UsbModel, VideoModel, VirtioModel, WatchdogModel,
};
use crate::error::{ConfigError, Error};
use crate::machine::{DefaultUsb, Profile};
use crate::plan::Plan;

/// Highest controller index an implied drive controller is added for.
/// libvirt adds every controller up to the one a drive address names
/// (rule 38); from about 1,000 on they no longer fit a machine's PCI slots
/// and libvirt fails with "a PCI slot is needed ... pci-bridge" (live
/// libvirt 9.0 at 1,000 and 9,000, in 0.1 s and 1.2 s; far beyond, it takes
/// minutes). Adding up to 4,096 gives that same answer in bounded time.
const MAX_IMPLIED_INDEX: u32 = 4_096;

fn cfg(reason: ConfigError, device: Option<&Device>) -> Error {
    Error::Config {
        device: device.map(ToString::to_string),
        reason,
    }
}

fn controller(kind: ControllerKind, index: u32) -> Device {
    Device::new(DeviceKind::Controller(Controller {
        kind,
        index: Some(index),
        companion: false,
    }))
}

impl Plan {
    /// The post-parse steps, in libvirt's order.
    pub(crate) fn apply_defaults(&mut self) -> Result<(), Error> {
        self.check_usb_disabled()?;
        // Devices that take no PCI address (a disabled USB controller, a
        // `none` balloon or video, a hub, a DIMM, a virtio channel): libvirt
        // drops a PCI address given to them, so the slot stays free and no
        // bus is added for it (rule 32).
        for i in 0..self.devices.len() {
            let drop_address = self.devices.get(i).is_some_and(|d| {
                takes_no_pci_address(&d.kind) && matches!(d.address, DeviceAddress::Pci(_))
            });
            if drop_address {
                self.set_address(i, DeviceAddress::None);
            }
        }
        // While parsing: SCSI controllers for SCSI host devices (those
        // without a drive address count as controller 0), then indexes.
        self.add_hostdev_scsi_controllers();
        self.assign_controller_indexes();
        // Post-parse: machine defaults, per-device defaults (drive addresses
        // of SCSI host devices, models), then implied controllers and
        // devices, whose models are defaulted in turn.
        self.add_machine_devices()?;
        self.assign_scsi_hostdev_drives();
        self.set_default_models()?;
        let before = self.devices.len();
        self.add_implied_controllers();
        self.add_hostdev_scsi_controllers();
        self.add_implied_video();
        // Defaults are idempotent and the steps above only add devices: when
        // they added none, a second pass would change nothing.
        if self.devices.len() != before {
            self.set_default_models()?;
        }
        Ok(())
    }

    /// SCSI host devices without a drive address get the first free unit:
    /// bus 0, target 0, units 0–6 on each controller from controller 0 up,
    /// skipping units that SCSI disks and other host devices use.
    fn assign_scsi_hostdev_drives(&mut self) {
        const UNITS: u32 = 7;
        let wants = |d: &Device| matches!(d.kind, DeviceKind::Hostdev(HostdevSource::Scsi(None)));
        if !self.devices.iter().any(wants) {
            return;
        }
        let mut used: BTreeSet<(u32, u32)> = self
            .devices
            .iter()
            .filter_map(|d| match &d.kind {
                DeviceKind::Disk {
                    bus: DiskBus::Scsi,
                    drive_controller,
                    ..
                } => {
                    let idx = crate::plan::disk_name_index(&d.label)?;
                    Some((drive_controller.unwrap_or(idx / UNITS), idx % UNITS))
                }
                DeviceKind::Hostdev(HostdevSource::Scsi(Some(cu))) => Some(*cu),
                _ => None,
            })
            .collect();
        for i in 0..self.devices.len() {
            let wants = self
                .devices
                .get(i)
                .is_some_and(|d| matches!(d.kind, DeviceKind::Hostdev(HostdevSource::Scsi(None))));
            if !wants {
                continue;
            }
            let Some(DeviceKind::Hostdev(HostdevSource::Scsi(drive @ None))) = self.edit_kind(i)
            else {
                continue;
            };
            let free = (0..=u32::from(u8::MAX))
                .flat_map(|c| (0..UNITS).map(move |u| (c, u)))
                .find(|cu| !used.contains(cu));
            if let Some(cu) = free {
                used.insert(cu);
                *drive = Some(cu);
            }
        }
    }

    /// SCSI controllers 0 up to the highest one a SCSI host device names are
    /// added when missing, with the model of the controller named by the
    /// host device that raised the highest index (when that one exists and
    /// has a model). Host devices without a drive address count as
    /// controller 0. libvirt does this once while parsing and once more
    /// after drive addresses are assigned.
    fn add_hostdev_scsi_controllers(&mut self) {
        let mut max: Option<u32> = None;
        let mut model: Option<ScsiModel> = None;
        for d in &self.devices {
            let DeviceKind::Hostdev(HostdevSource::Scsi(drive)) = &d.kind else {
                continue;
            };
            let c = drive.map_or(0, |(c, _)| c);
            if max.is_none_or(|m| c > m) {
                max = Some(c);
                let named = self.devices.iter().find_map(|o| match &o.kind {
                    DeviceKind::Controller(Controller {
                        kind: ControllerKind::Scsi(m),
                        index: Some(i),
                        ..
                    }) if *i == c => Some(*m),
                    _ => None,
                });
                if let Some(Some(m)) = named {
                    model = Some(m);
                }
            }
        }
        let Some(max) = max else { return };
        let have = self.controller_indexes("scsi");
        for c in 0..=max.min(MAX_IMPLIED_INDEX) {
            if !have.contains(&c) {
                self.add_implied_controller(controller(ControllerKind::Scsi(model), c));
            }
        }
    }

    /// §5.14 step 2: controllers without index get the lowest unused one.
    fn assign_controller_indexes(&mut self) {
        let positions: Vec<usize> = self.controller_positions().collect();
        for (k, &pos) in positions.iter().enumerate() {
            let Some(c) = self.devices.get(pos).and_then(|d| d.kind.controller()) else {
                continue;
            };
            if c.index.is_some() {
                continue;
            }
            let ty = c.kind.type_name();
            let mut chosen = None;
            if Plan::is_usb2(c) {
                let prev = positions
                    .get(..k)
                    .unwrap_or(&[])
                    .iter()
                    .rev()
                    .filter_map(|&p| self.devices.get(p).and_then(|d| d.kind.controller()))
                    .find(|pc| pc.kind.type_name() == "usb");
                if let Some(prev) = prev
                    && Plan::is_usb2(prev)
                {
                    let same_model_has_it = positions.iter().any(|&p| {
                        self.devices
                            .get(p)
                            .and_then(|d| d.kind.controller())
                            .is_some_and(|o| o.kind == c.kind && o.index == prev.index)
                    });
                    if !same_model_has_it {
                        chosen = prev.index;
                    }
                }
            }
            let index = chosen.unwrap_or_else(|| {
                let used: BTreeSet<u32> = self
                    .devices
                    .iter()
                    .filter_map(|d| d.kind.controller())
                    .filter(|o| o.kind.type_name() == ty)
                    .filter_map(|o| o.index)
                    .collect();
                (0..).find(|i| !used.contains(i)).unwrap_or(0)
            });
            if let Some(DeviceKind::Controller(c)) = self.edit_kind(pos) {
                c.index = Some(index);
            }
        }
    }

    /// A controller implied by other devices: appended (9.0) or inserted at
    /// its place in the controller array (11.3).
    fn add_implied_controller(&mut self, d: Device) {
        if self.libvirt.sorts_added_controllers() {
            self.add_device(d);
        } else {
            self.push_device(d);
        }
    }

    /// The indexes of the controllers of one type.
    fn controller_indexes(&self, ty: &str) -> BTreeSet<u32> {
        self.devices
            .iter()
            .filter_map(|d| d.kind.controller())
            .filter(|c| c.kind.type_name() == ty)
            .filter_map(|c| c.index)
            .collect()
    }

    fn has_controller(&self, ty: &str, index: u32) -> bool {
        self.devices
            .iter()
            .filter_map(|d| d.kind.controller())
            .any(|c| c.kind.type_name() == ty && c.index == Some(index))
    }

    /// §4.2: the default USB controller, the q35 SATA controller, the root
    /// bus and the memballoon, as the machine's profile says.
    fn add_machine_devices(&mut self) -> Result<(), Error> {
        let profile = std::sync::Arc::clone(&self.profile);
        match profile.default_usb {
            DefaultUsb::None => {}
            DefaultUsb::Unset => {
                if !self.has_controller("usb", 0) {
                    self.push_device(controller(ControllerKind::Usb(None), 0));
                }
            }
            DefaultUsb::Q35 => {
                if !self.has_controller("usb", 0) {
                    self.add_q35_usb();
                }
            }
        }
        if profile.sata0 && !self.has_controller("sata", 0) {
            self.push_device(controller(ControllerKind::Sata, 0));
        }
        if profile.chipset == crate::machine::Chipset::Q35
            && self.libvirt.adds_itco_watchdog_on_q35()
            && !self
                .devices
                .iter()
                .any(|d| matches!(d.kind, DeviceKind::Watchdog(WatchdogModel::Itco)))
        {
            self.push_device(Device::new(DeviceKind::Watchdog(WatchdogModel::Itco)));
        }
        if let Some(root) = profile.root {
            match self.pci_controller(0) {
                Some(c) if c.pci_model() != Some(root) => {
                    return Err(ConfigError::RootModel {
                        expected: root.as_str(),
                        found: c
                            .pci_model()
                            .map_or("(null)".to_string(), |m| m.as_str().to_string()),
                    }
                    .into());
                }
                Some(_) => {}
                None => {
                    self.push_device(Device::new(DeviceKind::Controller(Controller::pci(
                        root, 0,
                    ))));
                }
            }
        }
        if profile.usb_inputs_for_graphics && self.has_graphics {
            let usb_input = |d: &Device, wanted: &str| {
                matches!(
                    d.kind,
                    DeviceKind::Input {
                        bus: InputBus::Usb,
                        ..
                    }
                ) && d.label == wanted
            };
            if !self.devices.iter().any(|d| usb_input(d, "keyboard")) {
                self.push_device(usb_input_device("keyboard"));
            }
            if !self
                .devices
                .iter()
                .any(|d| usb_input(d, "mouse") || usb_input(d, "tablet"))
            {
                self.push_device(usb_input_device("mouse"));
            }
        }
        if profile.memballoon
            && !self
                .devices
                .iter()
                .any(|d| matches!(d.kind, DeviceKind::Memballoon(_)))
        {
            self.push_device(Device::new(DeviceKind::Memballoon(BalloonModel::Virtio)));
        }
        Ok(())
    }

    /// q35's default USB: `qemu-xhci`, else `nec-xhci`, else the ich9 set.
    fn add_q35_usb(&mut self) {
        if self.caps.has("qemu-xhci") {
            self.push_device(controller(ControllerKind::Usb(Some(UsbModel::QemuXhci)), 0));
        } else if self.caps.has("nec-usb-xhci") {
            self.push_device(controller(ControllerKind::Usb(Some(UsbModel::NecXhci)), 0));
        } else if self.caps.has("ich9-usb-ehci1") {
            self.push_device(controller(
                ControllerKind::Usb(Some(UsbModel::Ich9Ehci1)),
                0,
            ));
            for m in [
                UsbModel::Ich9Uhci1,
                UsbModel::Ich9Uhci2,
                UsbModel::Ich9Uhci3,
            ] {
                let mut d = controller(ControllerKind::Usb(Some(m)), 0);
                if let DeviceKind::Controller(c) = &mut d.kind {
                    c.companion = true;
                }
                self.push_device(d);
            }
        }
    }

    /// Controllers implied by disks, virtio channels and consoles, and the
    /// video device implied by graphics.
    fn add_implied_controllers(&mut self) {
        // The highest drive controller of each bus, in one pass. Only disks
        // with a drive address (given, or to be assigned because they have
        // none) imply a controller.
        const BUSES: [DiskBus; 4] = [DiskBus::Scsi, DiskBus::Fdc, DiskBus::Ide, DiskBus::Sata];
        let mut max: [Option<u32>; 4] = [None; 4];
        let mut virtio_serial_users = false;
        for d in &self.devices {
            virtio_serial_users |= matches!(
                d.kind,
                DeviceKind::Channel(ChannelTarget::Virtio { .. })
                    | DeviceKind::Console(ConsoleTarget::Virtio { .. })
            );
            if let DeviceKind::Disk {
                bus,
                drive_controller,
                ..
            } = &d.kind
                && (matches!(&d.address, DeviceAddress::None)
                    | matches!(&d.address, DeviceAddress::Other(t) if t == "drive"))
                && let Some(k) = BUSES.iter().position(|b| b == bus)
                && let Some(m) = max.get_mut(k)
            {
                let c = drive_controller.unwrap_or(0);
                *m = Some(m.map_or(c, |v| v.max(c)));
            }
        }
        let kinds = [
            ControllerKind::Scsi(None),
            ControllerKind::Fdc,
            ControllerKind::Ide,
            ControllerKind::Sata,
        ];
        for (kind, max) in kinds.into_iter().zip(max) {
            if let Some(max) = max {
                let have = self.controller_indexes(kind.type_name());
                for i in 0..=max.min(MAX_IMPLIED_INDEX) {
                    if !have.contains(&i) {
                        self.add_implied_controller(controller(kind.clone(), i));
                    }
                }
            }
        }
        // Only virtio channels and consoles imply virtio-serial controllers.
        if !virtio_serial_users {
            return;
        }
        let vserial: Vec<u32> = self
            .devices
            .iter()
            .filter_map(|d| match d.kind {
                DeviceKind::Channel(ChannelTarget::Virtio { controller })
                | DeviceKind::Console(ConsoleTarget::Virtio { controller }) => Some(controller),
                _ => None,
            })
            .collect();
        // One look-up set, not a scan of the devices per channel.
        let mut have = self.controller_indexes("virtio-serial");
        for controller in vserial.into_iter().chain(self.extra_virtio_serial()) {
            if have.insert(controller) {
                self.add_implied_controller(Device::new(DeviceKind::Controller(Controller {
                    kind: ControllerKind::VirtioSerial(VirtioModel::Default),
                    index: Some(controller),
                    companion: false,
                })));
            }
        }
    }

    /// Rule 40: virtio channels without an address take ports 1–30 of the
    /// virtio-serial controllers in index order (a port each, after the
    /// channels given one on that controller); when every port is taken
    /// libvirt adds the next controller. The indexes of the controllers to
    /// add beyond those already there.
    fn extra_virtio_serial(&self) -> Vec<u32> {
        const PORTS: usize = 30;
        let mut auto = 0usize;
        let mut used: std::collections::BTreeMap<u32, usize> = std::collections::BTreeMap::new();
        for d in &self.devices {
            match (&d.kind, &d.address) {
                (DeviceKind::Channel(ChannelTarget::Virtio { .. }), DeviceAddress::None) => {
                    auto = auto.saturating_add(1);
                }
                (DeviceKind::Channel(ChannelTarget::Virtio { controller }), _) => {
                    let n = used.entry(*controller).or_default();
                    *n = n.saturating_add(1);
                }
                (
                    DeviceKind::Controller(Controller {
                        kind: ControllerKind::VirtioSerial(_),
                        index: Some(i),
                        ..
                    }),
                    _,
                ) => {
                    used.entry(*i).or_default();
                }
                _ => {}
            }
        }
        if auto == 0 {
            return Vec::new();
        }
        used.entry(0).or_default();
        let mut free: usize = used.values().map(|n| PORTS.saturating_sub(*n)).sum();
        let mut next = used.keys().next_back().map_or(0, |m| m.saturating_add(1));
        let mut extra = Vec::new();
        // Bounded by the device limit: at most one controller per 30 channels.
        while free < auto {
            extra.push(next);
            next = next.saturating_add(1);
            free = free.saturating_add(PORTS);
        }
        extra
    }

    /// A video device for graphics without one.
    fn add_implied_video(&mut self) {
        if !self.has_graphics {
            return;
        }
        let has_video = self
            .devices
            .iter()
            .any(|d| matches!(d.kind, DeviceKind::Video(_)));
        if !has_video {
            self.push_device(Device::new(DeviceKind::Video(VideoModel::Default)));
        }
    }

    /// Default models that decide flags (§4.2 table, per the machine's
    /// profile), and the spapr-vio address type that some models take
    /// (§5.1 step 2).
    fn set_default_models(&mut self) -> Result<(), Error> {
        let profile = std::sync::Arc::clone(&self.profile);
        let usb_model = match profile.usb_model_new_definition {
            Some(m) if self.new_definition => Some(m),
            _ => profile.usb_model,
        };
        for i in 0..self.devices.len() {
            let may_change = self
                .devices
                .get(i)
                .is_some_and(|d| may_take_default(d, &profile));
            if !may_change {
                continue;
            }
            if let Some(d) = self.edit_device(i) {
                default_model(d, &profile, usb_model)?;
            }
        }
        Ok(())
    }

    /// The default models libvirt's post-parse gives one device of a live
    /// attach (the same table as for a definition: a model-less NIC, SCSI
    /// controller, video, …).
    pub(crate) fn attached_defaults(&self, d: &mut Device) -> Result<(), Error> {
        if may_take_default(d, &self.profile) {
            default_model(d, &self.profile, self.profile.usb_model)?;
        }
        Ok(())
    }

    /// §6.2: checks after post-processing, before assignment.
    pub(crate) fn check_before_assign(&self) -> Result<(), Error> {
        // libvirt checks the address type of a vfio-ccw mdev while parsing.
        if let Some(d) = self.devices.iter().find(|d| {
            matches!(d.kind, DeviceKind::Hostdev(HostdevSource::MdevVfioCcw))
                && matches!(d.address, DeviceAddress::Pci(_))
        }) {
            return Err(cfg(
                ConfigError::MdevAddressType {
                    address_type: "pci".into(),
                    model: "vfio-ccw",
                },
                Some(d),
            ));
        }
        self.check_single_devices()?;
        for d in &self.devices {
            let Some(c) = d.kind.controller() else {
                continue;
            };
            let ControllerKind::Pci(p) = &c.kind else {
                continue;
            };
            let Some(model) = p.model else { continue };
            let phb = model == ControllerModel::PciRoot && self.profile.root_model_name.is_some();
            if model.is_root() && c.idx() != 0 && !phb {
                return Err(cfg(ConfigError::RootIndex, Some(d)));
            }
            if model == ControllerModel::PciExpanderBus && !self.profile.pci_expander_bus {
                return Err(cfg(ConfigError::PxbMachine, Some(d)));
            }
            if model == ControllerModel::PcieExpanderBus && !self.profile.pcie_expander_bus {
                return Err(cfg(ConfigError::PxbPcieMachine, Some(d)));
            }
            if let Some(node) = p.target.node
                && node >= self.numa_cells
            {
                return Err(cfg(
                    ConfigError::NumaNode {
                        model: model.as_str(),
                        index: c.idx(),
                        node,
                        cells: self.numa_cells,
                    },
                    Some(d),
                ));
            }
        }
        let mut hosts = BTreeSet::new();
        for d in &self.devices {
            let src = match &d.kind {
                DeviceKind::Hostdev(HostdevSource::Pci(Some(a)))
                | DeviceKind::Interface {
                    hostdev: Some(HostdevSource::Pci(Some(a))),
                    ..
                } => a,
                _ => continue,
            };
            if !hosts.insert(src.key()) {
                return Err(cfg(ConfigError::HostdevDuplicate, Some(d)));
            }
        }
        // PCI controllers below 256 (nearly all controllers of a big plan)
        // in a bitmap, the rest in a set.
        let mut seen_pci = [0u64; 4];
        let mut seen: BTreeSet<(&str, u32)> = BTreeSet::new();
        for d in &self.devices {
            let Some(c) = d.kind.controller() else {
                continue;
            };
            if matches!(c.kind, ControllerKind::Usb(_)) {
                continue;
            }
            let index = c.idx();
            let fresh = match seen_pci.get_mut(usize::try_from(index / 64).unwrap_or(usize::MAX)) {
                Some(word) if matches!(c.kind, ControllerKind::Pci(_)) => {
                    let bit = 1u64 << (index % 64);
                    let fresh = *word & bit == 0;
                    *word |= bit;
                    fresh
                }
                _ => seen.insert((c.kind.type_name(), index)),
            };
            if !fresh {
                return Err(cfg(
                    ConfigError::DuplicateIndex {
                        controller_type: c.kind.type_name(),
                        index: c.idx(),
                    },
                    Some(d),
                ));
            }
        }
        Ok(())
    }

    /// USB devices need a USB controller that is not `none` (arm and riscv
    /// add none by default; pSeries adds USB input devices for graphics).
    fn check_usb_devices_need_usb(&self, census: &Census) -> Result<(), Error> {
        if !census.usb_devices {
            return Ok(());
        }
        let usable = self
            .usb_controllers_at(&census.usb_controllers)
            .iter()
            .any(|(_, _, m)| *m != Some(UsbModel::None));
        if usable {
            return Ok(());
        }
        let usb_device = self.devices.iter().find(|d| match &d.kind {
            DeviceKind::Disk { bus, .. } => *bus == DiskBus::Usb,
            DeviceKind::Input { bus, .. } => *bus == InputBus::Usb,
            DeviceKind::Sound(m) => *m == crate::device::SoundModel::Usb,
            DeviceKind::Interface { model, .. } => *model == Some(NicModel::UsbNet),
            DeviceKind::Serial(t) => *t == SerialTarget::Usb,
            DeviceKind::Hub | DeviceKind::Redirdev => true,
            _ => false,
        });
        match usb_device {
            Some(d) => Err(cfg(ConfigError::UsbDisabledDevices, Some(d))),
            None => Ok(()),
        }
    }

    /// Devices a domain may have only one of.
    fn check_single_devices(&self) -> Result<(), Error> {
        let mut watchdogs = self
            .devices
            .iter()
            .filter(|d| matches!(d.kind, DeviceKind::Watchdog(_)));
        if self.libvirt.allows_several_watchdogs() {
            return Ok(());
        }
        if let (Some(_), Some(second)) = (watchdogs.next(), watchdogs.next()) {
            return Err(cfg(ConfigError::SingleWatchdog, Some(second)));
        }
        Ok(())
    }

    /// The USB controllers with their models, in array order.
    fn usb_controllers(&self) -> Vec<(&Device, &Controller, Option<UsbModel>)> {
        self.devices.iter().filter_map(usb_controller).collect()
    }

    /// [`Plan::usb_controllers`] from the USB controllers' positions.
    fn usb_controllers_at(&self, at: &[usize]) -> Vec<(&Device, &Controller, Option<UsbModel>)> {
        at.iter()
            .filter_map(|&i| self.devices.get(i))
            .filter_map(usb_controller)
            .collect()
    }

    /// `model='none'` USB with another USB controller or a USB input:
    /// libvirt rejects these while parsing, before any other check.
    pub(crate) fn check_usb_disabled(&self) -> Result<(), Error> {
        let usb = self.usb_controllers();
        let disabled = usb.iter().any(|(_, _, m)| *m == Some(UsbModel::None));
        if disabled {
            if let Some((d, _, _)) = usb.iter().find(|(_, _, m)| *m != Some(UsbModel::None)) {
                return Err(cfg(ConfigError::UsbDisabledController, Some(d)));
            }
            if let Some(d) = self.devices.iter().find(|d| {
                matches!(
                    d.kind,
                    DeviceKind::Input {
                        bus: InputBus::Usb,
                        ..
                    }
                )
            }) {
                return Err(cfg(ConfigError::UsbDisabledInput, Some(d)));
            }
        }
        Ok(())
    }

    /// USB rules checked before assignment: duplicates and companions
    /// without a master.
    fn check_usb(&self, census: &Census) -> Result<(), Error> {
        let usb = self.usb_controllers_at(&census.usb_controllers);
        for (k, (d, c, _)) in usb.iter().enumerate() {
            let clash = usb
                .get(..k)
                .unwrap_or_default()
                .iter()
                .any(|(_, o, _)| o.index == c.index && !(Plan::is_usb2(c) && Plan::is_usb2(o)));
            if clash {
                return Err(cfg(
                    ConfigError::DuplicateUsb {
                        index: c.index.unwrap_or(0),
                    },
                    Some(d),
                ));
            }
        }
        for (d, c, m) in &usb {
            let companion = m.is_some_and(UsbModel::is_ich9_companion);
            let has_master = usb.iter().any(|(_, o, om)| {
                o.index == c.index && !om.is_some_and(UsbModel::is_ich9_companion)
            });
            if companion && !has_master {
                return Err(cfg(ConfigError::UsbNoMaster, Some(d)));
            }
        }
        Ok(())
    }

    /// Secondary videos must be qxl or virtio; a `none` video must be alone.
    fn validate_videos(&self, census: &Census) -> Result<(), Error> {
        if census.videos < 2 {
            return Ok(());
        }
        let videos: Vec<(&Device, VideoModel)> = self
            .devices
            .iter()
            .filter_map(|d| match d.kind {
                DeviceKind::Video(m) => Some((d, m)),
                _ => None,
            })
            .collect();
        if videos.len() > 1 {
            if let Some((d, _)) = videos.iter().find(|(_, m)| *m == VideoModel::None) {
                return Err(cfg(ConfigError::VideoNoneNotAlone, Some(d)));
            }
            for (d, m) in videos.iter().skip(1) {
                if !matches!(m, VideoModel::Qxl | VideoModel::Virtio) {
                    return Err(cfg(
                        ConfigError::VideoNotPrimary { model: m.as_str() },
                        Some(d),
                    ));
                }
            }
        }
        Ok(())
    }

    /// §6.4–6.5: validation after assignment.
    pub(crate) fn validate_after_assign(&self) -> Result<(), Error> {
        // One pass says which checks can apply; those run as before.
        let census = Census::of(&self.devices);
        self.check_usb_devices_need_usb(&census)?;
        for d in census
            .pci_controllers
            .iter()
            .filter_map(|&i| self.devices.get(i))
        {
            if let Some(c) = d.kind.controller()
                && !self.pci_controller_surely_valid(c)
            {
                self.validate_pci_controller(d, c)?;
            }
        }
        // The first failure in iteration order is the one reported; when
        // every device passes (the usual case), list order finds that out
        // without sorting. Devices the census did not mark pass.
        let device_ok = |d: &Device| {
            self.validate_device_address(d).is_ok() && self.validate_device_model(d).is_ok()
        };
        let all_ok = census
            .checked
            .iter()
            .filter_map(|&i| self.devices.get(i))
            .all(device_ok);
        if !all_ok {
            for i in self.iteration_order() {
                if let Some(d) = self.devices.get(i) {
                    self.validate_device_address(d)?;
                    self.validate_device_model(d)?;
                }
            }
        }
        if census.consoles {
            self.check_console_serial_address()?;
        }
        if census.drives > 1 {
            self.check_duplicate_drives()?;
        }
        self.validate_videos(&census)?;
        if !self.profile.ide
            && census.ide_controllers
            && let Some(d) = self.devices.iter().find(|d| {
                matches!(
                    d.kind,
                    DeviceKind::Controller(Controller {
                        kind: ControllerKind::Ide,
                        ..
                    })
                )
            })
        {
            return Err(cfg(ConfigError::IdeUnsupported, Some(d)));
        }
        if census.zpci {
            self.check_zpci()?;
        }
        // QEMU has no legacy USB controller on q35: a USB controller whose
        // model stayed unset cannot be started (libvirt reports it when
        // building the command line).
        if self.profile.usb_model_required
            && census.usb_without_model
            && let Some(d) = self.devices.iter().find(|d| {
                matches!(
                    d.kind,
                    DeviceKind::Controller(Controller {
                        kind: ControllerKind::Usb(None),
                        ..
                    })
                )
            })
        {
            return Err(cfg(ConfigError::UsbNoModel, Some(d)));
        }
        // USB index rules (duplicates: validation; a companion without its
        // master: command-line building) come after assignment.
        self.check_usb(&census)?;
        Ok(())
    }

    /// zPCI ids need QEMU's zpci device, and a uid in range.
    fn check_zpci(&self) -> Result<(), Error> {
        if !self.caps.has("zpci")
            && let Some(d) = self
                .devices
                .iter()
                .find(|d| d.zpci.is_some_and(|z| z.is_given()))
        {
            return Err(cfg(ConfigError::ZpciUnsupported, Some(d)));
        }
        if let Some((d, uid)) = self.devices.iter().find_map(|d| {
            let uid = d.zpci.and_then(|z| z.uid)?;
            (uid == 0 || uid > 0xFFFF).then_some((d, uid))
        }) {
            return Err(cfg(ConfigError::ZpciUid { uid }, Some(d)));
        }
        Ok(())
    }

    /// The checks libvirt's device validation runs on one device given to a
    /// live attach, before anything is placed: the device-model checks and,
    /// for a PCI controller, the controller checks (§6.4–6.5).
    pub(crate) fn validate_attached(&self, d: &Device) -> Result<(), Error> {
        self.validate_device_model(d)?;
        if let DeviceKind::Controller(c) = &d.kind {
            self.validate_pci_controller(d, c)?;
        }
        Ok(())
    }

    /// True when [`Plan::validate_pci_controller`] surely passes: a root
    /// port or bridge with its index, target values and model name as the
    /// defaults fill them in (what assignment adds in bulk). False says
    /// nothing: the checks then run.
    #[inline]
    fn pci_controller_surely_valid(&self, c: &Controller) -> bool {
        let ControllerKind::Pci(p) = &c.kind else {
            return false;
        };
        let t = &p.target;
        let byte = |v: Option<u32>| v.is_some_and(|v| v <= 255);
        let plain = matches!(c.index, Some(1..=255))
            && t.bus_nr.is_none()
            && t.index.is_none()
            && t.node.is_none()
            && t.hotplug.is_none()
            && !p.pcihole64;
        // The model's own name, whose QEMU device is there.
        let named = |model: ControllerModel| {
            p.model_name.as_deref().is_some_and(|n| {
                model.accepts_model_name(n)
                    && model_name_capability(n).is_none_or(|cap| self.caps.has(cap))
            })
        };
        plain
            && match p.model {
                Some(m @ ControllerModel::PcieRootPort) => {
                    t.chassis_nr.is_none() && byte(t.chassis) && byte(t.port) && named(m)
                }
                Some(m @ ControllerModel::PciBridge) => {
                    t.chassis_nr.is_some_and(|v| (1..=255).contains(&v))
                        && t.chassis.is_none()
                        && t.port.is_none()
                        && named(m)
                }
                _ => false,
            }
    }

    fn validate_pci_controller(&self, d: &Device, c: &Controller) -> Result<(), Error> {
        let ControllerKind::Pci(p) = &c.kind else {
            return Ok(());
        };
        let index = c.idx();
        let t = &p.target;
        let err = |r| Err(cfg(r, Some(d)));
        let Some(model) = p.model else { return Ok(()) };
        // Generic checks.
        if model.is_root() && d.address != DeviceAddress::None {
            return err(ConfigError::RootAddress);
        }
        if index > 255 {
            return err(ConfigError::IndexTooHigh { index });
        }
        let range = |option, value: Option<u32>, lo: u32, hi: u32, text| match value {
            Some(v) if v < lo || v > hi => Err(cfg(
                ConfigError::TargetRange {
                    option,
                    value: v,
                    range: text,
                },
                Some(d),
            )),
            _ => Ok(()),
        };
        range("chassisNr", t.chassis_nr, 1, 255, "1-255")?;
        range("chassis", t.chassis, 0, 255, "0-255")?;
        range("port", t.port, 0, 255, "0-255")?;
        range("busNr", t.bus_nr, 1, 254, "1-254")?;
        // A PHB: a pSeries pci-root, named or not yet named.
        let phb = model == ControllerModel::PciRoot
            && self.profile.root_model_name.is_some()
            && p.model_name
                .as_deref()
                .is_none_or(|n| Some(n) == self.profile.root_model_name);
        if phb && let Some(ti) = t.index {
            if ti > 30 {
                return err(ConfigError::TargetIndexRange { value: ti });
            }
            if (ti == 0) != (index == 0) {
                return err(ConfigError::TargetIndexZero);
            }
        }
        if index == 0 && t.node.is_some() {
            return err(ConfigError::NodeOnIndexZero);
        }
        // QEMU checks.
        // The model name for messages, made only when one is needed.
        let name = || p.model_name.as_deref().unwrap_or("none").to_string();
        let m = model.as_str();
        let invalid = |option| {
            Err(cfg(
                ConfigError::OptionInvalid {
                    option,
                    index,
                    model: m,
                    name: name(),
                },
                Some(d),
            ))
        };
        let required = |option| {
            Err(cfg(
                ConfigError::OptionRequired {
                    option,
                    index,
                    model: m,
                    name: name(),
                },
                Some(d),
            ))
        };
        match (&p.model_name, model.is_root()) {
            (None, false) => return required("modelName"),
            (None, true) if phb => return required("modelName"),
            (Some(_), true) if !phb => return invalid("modelName"),
            (Some(n), false) if !model.accepts_model_name(n) => {
                return err(ConfigError::ModelNameInvalid {
                    index,
                    model: m,
                    name: n.to_string(),
                });
            }
            _ => {}
        }
        if !model.is_root() && index == 0 {
            return err(ConfigError::IndexMustBePositive { model: m });
        }
        if model.is_root() && index != 0 && !phb {
            return err(ConfigError::IndexMustBeZero { model: m });
        }
        match (phb, t.index.is_some()) {
            (true, false) => return required("targetIndex"),
            (false, true) => return invalid("targetIndex"),
            _ => {}
        }
        if p.pcihole64 {
            if !model.is_root() {
                return invalid("pcihole64");
            }
            let ok = self.profile.pcihole64_root == Some(model);
            if !ok {
                return err(ConfigError::Pcihole64Machine {
                    machine: self.machine.name().to_string(),
                });
            }
        }
        let expander = matches!(
            model,
            ControllerModel::PciExpanderBus | ControllerModel::PcieExpanderBus
        );
        match (expander, t.bus_nr.is_some()) {
            (true, false) => return required("busNr"),
            (false, true) => return invalid("busNr"),
            _ => {}
        }
        if t.node.is_some() && !expander && !phb {
            return invalid("numaNode");
        }
        let bridge = model == ControllerModel::PciBridge;
        match (bridge, t.chassis_nr.is_some()) {
            (true, false) => return required("chassisNr"),
            (false, true) => return invalid("chassisNr"),
            _ => {}
        }
        let port = matches!(
            model,
            ControllerModel::PcieRootPort | ControllerModel::PcieSwitchDownstreamPort
        );
        for (option, v) in [("chassis", t.chassis), ("port", t.port)] {
            match (port, v.is_some()) {
                (true, false) => return required(option),
                (false, true) => return invalid(option),
                _ => {}
            }
        }
        if t.hotplug.is_some() {
            match model {
                ControllerModel::PciRoot => {
                    if !self.caps.has("piix4.acpi-root-pci-hotplug") {
                        return err(ConfigError::HotplugUnsupported {
                            name: "pci-root".into(),
                        });
                    }
                }
                ControllerModel::PcieRootPort | ControllerModel::PcieSwitchDownstreamPort => {
                    if !self.caps.has("pcie-root-port.hotplug") {
                        return err(ConfigError::HotplugUnsupported { name: name() });
                    }
                }
                _ => return invalid("hotplug"),
            }
        }
        if let Some(n) = &p.model_name
            && let Some(cap) = model_name_capability(n)
            && !self.caps.has(cap)
        {
            return err(ConfigError::DeviceUnsupported {
                name: n.to_string(),
            });
        }
        Ok(())
    }

    /// Device checks outside PCI that decide whether libvirt accepts the
    /// domain: CCW addresses off s390, IDE drive addresses, a second IDE
    /// controller and SCSI models QEMU has no device for (see
    /// `docs/libvirt-rules.md`).
    #[inline(always)]
    fn validate_device_model(&self, d: &Device) -> Result<(), Error> {
        let err = |r| Err(cfg(r, Some(d)));
        if let Some(crate::device::BusId::SpaprVio { reg }) = d.bus_id
            && reg > 0xFFFF_FFFF
        {
            return err(ConfigError::SpaprVioRegRange { reg });
        }
        if matches!(&d.address, DeviceAddress::Other(t) if t == "ccw")
            && !self.machine.is_s390_ccw()
        {
            return err(ConfigError::CcwMachine {
                machine: self.machine.name().to_string(),
            });
        }
        match &d.kind {
            DeviceKind::Disk {
                bus: DiskBus::Ide, ..
            } if self.profile.ide => match d.drive {
                Some(drive) if drive.controller >= 1 => err(ConfigError::IdeSecondController),
                Some(drive) if drive.target != 0 => err(ConfigError::DriveTarget { bus: "ide" }),
                _ => Ok(()),
            },
            DeviceKind::Controller(Controller {
                kind: ControllerKind::Ide,
                index: Some(i),
                ..
            }) if self.profile.ide && *i >= 1 => err(ConfigError::IdeSingleController),
            DeviceKind::Controller(Controller {
                kind: ControllerKind::Scsi(Some(ScsiModel::Buslogic)),
                ..
            }) => err(ConfigError::ControllerModelUnsupported { model: "buslogic" }),
            DeviceKind::Watchdog(WatchdogModel::Ib700)
                if self.profile.chipset == crate::machine::Chipset::Q35 =>
            {
                err(ConfigError::WatchdogMachine { model: "ib700" })
            }
            DeviceKind::Watchdog(WatchdogModel::Itco)
                if self.profile.chipset != crate::machine::Chipset::Q35 =>
            {
                err(ConfigError::ItcoNotQ35)
            }
            DeviceKind::Shmem(m) if !self.caps.has(m.as_str()) => {
                err(ConfigError::ShmemUnsupported { model: m.as_str() })
            }
            _ => Ok(()),
        }
    }

    /// A serial console without a serial port becomes the first serial
    /// port, address and all (libvirt's console compatibility step): on x86
    /// an isa-serial one, which takes no PCI address (rule 36).
    fn check_console_serial_address(&self) -> Result<(), Error> {
        if !self.machine.arch().is_x86() {
            return Ok(());
        }
        // One pass: any serial port ends the check; else the first console.
        let mut first = None;
        for d in &self.devices {
            match d.kind {
                DeviceKind::Serial(_) => return Ok(()),
                DeviceKind::Console(_) if first.is_none() => first = Some(d),
                _ => {}
            }
        }
        match first {
            Some(d)
                if matches!(d.kind, DeviceKind::Console(ConsoleTarget::Serial))
                    && matches!(d.address, DeviceAddress::Pci(_)) =>
            {
                Err(cfg(
                    ConfigError::SerialAddressType {
                        target: "isa-serial",
                        address_type: "isa",
                    },
                    Some(d),
                ))
            }
            _ => Ok(()),
        }
    }

    /// Two disks on one drive address (domain validation, after the
    /// device checks).
    fn check_duplicate_drives(&self) -> Result<(), Error> {
        let disks: Vec<(&Device, DiskBus, crate::device::Drive)> = self
            .devices
            .iter()
            .filter_map(|d| match (&d.kind, d.drive) {
                (DeviceKind::Disk { bus, .. }, Some(drive)) => Some((d, *bus, drive)),
                _ => None,
            })
            .collect();
        // The first disk that a later one clashes with: the earliest first
        // occurrence among the repeated (bus kind, drive) pairs. One pass,
        // not a comparison of every pair.
        let mut first: std::collections::HashMap<(u8, crate::device::Drive), usize> =
            std::collections::HashMap::with_capacity(disks.len());
        let mut clash: Option<usize> = None;
        for (k, (_, bus, drive)) in disks.iter().enumerate() {
            let at = *first.entry((drive_bus_kind(*bus), *drive)).or_insert(k);
            if at != k {
                clash = Some(clash.map_or(at, |c| c.min(at)));
            }
        }
        match clash.and_then(|k| disks.get(k)) {
            Some((d, _, drive)) => Err(cfg(
                ConfigError::DuplicateDrive {
                    dev: d.label.clone(),
                    drive: drive.to_string(),
                },
                Some(d),
            )),
            None => Ok(()),
        }
    }

    /// §6.5: address types a device may not have.
    #[inline(always)]
    fn validate_device_address(&self, d: &Device) -> Result<(), Error> {
        let pci = matches!(d.address, DeviceAddress::Pci(_));
        let err = |r| Err(cfg(r, Some(d)));
        match &d.kind {
            DeviceKind::Disk { bus, .. } if pci => {
                let name = match bus {
                    DiskBus::Ide => "ide",
                    DiskBus::Sata => "sata",
                    DiskBus::Scsi => "scsi",
                    DiskBus::Fdc => "fdc",
                    DiskBus::Usb => return err(ConfigError::UsbDiskAddress),
                    _ => return Ok(()),
                };
                err(ConfigError::DiskAddressType {
                    address_type: "pci".into(),
                    dev: d.label.clone(),
                    bus: name.into(),
                })
            }
            DeviceKind::Hostdev(HostdevSource::MdevVfioPci)
                if !pci && d.address != DeviceAddress::None =>
            {
                err(ConfigError::MdevAddressType {
                    address_type: d.address.type_name().to_string(),
                    model: "vfio-pci",
                })
            }
            DeviceKind::Video(VideoModel::Ramfb) if d.address != DeviceAddress::None => {
                err(ConfigError::RamfbAddress)
            }
            DeviceKind::Iommu(IommuModel::Virtio) if !pci => {
                err(ConfigError::IommuNeedsPci { model: "virtio" })
            }
            DeviceKind::Shmem(_) if !pci && d.address != DeviceAddress::None => {
                err(ConfigError::ShmemAddress)
            }
            DeviceKind::Input {
                bus: InputBus::Virtio,
                model: VirtioModel::Transitional | VirtioModel::NonTransitional,
            } => err(ConfigError::InputVirtioModel {
                input_type: d.label.clone(),
            }),
            // Rule 36: device kinds bound to one address type.
            DeviceKind::Smartcard
                if !matches!(&d.address, DeviceAddress::None)
                    && !matches!(&d.address, DeviceAddress::Other(t) if t == "ccid") =>
            {
                err(ConfigError::SmartcardAddressType)
            }
            DeviceKind::Watchdog(
                m @ (WatchdogModel::Ib700 | WatchdogModel::Itco | WatchdogModel::Diag288),
            ) if d.address != DeviceAddress::None => {
                let model = match m {
                    WatchdogModel::Ib700 => "ib700",
                    WatchdogModel::Itco => "itco",
                    _ => "diag288",
                };
                err(ConfigError::WatchdogAddress { model })
            }
            DeviceKind::Watchdog(WatchdogModel::I6300esb)
                if !pci && d.address != DeviceAddress::None =>
            {
                err(ConfigError::WatchdogPciOnly { model: "i6300esb" })
            }
            DeviceKind::Serial(t) => {
                let (target, wanted) = match t {
                    SerialTarget::Isa => ("isa-serial", "isa"),
                    SerialTarget::Usb => ("usb-serial", "usb"),
                    SerialTarget::Pci => ("pci-serial", "pci"),
                    _ => return Ok(()),
                };
                if d.address == DeviceAddress::None || d.address.type_name() == wanted {
                    return Ok(());
                }
                err(ConfigError::SerialAddressType {
                    target,
                    address_type: wanted,
                })
            }
            _ => Ok(()),
        }
    }
}

/// Devices whose PCI address libvirt drops (rule 32).
fn takes_no_pci_address(kind: &DeviceKind) -> bool {
    matches!(
        kind,
        DeviceKind::Controller(Controller {
            kind: ControllerKind::Usb(Some(UsbModel::None)),
            ..
        }) | DeviceKind::Memballoon(BalloonModel::None)
            | DeviceKind::Video(VideoModel::None)
            | DeviceKind::Hub
            | DeviceKind::Memory(
                crate::device::MemoryModel::Dimm | crate::device::MemoryModel::Nvdimm
            )
            | DeviceKind::Channel(ChannelTarget::Virtio { .. })
    )
}

/// Disks on these buses share drive addresses when their controller type
/// is the same (SCSI disks and SCSI host devices aside).
fn drive_bus_kind(bus: DiskBus) -> u8 {
    match bus {
        DiskBus::Ide => 0,
        DiskBus::Scsi => 1,
        DiskBus::Sata => 2,
        DiskBus::Fdc => 3,
        _ => 4,
    }
}

/// A USB input device libvirt adds (pSeries with graphics).
fn usb_input_device(input_type: &str) -> Device {
    Device::new(DeviceKind::Input {
        bus: InputBus::Usb,
        model: VirtioModel::Default,
    })
    .with_label(input_type)
}

/// A device that libvirt puts on the spapr-vio bus (§5.1 step 2). libvirt
/// switches the address type without converting a PCI address the device
/// had: the PCI fields are read as the spapr-vio ones (rule 26), so
/// `reg = domain | bus << 32`, present when the slot is not 0.
fn to_spapr_vio(d: &mut Device) {
    match d.address {
        DeviceAddress::None => d.address = DeviceAddress::Other("spapr-vio".into()),
        DeviceAddress::Pci(a) => {
            d.address = DeviceAddress::Other("spapr-vio".into());
            if a.slot().as_u8() != 0 {
                d.bus_id = Some(crate::device::BusId::SpaprVio {
                    reg: u64::from(a.domain()) | (u64::from(a.bus()) << 32),
                });
            }
        }
        DeviceAddress::Other(_) => {}
    }
}

/// Whether [`default_model`] may change the device (a cheap test, so that
/// only those devices are copied into the journal).
#[inline(always)]
fn may_take_default(d: &Device, profile: &Profile) -> bool {
    match &d.kind {
        DeviceKind::Controller(c) => matches!(
            c.kind,
            ControllerKind::Usb(None)
                | ControllerKind::Scsi(None)
                | ControllerKind::Scsi(Some(ScsiModel::Ibmvscsi))
        ),
        DeviceKind::Video(VideoModel::Default)
        | DeviceKind::Vsock(VirtioModel::Default)
        | DeviceKind::Interface {
            model: None,
            hostdev: None,
        } => true,
        DeviceKind::Interface {
            model: Some(NicModel::Known(m)),
            hostdev: None,
        } => m == "spapr-vlan",
        DeviceKind::Serial(_) | DeviceKind::Nvram | DeviceKind::Tpm { .. } => {
            profile.spapr_vio_platform
                || matches!(d.kind, DeviceKind::Serial(SerialTarget::SpaprVio))
        }
        _ => false,
    }
}

/// A USB controller with its model, or `None` for any other device.
fn usb_controller(d: &Device) -> Option<(&Device, &Controller, Option<UsbModel>)> {
    match &d.kind {
        DeviceKind::Controller(c) => match &c.kind {
            ControllerKind::Usb(m) => Some((d, c, *m)),
            _ => None,
        },
        _ => None,
    }
}

/// One device's default model (see [`Plan::set_default_models`]).
fn default_model(
    d: &mut Device,
    profile: &Profile,
    usb_model: Option<UsbModel>,
) -> Result<(), Error> {
    let unaddressed = d.address == DeviceAddress::None;
    match &mut d.kind {
        DeviceKind::Controller(c) => match &mut c.kind {
            ControllerKind::Usb(m @ None) => {
                if profile.usb_unaddressed_none && unaddressed {
                    *m = Some(UsbModel::None);
                } else if let Some(u) = usb_model {
                    *m = Some(u);
                }
            }
            ControllerKind::Scsi(m @ None) => match profile.scsi_model {
                Some(s) => *m = Some(s),
                None => {
                    let index = c.index.unwrap_or(0);
                    return Err(ConfigError::ScsiNoModel { index }.into());
                }
            },
            _ => {}
        },
        DeviceKind::Video(m @ VideoModel::Default) => *m = profile.video_model,
        DeviceKind::Interface {
            model: m @ None,
            hostdev: None,
        } => *m = Some(profile.nic_model.clone()),
        DeviceKind::Vsock(m @ VirtioModel::Default) => *m = VirtioModel::Virtio,
        // pSeries serial ports default to spapr-vty.
        DeviceKind::Serial(t @ SerialTarget::None) if profile.spapr_vio_platform => {
            *t = SerialTarget::SpaprVio;
        }
        _ => {}
    }
    // After the models: the ibmvscsi default and the spapr-vty
    // default are spapr-vio devices too.
    let spapr_vio = match &d.kind {
        DeviceKind::Controller(Controller {
            kind: ControllerKind::Scsi(Some(ScsiModel::Ibmvscsi)),
            ..
        }) => true,
        DeviceKind::Interface {
            model: Some(NicModel::Known(m)),
            hostdev: None,
        } => m == "spapr-vlan",
        DeviceKind::Serial(SerialTarget::SpaprVio) => true,
        DeviceKind::Nvram => profile.spapr_vio_platform,
        DeviceKind::Tpm { spapr_proxy } => profile.spapr_vio_platform && !spapr_proxy,
        _ => false,
    };
    if spapr_vio {
        to_spapr_vio(d);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::{BusId, Drive, HostdevSource, IommuModel, ShmemModel, WatchdogModel};
    use crate::{Capabilities, ControllerModel, Machine, PciAddress};
    use proptest::strategy::Just;

    /// A device for each refusal of the per-device checks, on `machine`.
    fn refused(machine: &str) -> Vec<Device> {
        let pci = DeviceAddress::Pci(PciAddress::from_parts(0, 5, 0).unwrap_or_default());
        let other = |t: &str| DeviceAddress::Other(t.into());
        let controller = |kind, index| {
            Device::new(DeviceKind::Controller(Controller {
                kind,
                index: Some(index),
                companion: false,
            }))
        };
        let mut vio = Device::new(DeviceKind::Nvram);
        vio.bus_id = Some(BusId::SpaprVio { reg: 1 << 32 });
        let mut ide_disk = Device::new(DeviceKind::Disk {
            bus: DiskBus::Ide,
            model: VirtioModel::Default,
            drive_controller: None,
        });
        ide_disk.drive = Some(Drive {
            controller: 1,
            bus: 0,
            target: 0,
            unit: 0,
        });
        let watchdog = if machine == "q35" {
            WatchdogModel::Ib700
        } else {
            WatchdogModel::Itco
        };
        vec![
            vio,
            Device::new(DeviceKind::Panic).with_address(other("ccw")),
            ide_disk,
            controller(ControllerKind::Ide, 1),
            controller(ControllerKind::Scsi(Some(ScsiModel::Buslogic)), 0),
            Device::new(DeviceKind::Watchdog(watchdog)),
            Device::new(DeviceKind::Shmem(ShmemModel::Doorbell)),
            Device::new(DeviceKind::Disk {
                bus: DiskBus::Sata,
                model: VirtioModel::Default,
                drive_controller: None,
            })
            .with_address(pci.clone()),
            Device::new(DeviceKind::Hostdev(HostdevSource::MdevVfioPci)).with_address(other("ccw")),
            Device::new(DeviceKind::Video(VideoModel::Ramfb)).with_address(pci.clone()),
            Device::new(DeviceKind::Iommu(IommuModel::Virtio)),
            Device::new(DeviceKind::Input {
                bus: InputBus::Virtio,
                model: VirtioModel::Transitional,
            }),
            Device::new(DeviceKind::Smartcard).with_address(pci.clone()),
            Device::new(DeviceKind::Watchdog(WatchdogModel::Ib700)).with_address(pci.clone()),
            Device::new(DeviceKind::Serial(SerialTarget::Isa)).with_address(pci),
        ]
    }

    proptest::proptest! {
        /// A controller the quick test passes passes the checks.
        #[test]
        fn prop_a_surely_valid_controller_passes_the_checks(
            model in proptest::prop_oneof![Just(4usize), Just(2usize), 0usize..10],
            index in proptest::option::weighted(0.9, 0u32..300),
            name in proptest::option::weighted(0.9, 0usize..4),
            some in proptest::collection::vec(proptest::option::weighted(0.6, 0u32..300), 3),
            rare in proptest::collection::vec(proptest::option::weighted(0.1, 0u32..300), 3),
            hotplug in proptest::option::weighted(0.1, proptest::bool::ANY),
            pcihole64 in proptest::bool::weighted(0.1),
            caps in 0usize..3,
        ) {
            let values = [some[0], some[1], some[2], rare[0], rare[1], rare[2]];
            let models = crate::controller::ALL_MODELS;
            let names = ["pcie-root-port", "ioh3420", "pci-bridge", "pxb"];
            let mut p = crate::device::PciController {
                model: models.get(model).copied(),
                model_name: name.and_then(|k| names.get(k)).map(|n| (*n).into()),
                pcihole64,
                ..Default::default()
            };
            let t = &mut p.target;
            t.chassis_nr = values[0];
            t.chassis = values[1];
            t.port = values[2];
            t.bus_nr = values[3];
            t.index = values[4];
            t.node = values[5];
            t.hotplug = hotplug;
            let c = Controller {
                kind: ControllerKind::Pci(p),
                index,
                companion: false,
            };
            let caps = match caps {
                0 => Capabilities::default(),
                1 => Capabilities::qemu_8_0_x86_64(),
                _ => Capabilities::from_names(["ioh3420", "pci-bridge"]),
            };
            let plan = Plan::new(Machine::q35(), caps);
            let d = Device::new(DeviceKind::Controller(c.clone()));
            if plan.pci_controller_surely_valid(&c) {
                proptest::prop_assert!(plan.validate_pci_controller(&d, &c).is_ok());
            }
        }
    }

    #[test]
    fn a_root_port_and_a_bridge_with_their_defaults_are_surely_valid() {
        let plan = Plan::new(Machine::q35(), Capabilities::qemu_8_0_x86_64());
        let mut port = Controller::pci(ControllerModel::PcieRootPort, 3);
        let mut bridge = Controller::pci(ControllerModel::PciBridge, 4);
        if let ControllerKind::Pci(p) = &mut port.kind {
            p.model_name = Some("pcie-root-port".into());
            p.target.chassis = Some(3);
            p.target.port = Some(16);
        }
        if let ControllerKind::Pci(p) = &mut bridge.kind {
            p.model_name = Some("pci-bridge".into());
            p.target.chassis_nr = Some(4);
        }
        assert!(plan.pci_controller_surely_valid(&port));
        assert!(plan.pci_controller_surely_valid(&bridge));
    }

    #[test]
    fn the_census_marks_every_device_the_device_checks_refuse() {
        for (machine, name) in [(Machine::pc(), "pc"), (Machine::q35(), "q35")] {
            let plan = Plan::new(machine, Capabilities::default());
            let devices = refused(name);
            let census = Census::of(&devices);
            let mut count = 0;
            for (i, d) in devices.iter().enumerate() {
                let refused = plan.validate_device_address(d).is_err()
                    || plan.validate_device_model(d).is_err();
                if refused {
                    count += 1;
                    assert!(
                        census.checked.contains(&i),
                        "{name}: device {i} not marked: {d:?}"
                    );
                }
            }
            // q35 has no IDE: its two IDE refusals do not apply there.
            let expected = if name == "pc" {
                devices.len()
            } else {
                devices.len() - 2
            };
            assert_eq!(count, expected, "{name}: refusals");
        }
    }
}
