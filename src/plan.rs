//! The plan: a machine, its capabilities and its devices, with the addresses
//! given so far. A plain value: a dry run is a clone.

use crate::caps::Capabilities;
use crate::device::{Controller, ControllerKind, Device, DeviceAddress, DeviceKind, DiskBus};
use crate::machine::{HostPci, Machine, Profile};

/// Limits that keep a plan bounded (documented resource limits).
pub mod limits {
    /// Most devices a plan may hold.
    pub const MAX_DEVICES: usize = 65_536;
}

/// A guest's devices and their PCI addresses.
///
/// Devices of one kind keep their list order; controllers are kept in
/// libvirt's controller array order (spec §5.14). Devices that pciplan adds
/// are appended.
///
/// ```
/// use pciplan::{Capabilities, Device, DeviceKind, Machine, Plan, VirtioModel};
/// let mut plan = Plan::new(Machine::q35(), Capabilities::qemu_8_0_x86_64());
/// plan.add_device(Device::new(DeviceKind::Rng(VirtioModel::Default)));
/// plan.assign()?;
/// assert!(plan.devices().iter().all(|d| !d.address.is_wanted()
///     || d.kind.controller().is_some_and(|c| c.pci_model().is_some_and(|m| m.is_root()))
///     || matches!(d.kind, DeviceKind::Input { .. })));
/// # Ok::<(), pciplan::Error>(())
/// ```
#[derive(Debug, PartialEq, Eq)]
pub struct Plan {
    pub(crate) machine: Machine,
    pub(crate) caps: std::sync::Arc<Capabilities>,
    pub(crate) host: std::sync::Arc<HostPci>,
    pub(crate) numa_cells: u32,
    pub(crate) has_graphics: bool,
    pub(crate) new_definition: bool,
    pub(crate) libvirt: crate::version::LibvirtVersion,
    pub(crate) profile: std::sync::Arc<Profile>,
    pub(crate) devices: Vec<Device>,
    /// The address set of the last assignment, kept for hot-plug.
    pub(crate) live: LiveSet,
    /// What the running operation changed, while one runs.
    pub(crate) journal: Journal,
}

/// The changes an operation made to the device list, newest last, so that a
/// failed operation can take them back instead of working on a copy of the
/// plan (see [`Plan::assign`]). Recording only while an operation runs; like
/// [`LiveSet`], plans compare equal whatever it holds.
#[derive(Clone, Debug, Default)]
pub(crate) struct Journal(Option<Vec<Undo>>);

impl PartialEq for Journal {
    fn eq(&self, _: &Journal) -> bool {
        true
    }
}

impl Eq for Journal {}

/// One change to take back.
#[derive(Clone, Debug)]
pub(crate) enum Undo {
    /// Device `i` had this address.
    Address(usize, DeviceAddress),
    /// Device `i` was this.
    Device(usize, Box<Device>),
    /// A device was inserted at this position.
    Inserted(usize),
    /// These devices were cut off the list at this position.
    Truncated(usize, Vec<Device>),
}

/// The address set a hot-plug works on: the one the last successful
/// [`Plan::assign`] or hot-plug left, or none (then it is rebuilt from the
/// devices). Any other change to the plan drops it. It is a cache: plans
/// compare equal whether or not they hold one.
#[derive(Clone, Debug, Default)]
pub(crate) struct LiveSet(pub(crate) Option<Box<crate::allocator::addrset::AddressSet>>);

impl PartialEq for LiveSet {
    fn eq(&self, _: &LiveSet) -> bool {
        true
    }
}

impl Eq for LiveSet {}

/// Room kept free in a cloned plan's device list, so that the devices an
/// assignment or a hot-plug appends do not move the whole list.
fn headroom(len: usize) -> usize {
    len / 8 + 16
}

impl Clone for Plan {
    fn clone(&self) -> Plan {
        let mut devices = Vec::with_capacity(
            self.devices
                .len()
                .saturating_add(headroom(self.devices.len())),
        );
        devices.extend(self.devices.iter().cloned());
        Plan {
            machine: self.machine.clone(),
            caps: self.caps.clone(),
            host: self.host.clone(),
            numa_cells: self.numa_cells,
            has_graphics: self.has_graphics,
            new_definition: self.new_definition,
            libvirt: self.libvirt,
            profile: self.profile.clone(),
            devices,
            live: self.live.clone(),
            journal: Journal::default(),
        }
    }
}

