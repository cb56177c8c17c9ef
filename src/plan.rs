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
pub(crate) struct Journal(Option<Log>);

/// The journal of a running operation.
#[derive(Clone, Debug, Default)]
pub(crate) struct Log {
    /// The changes to take back, newest last.
    undo: Vec<Undo>,
    /// A bit per position whose device is already kept whole in `undo`, or
    /// was inserted by the operation, since the list last shifted there: its
    /// later edits need no record (taking back the older copy, or the
    /// insertion, undoes them too). This bounds the journal to one copy per
    /// device that was there before, however often a device is edited.
    saved: Vec<u64>,
}

impl Log {
    fn with_capacity(n: usize) -> Log {
        Log {
            undo: Vec::with_capacity(n),
            saved: Vec::new(),
        }
    }

    fn is_saved(&self, i: usize) -> bool {
        self.saved
            .get(i / 64)
            .is_some_and(|w| w & (1u64 << (i % 64)) != 0)
    }

    fn mark_saved(&mut self, i: usize) {
        self.mark_saved_range(i, i.saturating_add(1));
    }

    /// [`Log::mark_saved`] for the positions `start..end`, a word at a time.
    fn mark_saved_range(&mut self, start: usize, end: usize) {
        if start >= end {
            return;
        }
        let last = (end - 1) / 64;
        if self.saved.len() <= last {
            self.saved.resize(last.saturating_add(1), 0);
        }
        let first = start / 64;
        for (k, w) in self.saved.iter_mut().enumerate().take(last + 1).skip(first) {
            let lo = if k == first { start % 64 } else { 0 };
            let hi = if k == last { (end - 1) % 64 } else { 63 };
            // Bits lo..=hi.
            *w |= (u64::MAX >> (63 - hi)) & (u64::MAX << lo);
        }
    }

    /// Records device `i`'s old address. A device that had none, right
    /// after the row of such devices the last record covers, extends it.
    #[inline]
    fn record_address(&mut self, i: usize, old: DeviceAddress) {
        if old == DeviceAddress::None {
            self.record_unaddressed(i);
        } else {
            self.undo.push(Undo::Address(i, old));
        }
    }

    /// Records that device `i` had no address.
    #[inline]
    fn record_unaddressed(&mut self, i: usize) {
        if let Some(Undo::Unaddressed { start, len }) = self.undo.last_mut()
            && start.checked_add(*len) == Some(i)
        {
            *len += 1;
            return;
        }
        self.undo.push(Undo::Unaddressed { start: i, len: 1 });
    }

    /// Positions from `i` on now hold other devices: forget them.
    fn forget_from(&mut self, i: usize) {
        let word = i / 64;
        if let Some(w) = self.saved.get_mut(word) {
            *w &= (1u64 << (i % 64)) - 1;
        }
        self.saved.truncate(word.saturating_add(1));
    }
}

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
    /// The devices at `start..start + len` had no address: one record for
    /// a row of devices placed one after another (nothing else was
    /// recorded between them, so they are taken back together).
    Unaddressed { start: usize, len: usize },
    /// Device `i` was this.
    Device(usize, Box<Device>),
    /// Device `i` was of this kind (the rest of it is recorded apart).
    Kind(usize, Box<DeviceKind>),
    /// A device was inserted at this position.
    Inserted(usize),
    /// Devices were appended from this position on.
    Appended(usize),
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

/// Devices being added one after another ([`Plan::adding`]), with the
/// result of [`Plan::add_device`] for each, in linear time: a disk goes into
/// its bus's group, which stays where its first disk was added and is sorted
/// by target name (ties in the order added). So the later disks of a group
/// are set aside and sorted once in [`Adding::finish`] instead of each being
/// inserted into the list. Not for use inside a transaction (the final
/// rebuild is not recorded).
pub(crate) struct Adding<'p> {
    plan: &'p mut Plan,
    /// Per disk bus: the position of its first disk, and the later ones.
    groups: Vec<(DiskBus, usize, Vec<Device>)>,
    /// The plan had disks already: add disks one by one.
    has_disks: bool,
}