impl Plan {
    /// An empty plan for a machine and a capability set.
    pub fn new(machine: Machine, caps: Capabilities) -> Plan {
        let profile = std::sync::Arc::new(machine.profile(&caps));
        Plan {
            machine,
            profile,
            new_definition: true,
            libvirt: crate::version::LibvirtVersion::V9_0,
            caps: std::sync::Arc::new(caps),
            host: std::sync::Arc::new(HostPci::default()),
            numa_cells: 0,
            has_graphics: false,
            devices: Vec::new(),
            live: LiveSet::default(),
            journal: Journal::default(),
        }
    }

    /// The machine.
    pub fn machine(&self) -> &Machine {
        &self.machine
    }

    /// The capabilities.
    pub fn caps(&self) -> &Capabilities {
        &self.caps
    }

    /// The machine's profile for these capabilities (§4).
    pub fn profile(&self) -> &Profile {
        &self.profile
    }

    /// Which libvirt's answers to reproduce (default: 9.0).
    pub fn set_libvirt(&mut self, version: crate::version::LibvirtVersion) {
        self.live.0 = None;
        self.libvirt = version;
        if version.assumes_gpex() && !self.caps.has("gpex-pcihost") {
            std::sync::Arc::make_mut(&mut self.caps).insert("gpex-pcihost");
            self.profile = std::sync::Arc::new(self.machine.profile(&self.caps));
        }
    }

    /// The libvirt version profile.
    pub fn libvirt(&self) -> crate::version::LibvirtVersion {
        self.libvirt
    }

    /// Whether the definition is parsed as a new one (libvirt's define,
    /// which updates the guest ABI where it may: the default, `true`) or
    /// as an existing one (`false`; libvirt's reload of a stored
    /// definition). Only a ppc64 USB controller without a model differs.
    pub fn set_new_definition(&mut self, new: bool) {
        self.live.0 = None;
        self.new_definition = new;
    }

    /// Host PCI facts used for passthrough devices.
    pub fn set_host_pci(&mut self, host: HostPci) {
        self.live.0 = None;
        self.host = std::sync::Arc::new(host);
    }

    /// Number of guest NUMA cells (`<cpu><numa>`).
    pub fn set_numa_cells(&mut self, cells: u32) {
        self.live.0 = None;
        self.numa_cells = cells;
    }

    /// Whether the guest has `<graphics>` (libvirt then adds a video device).
    pub fn set_graphics(&mut self, graphics: bool) {
        self.live.0 = None;
        self.has_graphics = graphics;
    }

    /// The devices, in plan order.
    pub fn devices(&self) -> &[Device] {
        &self.devices
    }

    /// Mutable access to one device (e.g. to give it an address).
    pub fn device_mut(&mut self, i: usize) -> Option<&mut Device> {
        self.live.0 = None;
        self.devices.get_mut(i)
    }

    /// Adds a device as libvirt's parser would: controllers go to their
    /// place in the controller array (§5.14), disks to their place in the
    /// disk list (grouped by bus, sorted by target name, the label),
    /// everything else is appended.
    /// Returns the device's position.
    pub fn add_device(&mut self, device: Device) -> usize {
        self.live.0 = None;
        self.insert_device(device)
    }

    /// [`Plan::add_device`] keeping the hot-plug address set (the caller
    /// keeps it up to date).
    pub(crate) fn insert_device(&mut self, device: Device) -> usize {
        let at = match &device.kind {
            DeviceKind::Controller(c) => self.controller_insert_position(c),
            DeviceKind::Disk { bus, .. } => self.disk_insert_position(*bus, disk_key(&device)),
            _ => None,
        };
        let i = match at {
            Some(i) => {
                self.devices.insert(i, device);
                i
            }
            None => {
                self.devices.push(device);
                self.devices.len().saturating_sub(1)
            }
        };
        self.record(Undo::Inserted(i));
        i
    }

    /// Makes room for `n` more devices (and what an assignment adds to them),
    /// so that adding them does not move the list.
    pub(crate) fn reserve_devices(&mut self, n: usize) {
        self.devices.reserve(n.saturating_add(headroom(n)));
    }

    /// Appends a device at the end (how libvirt adds implicit devices).
    pub fn push_device(&mut self, device: Device) -> usize {
        self.live.0 = None;
        self.append_device(device)
    }

    /// [`Plan::push_device`], recorded in the journal.
    pub(crate) fn append_device(&mut self, device: Device) -> usize {
        self.devices.push(device);
        let i = self.devices.len().saturating_sub(1);
        self.record(Undo::Inserted(i));
        i
    }

    fn record(&mut self, undo: Undo) {
        if let Some(j) = &mut self.journal.0 {
            j.push(undo);
        }
    }

    /// Sets device `i`'s address, recorded in the journal.
    pub(crate) fn set_address(&mut self, i: usize, address: DeviceAddress) {
        if let Some(d) = self.devices.get_mut(i) {
            let old = std::mem::replace(&mut d.address, address);
            if let Some(j) = &mut self.journal.0 {
                j.push(Undo::Address(i, old));
            }
        }
    }

    /// Device `i` for a change other than its address, recorded in the
    /// journal (the whole device is kept).
    pub(crate) fn edit_device(&mut self, i: usize) -> Option<&mut Device> {
        let d = self.devices.get_mut(i)?;
        if let Some(j) = &mut self.journal.0 {
            j.push(Undo::Device(i, Box::new(d.clone())));
        }
        Some(d)
    }

    /// Cuts the devices from position `at` off the list, recorded in the
    /// journal.
    pub(crate) fn split_devices(&mut self, at: usize) -> Vec<Device> {
        let cut = self.devices.split_off(at.min(self.devices.len()));
        if let Some(j) = &mut self.journal.0 {
            j.push(Undo::Truncated(at, cut.clone()));
        }
        cut
    }

    /// Runs `op` as one transaction: its changes to the device list are
    /// recorded, and taken back when it fails, so a failed `op` leaves the
    /// plan as it was without the plan ever being copied. The hot-plug
    /// address set is dropped while `op` runs and restored on failure.
    pub(crate) fn transaction<T>(
        &mut self,
        op: impl FnOnce(&mut Plan) -> Result<T, crate::Error>,
    ) -> Result<T, crate::Error> {
        let live = self.live.0.take();
        // About one address per device.
        let outer = self
            .journal
            .0
            .replace(Vec::with_capacity(self.devices.len().saturating_add(16)));
        let result = op(self);
        let journal = std::mem::replace(&mut self.journal.0, outer).unwrap_or_default();
        if result.is_err() {
            self.undo(journal);
            self.live.0 = live;
        }
        result
    }

    /// Takes back the changes of a journal, newest first.
    fn undo(&mut self, journal: Vec<Undo>) {
        for u in journal.into_iter().rev() {
            match u {
                Undo::Address(i, a) => {
                    if let Some(d) = self.devices.get_mut(i) {
                        d.address = a;
                    }
                }
                Undo::Device(i, d) => {
                    if let Some(slot) = self.devices.get_mut(i) {
                        *slot = *d;
                    }
                }
                Undo::Inserted(i) => {
                    if i < self.devices.len() {
                        self.devices.remove(i);
                    }
                }
                Undo::Truncated(at, cut) => {
                    self.devices.truncate(at);
                    self.devices.extend(cut);
                }
            }
        }
    }

    /// Removes a device, releasing its address. Nothing else moves.
    ///
    /// # Errors
    /// [`crate::AllocError::NoSuchDevice`] when `i` is out of range.
    pub fn remove_device(&mut self, i: usize) -> Result<Device, crate::Error> {
        self.live.0 = None;
        if i >= self.devices.len() {
            return Err(crate::Error::Assign {
                class: crate::ErrorClass::Unsupported,
                device: None,
                reason: crate::AllocError::NoSuchDevice { id: i },
            });
        }
        Ok(self.devices.remove(i))
    }

    /// libvirt's disk insertion rule, as a position in the device list;
    /// `None` means "append". The disks of one bus stay sorted under this
    /// rule, so when the last disk on the bus does not sort after the new
    /// one (the usual, in-order case) the answer is right after it and no
    /// other disk needs to be looked at.
    fn disk_insert_position(&self, bus: DiskBus, key: i64) -> Option<usize> {
        let same_bus = |d: &Device| matches!(d.kind, DeviceKind::Disk { bus: b, .. } if b == bus);
        let last = self.devices.iter().rposition(same_bus)?;
        if self.devices.get(last).map_or(-1, disk_key) <= key {
            return Some(last.saturating_add(1));
        }
        self.devices
            .iter()
            .position(|d| same_bus(d) && disk_key(d) > key)
    }

    /// libvirt's controller insertion rule (§5.14), as a position in the
    /// device list; `None` means "append".
    fn controller_insert_position(&self, new: &Controller) -> Option<usize> {
        let existing: Vec<(usize, &Controller)> = self
            .devices
            .iter()
            .enumerate()
            .filter_map(|(i, d)| d.kind.controller().map(|c| (i, c)))
            .collect();
        let at = insert_position(&existing.iter().map(|e| e.1).collect::<Vec<_>>(), new)?;
        match existing.get(at) {
            Some((i, _)) => Some(*i),
            // After the last controller.
            None => existing.last().map(|(i, _)| i.saturating_add(1)),
        }
    }