impl Adding<'_> {
    /// Adds one device.
    pub(crate) fn add(&mut self, d: Device) {
        let bus = match d.kind {
            DeviceKind::Disk { bus, .. } if !self.has_disks => bus,
            _ => {
                let at = self.plan.insert_device(d);
                // A controller inserted before a group's first disk moves it.
                for g in &mut self.groups {
                    if at <= g.1 {
                        g.1 = g.1.saturating_add(1);
                    }
                }
                return;
            }
        };
        match self.groups.iter_mut().find(|g| g.0 == bus) {
            Some(g) => g.2.push(d),
            None => {
                self.plan.devices.push(d);
                let at = self.plan.devices.len().saturating_sub(1);
                self.groups.push((bus, at, Vec::new()));
            }
        }
    }

    /// Puts the set-aside disks in place: each group's first disk becomes
    /// the group, sorted by target name, stable.
    pub(crate) fn finish(self) {
        let Adding { plan, groups, .. } = self;
        if groups.iter().all(|g| g.2.is_empty()) {
            return;
        }
        let old = std::mem::take(&mut plan.devices);
        let extra: usize = groups.iter().map(|g| g.2.len()).sum();
        let mut out = Vec::with_capacity(
            old.len()
                .saturating_add(extra)
                .saturating_add(headroom(old.len())),
        );
        let mut by_anchor: Vec<(usize, Vec<Device>)> =
            groups.into_iter().map(|(_, at, rest)| (at, rest)).collect();
        by_anchor.sort_by_key(|g| g.0);
        let mut next = by_anchor.into_iter().peekable();
        for (i, d) in old.into_iter().enumerate() {
            match next.next_if(|g| g.0 == i) {
                Some((_, rest)) => {
                    let mut group = Vec::with_capacity(rest.len().saturating_add(1));
                    group.push(d);
                    group.extend(rest);
                    group.sort_by_key(disk_key);
                    out.extend(group);
                }
                None => out.push(d),
            }
        }
        plan.devices = out;
    }
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
                if let Some(j) = &mut self.journal.0 {
                    j.forget_from(i);
                }
                i
            }
            None => {
                self.devices.push(device);
                self.devices.len().saturating_sub(1)
            }
        };
        self.record_inserted(i);
        i
    }

    /// Makes room for `n` more devices (and what an assignment adds to them),
    /// so that adding them does not move the list.
    pub(crate) fn reserve_devices(&mut self, n: usize) {
        self.devices.reserve(n.saturating_add(headroom(n)));
    }

    /// [`Plan::add_device`] for many devices in a row, in time linear in
    /// their number (a parser's whole device list): see [`Adding`].
    pub(crate) fn adding(&mut self) -> Adding<'_> {
        self.live.0 = None;
        let has_disks = self
            .devices
            .iter()
            .any(|d| matches!(d.kind, DeviceKind::Disk { .. }));
        Adding {
            plan: self,
            groups: Vec::new(),
            has_disks,
        }
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
        self.record_inserted(i);
        i
    }

    /// [`Plan::append_device`] for many devices, recorded as one change.
    pub(crate) fn append_devices(&mut self, devices: impl IntoIterator<Item = Device>) {
        let start = self.devices.len();
        self.devices.extend(devices);
        let end = self.devices.len();
        if end > start
            && let Some(j) = &mut self.journal.0
        {
            j.undo.push(Undo::Appended(start));
            j.mark_saved_range(start, end);
        }
    }

    /// Records that a device was inserted at `i`. Taking that back removes
    /// it, so its later edits need no record: it counts as saved.
    fn record_inserted(&mut self, i: usize) {
        if let Some(j) = &mut self.journal.0 {
            j.undo.push(Undo::Inserted(i));
            j.mark_saved(i);
        }
    }

    /// Sets device `i`'s address, recorded in the journal.
    #[inline]
    pub(crate) fn set_address(&mut self, i: usize, address: DeviceAddress) {
        if let Some(d) = self.devices.get_mut(i) {
            let old = std::mem::replace(&mut d.address, address);
            if let Some(j) = &mut self.journal.0
                && !j.is_saved(i)
            {
                j.record_address(i, old);
            }
        }
    }

    /// Gives device `i`, which has no address, one: [`Plan::set_address`]
    /// without the old address to keep (the journal notes the row of
    /// unaddressed devices). A device with an address goes the usual way.
    #[inline]
    pub(crate) fn place_address(&mut self, i: usize, address: crate::PciAddress) {
        let Some(d) = self.devices.get_mut(i) else {
            return;
        };
        if !matches!(d.address, DeviceAddress::None) {
            self.set_address(i, DeviceAddress::Pci(address));
            return;
        }
        d.address = DeviceAddress::Pci(address);
        if let Some(j) = &mut self.journal.0
            && !j.is_saved(i)
        {
            j.record_unaddressed(i);
        }
    }

    /// Device `i` for a change other than its address, recorded in the
    /// journal (the whole device is kept, once per operation).
    pub(crate) fn edit_device(&mut self, i: usize) -> Option<&mut Device> {
        let d = self.devices.get_mut(i)?;
        if let Some(j) = &mut self.journal.0
            && !j.is_saved(i)
        {
            j.undo.push(Undo::Device(i, Box::new(d.clone())));
            j.mark_saved(i);
        }
        Some(d)
    }

    /// Device `i`'s kind for a change, recorded in the journal: only the
    /// kind is kept, so the device's other fields (its address) are still
    /// recorded when they change.
    pub(crate) fn edit_kind(&mut self, i: usize) -> Option<&mut DeviceKind> {
        let d = self.devices.get_mut(i)?;
        if let Some(j) = &mut self.journal.0
            && !j.is_saved(i)
        {
            j.undo.push(Undo::Kind(i, Box::new(d.kind.clone())));
        }
        Some(&mut d.kind)
    }

    /// Cuts the devices from position `at` off the list, recorded in the
    /// journal.
    pub(crate) fn split_devices(&mut self, at: usize) -> Vec<Device> {
        let cut = self.devices.split_off(at.min(self.devices.len()));
        if let Some(j) = &mut self.journal.0 {
            j.undo.push(Undo::Truncated(at, cut.clone()));
            j.forget_from(at);
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
        // Rows of devices placed one after another, and the controllers an
        // assignment adds, are one record each: a few records are usual.
        let outer = self.journal.0.replace(Log::with_capacity(16));
        let result = op(self);
        let journal = std::mem::replace(&mut self.journal.0, outer).unwrap_or_default();
        if result.is_err() {
            self.undo(journal.undo);
            self.live.0 = live;
        } else if let Some(outer) = &mut self.journal.0 {
            // Nested: the enclosing operation may still fail and must then
            // take these changes back too. Its saved positions may have
            // shifted meanwhile: forget them all.
            outer.undo.extend(journal.undo);
            outer.saved.clear();
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
                Undo::Unaddressed { start, len } => {
                    let end = start.saturating_add(len).min(self.devices.len());
                    for d in self.devices.get_mut(start..end).unwrap_or_default() {
                        d.address = DeviceAddress::None;
                    }
                }
                Undo::Device(i, d) => {
                    if let Some(slot) = self.devices.get_mut(i) {
                        *slot = *d;
                    }
                }
                Undo::Kind(i, k) => {
                    if let Some(d) = self.devices.get_mut(i) {
                        d.kind = *k;
                    }
                }
                Undo::Inserted(i) => {
                    if i < self.devices.len() {
                        self.devices.remove(i);
                    }
                }
                Undo::Appended(at) => self.devices.truncate(at),
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
        // libvirt's rule ([`insert_position`]) over the controllers from the
        // last one back, in one pass without collecting them: "after" a
        // controller is the position of the next controller, or just past
        // the last one.
        let ty = std::mem::discriminant(&new.kind);
        let mut insert_at: Option<usize> = None;
        let mut next: Option<usize> = None;
        for (i, d) in self.devices.iter().enumerate().rev() {
            let Some(cur) = d.kind.controller() else {
                continue;
            };
            let after_cur = next.unwrap_or(i.saturating_add(1));
            next = Some(i);
            if std::mem::discriminant(&cur.kind) != ty {
                continue;
            }
            let Some(new_idx) = new.index else {
                return Some(after_cur);
            };
            let cur_idx = cur.index;
            let after_new = cur_idx.is_some_and(|c| c > new_idx);
            let companion_of_new =
                !is_companion(new) && is_companion(cur) && cur_idx == Some(new_idx);
            if after_new || companion_of_new {
                insert_at = Some(i);
            } else if insert_at.is_none() {
                insert_at = Some(after_cur);
            }
        }
        insert_at
    }

    /// The order in which libvirt's parser would hold this plan's
    /// controllers if it read them back: each one inserted by the rule of
    /// §5.14, in plan order. Writing controllers in this order makes the
    /// output a fixed point of parse → assign → write. Returns device
    /// positions.
    pub fn controller_output_order(&self) -> Vec<usize> {
        let mut seq: Vec<(usize, &Controller)> = Vec::new();
        // Per controller type: the highest index so far and whether a
        // companion or a controller without index is among them. A
        // controller of the type of the last one, with a higher index than
        // every one of its type and no companion or unindexed one to weigh,
        // goes at the end (the usual case: bridges in index order) without
        // the scan of the rule.
        let mut seen: Vec<(std::mem::Discriminant<ControllerKind>, u32, bool)> = Vec::new();
        for (i, d) in self.devices.iter().enumerate() {
            let Some(c) = d.kind.controller() else {
                continue;
            };
            let ty = std::mem::discriminant(&c.kind);
            let kind = seen.iter_mut().find(|k| k.0 == ty);
            let appends = match (&kind, seq.last(), c.index) {
                (None, _, _) => true,
                (Some(k), Some(last), Some(idx)) => {
                    std::mem::discriminant(&last.1.kind) == ty
                        && !k.2
                        && idx > k.1
                        && !is_companion(c)
                }
                _ => false,
            };
            let at = if appends {
                seq.len()
            } else {
                insert_position(&seq, |e| e.1, c).unwrap_or(seq.len())
            };
            seq.insert(at.min(seq.len()), (i, c));
            let odd = c.index.is_none() || is_companion(c);
            match kind {
                Some(k) => {
                    k.1 = k.1.max(c.index.unwrap_or(0));
                    k.2 |= odd;
                }
                None => seen.push((ty, c.index.unwrap_or(0), odd)),
            }
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
fn insert_position<T>(
    existing: &[T],
    controller: impl Fn(&T) -> &Controller,
    new: &Controller,
) -> Option<usize> {
    // One variant per `type` value: comparing variants compares types.
    let ty = std::mem::discriminant(&new.kind);
    let mut insert_at: Option<usize> = None;
    for (i, cur) in existing.iter().map(controller).enumerate().rev() {
        if std::mem::discriminant(&cur.kind) != ty {
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

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::controller::ControllerModel;
    use crate::device::{NicModel, VirtioModel};

    /// Disks on three buses with target names that collide and sort in
    /// every order, controllers of two types with and without index, NICs.
    fn device() -> impl Strategy<Value = Device> {
        let disk = (0usize..3, 0usize..6).prop_map(|(bus, name)| {
            let bus = [DiskBus::Virtio, DiskBus::Scsi, DiskBus::Sata][bus];
            let label = ["vda", "vdb", "sdc", "hdz", "vdaa", "x"][name];
            Device::new(DeviceKind::Disk {
                bus,
                model: VirtioModel::Default,
                drive_controller: None,
            })
            .with_label(label.to_string())
        });
        let controller = (0u32..4, any::<bool>(), any::<bool>()).prop_map(|(i, pci, indexed)| {
            let mut c = if pci {
                Controller::pci(ControllerModel::PciBridge, i)
            } else {
                Controller {
                    kind: ControllerKind::Sata,
                    index: Some(i),
                    companion: false,
                }
            };
            if !indexed {
                c.index = None;
            }
            Device::new(DeviceKind::Controller(c))
        });
        let nic = Just(Device::new(DeviceKind::Interface {
            model: Some(NicModel::Virtio),
            hostdev: None,
        }));
        prop_oneof![3 => disk, 2 => controller, 1 => nic]
    }

    /// Controllers of three types, with indexes that collide, with and
    /// without index, some of them companions.
    fn controller() -> impl Strategy<Value = Controller> {
        (0usize..3, 0u32..5, any::<bool>(), any::<bool>()).prop_map(|(ty, i, indexed, comp)| {
            let kind = match ty {
                0 => ControllerKind::Pci(crate::device::PciController {
                    model: Some(ControllerModel::PciBridge),
                    ..Default::default()
                }),
                1 => ControllerKind::Sata,
                _ => ControllerKind::Usb(None),
            };
            Controller {
                kind,
                index: indexed.then_some(i),
                companion: comp,
            }
        })
    }

    /// The insertion point by the rule over a collected list of the
    /// controllers: the reference for [`Plan::controller_insert_position`].
    fn insert_position_by_list(plan: &Plan, new: &Controller) -> Option<usize> {
        let existing: Vec<(usize, &Controller)> = plan
            .devices
            .iter()
            .enumerate()
            .filter_map(|(i, d)| d.kind.controller().map(|c| (i, c)))
            .collect();
        let at = insert_position(&existing, |e| e.1, new)?;
        match existing.get(at) {
            Some((i, _)) => Some(*i),
            None => existing.last().map(|(i, _)| i.saturating_add(1)),
        }
    }

    fn plan_of(devices: Vec<Device>) -> Plan {
        let mut plan = Plan::new(Machine::pc(), Capabilities::qemu_8_0_x86_64());
        plan.devices = devices;
        plan
    }

    proptest! {
        /// The one-pass insertion point is the rule's over the list of
        /// controllers.
        #[test]
        fn prop_controller_insertion_point_is_the_rules(
            devices in prop::collection::vec(
                prop_oneof![
                    2 => controller().prop_map(|c| Device::new(DeviceKind::Controller(c))),
                    1 => device(),
                ],
                0..30,
            ),
            new in controller(),
        ) {
            let plan = plan_of(devices);
            prop_assert_eq!(plan.controller_insert_position(&new), insert_position_by_list(&plan, &new));
        }

        /// The output order with its append shortcut is the rule applied to
        /// each controller in turn.
        #[test]
        fn prop_controller_output_order_is_the_rule_in_turn(
            controllers in prop::collection::vec(controller(), 0..30),
        ) {
            let plan = plan_of(
                controllers.into_iter().map(|c| Device::new(DeviceKind::Controller(c))).collect(),
            );
            let mut seq: Vec<(usize, &Controller)> = Vec::new();
            for (i, d) in plan.devices.iter().enumerate() {
                if let Some(c) = d.kind.controller() {
                    let at = insert_position(&seq, |e| e.1, c).unwrap_or(seq.len());
                    seq.insert(at.min(seq.len()), (i, c));
                }
            }
            let want: Vec<usize> = seq.into_iter().map(|(i, _)| i).collect();
            prop_assert_eq!(plan.controller_output_order(), want);
        }

        /// Adding a parser's devices in one go gives the list adding them
        /// one by one gives.
        #[test]
        fn prop_adding_many_equals_adding_one_by_one(devices in prop::collection::vec(device(), 0..40)) {
            let mut one = Plan::new(Machine::pc(), Capabilities::qemu_8_0_x86_64());
            for d in devices.clone() {
                one.add_device(d);
            }
            let mut many = Plan::new(Machine::pc(), Capabilities::qemu_8_0_x86_64());
            let mut adding = many.adding();
            for d in devices {
                adding.add(d);
            }
            adding.finish();
            prop_assert_eq!(one.devices(), many.devices());
        }
    }
}