    /// The order in which libvirt's parser would hold this plan's
    /// controllers if it read them back: each one inserted by the rule of
    /// §5.14, in plan order. Writing controllers in this order makes the
    /// output a fixed point of parse → assign → write. Returns device
    /// positions.
    pub fn controller_output_order(&self) -> Vec<usize> {
        let mut seq: Vec<(usize, &Controller)> = Vec::new();
        for (i, d) in self.devices.iter().enumerate() {
            let Some(c) = d.kind.controller() else {
                continue;
            };
            let at = insert_position(&seq.iter().map(|e| e.1).collect::<Vec<_>>(), c)
                .unwrap_or(seq.len());
            seq.insert(at.min(seq.len()), (i, c));
        }
        seq.into_iter().map(|(i, _)| i).collect()
    }

    /// Indices of the controllers, in array order.
    pub(crate) fn controller_positions(&self) -> impl Iterator<Item = usize> + '_ {
        self.devices
            .iter()
            .enumerate()
            .filter(|(_, d)| matches!(d.kind, DeviceKind::Controller(_)))
            .map(|(i, _)| i)
    }

    /// The PCI controller with this index, if any.
    pub fn pci_controller(&self, index: u32) -> Option<&Controller> {
        self.devices
            .iter()
            .filter_map(|d| d.kind.controller())
            .find(|c| matches!(c.kind, ControllerKind::Pci(_)) && c.index == Some(index))
    }

    /// Whether the USB controller is a USB2 (ich9) model.
    pub(crate) fn is_usb2(c: &Controller) -> bool {
        matches!(c.kind, ControllerKind::Usb(Some(m)) if m.usb2_function().is_some())
    }
}

/// libvirt's insertion rule over a list of controllers: after the last
/// controller of the same type whose index is not higher, before the first
/// one with a higher index; a master USB controller goes before companions of
/// the same index; a controller without index goes after the last of its
/// type; a type not seen yet goes to the end (`None`).
fn insert_position(existing: &[&Controller], new: &Controller) -> Option<usize> {
    let ty = new.kind.type_name();
    let mut insert_at: Option<usize> = None;
    for (i, cur) in existing.iter().enumerate().rev() {
        if cur.kind.type_name() != ty {
            continue;
        }
        let Some(new_idx) = new.index else {
            return Some(i.saturating_add(1));
        };
        let cur_idx = cur.index;
        let after_new = cur_idx.is_some_and(|c| c > new_idx);
        let companion_of_new = !is_companion(new) && is_companion(cur) && cur_idx == Some(new_idx);
        // libvirt keeps scanning: an earlier controller with a higher index
        // still moves the insertion point before it.
        if after_new || companion_of_new {
            insert_at = Some(i);
        } else if insert_at.is_none() {
            insert_at = Some(i.saturating_add(1));
        }
    }
    insert_at
}

/// libvirt's index of a disk target name: the letters after the `hd`,
/// `sd`, `vd`, `xvd`, `fd` or `ubd` prefix read as a bijective base-26
/// number (`sda` → 0, `sdz` → 25, `sdaa` → 26), optionally followed by a
/// partition number; `None` when the name has no such form.
///
/// ```
/// assert_eq!(pciplan::disk_name_index("vdaa"), Some(26));
/// assert_eq!(pciplan::disk_name_index("cdrom"), None);
/// ```
pub fn disk_name_index(dev: &str) -> Option<u32> {
    let rest = ["xvd", "ubd", "hd", "sd", "vd", "fd"]
        .iter()
        .find_map(|p| dev.strip_prefix(p))?;
    let letters: &str = rest.trim_end_matches(|c: char| c.is_ascii_digit());
    if letters.is_empty() || !letters.bytes().all(|b| b.is_ascii_lowercase()) {
        return None;
    }
    let mut n: u32 = 0;
    for b in letters.bytes() {
        n = n
            .checked_mul(26)?
            .checked_add(u32::from(b - b'a').checked_add(1)?)?;
    }
    n.checked_sub(1)
}

/// The sort key of a disk in libvirt's disk list (`-1` for a name without
/// an index, which sorts first).
fn disk_key(d: &Device) -> i64 {
    disk_name_index(&d.label).map_or(-1, i64::from)
}

/// A USB companion controller: one with a `<master>` element, or an ich9
/// UHCI model (libvirt gives those a master while parsing).
fn is_companion(c: &Controller) -> bool {
    c.companion || matches!(c.kind, ControllerKind::Usb(Some(m)) if m.is_ich9_companion())
}
