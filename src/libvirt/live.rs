//! A running guest as a VM manager sees it: its live domain XML, one device
//! element attached or detached at a time (`virsh attach-device --live`,
//! `virsh detach-device --live`), with libvirt 9.0's answers (spec §5.17,
//! `docs/libvirt-rules.md` rules 50–57).
//!
//! [`LiveDomain::parse`] reads the live XML (`virsh dumpxml` of the running
//! guest: aliases, `id=`, seclabels and runtime elements are carried along)
//! and assigns it, which gives back libvirt's addresses and the address set
//! it keeps for the guest. [`LiveDomain::attach`] then does what libvirt's
//! live attach does before and after choosing the slot (the refusals, the
//! SCSI controller index, the virtio-serial port, the alias) and says
//! whether QEMU will refuse the `device_add` libvirt sends
//! ([`crate::qemu::hotplug_refusal`]); [`LiveDomain::detach`] and
//! [`LiveDomain::check_detach`] do the same for a detach.
//!
//! ```
//! use pciplan::libvirt::{LiveDomain, parse_device};
//! use pciplan::{Capabilities, machine::HostPci};
//! let live = "<domain type='qemu' id='3'>\n  <os>\n    <type arch='x86_64' machine='pc-i440fx-7.2'>hvm</type>\n  </os>\n  \
//!             <features>\n    <acpi/>\n  </features>\n  <devices>\n    \
//!             <controller type='pci' index='0' model='pci-root'>\n      <alias name='pci.0'/>\n    </controller>\n    \
//!             <memballoon model='none'/>\n  </devices>\n</domain>\n";
//! let mut guest = LiveDomain::parse(live, &Capabilities::qemu_8_0_x86_64(), &HostPci::default())?;
//! let nic = parse_device("<interface type='user'>\n  <model type='virtio'/>\n</interface>\n")?;
//! let attached = guest.attach(&nic)?;
//! assert_eq!(attached.address().map(|a| a.to_string()).as_deref(), Some("0000:00:02.0"));
//! assert!(attached.qemu_refusal.is_none());
//! # Ok::<(), pciplan::Error>(())
//! ```

use std::collections::BTreeSet;

use super::device::DeviceXml;
use super::{Document, parse_domain};
use crate::address::PciAddress;
use crate::caps::Capabilities;
use crate::device::{ChannelTarget, ControllerKind, Device, DeviceKind};
use crate::diff::Identity;
use crate::error::{Error, LiveError};
use crate::machine::HostPci;
use crate::plan::Plan;
use crate::qemu::{GuestFeatures, HotplugRefusal, hotplug_refusal};

/// A running guest: its live XML, the assigned plan and what was attached
/// or detached since.
#[derive(Debug)]
pub struct LiveDomain<'a> {
    doc: Document<'a>,
    plan: Plan,
    guest: GuestFeatures,
    /// Keys of the plan's devices, by origin token: the document's
    /// elements first, then one per attached device.
    keys: Vec<Identity>,
    /// Document elements detached (by origin token).
    detached: BTreeSet<usize>,
    /// virtio-serial ports in use: (controller, bus, port).
    ports: BTreeSet<(u32, u32, u32)>,
}

/// What a live attach did.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Attached {
    /// The device as libvirt placed it.
    pub device: Device,
    /// The device element with what libvirt added (its `<address>`, a
    /// controller's `index`, a virtio-serial port); every other byte as
    /// given.
    pub xml: String,
    /// The `<alias name>` libvirt gives the device (the element's own
    /// `ua-` alias, or libvirt's `net3`, `virtio-disk1`, `scsi2`, …; rule
    /// 57). Not written into [`Attached::xml`].
    pub alias: Option<String>,
    /// QEMU's refusal of the `device_add` libvirt sends, when QEMU will
    /// refuse it. The guest is then unchanged (libvirt releases the
    /// address), and the libvirt user sees
    /// [`HotplugRefusal::libvirt_message`].
    pub qemu_refusal: Option<HotplugRefusal>,
}

impl Attached {
    /// The PCI address libvirt chose (also when QEMU refuses it).
    pub fn address(&self) -> Option<PciAddress> {
        self.device.address.present()
    }
}

/// What a live detach removed.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Detached {
    /// The device removed (or, when QEMU refuses, the one libvirt asked
    /// QEMU to remove).
    pub device: Device,
    /// Its `<alias name>`, when it has one.
    pub alias: Option<String>,
    /// QEMU's refusal of the `device_del` libvirt sends, when QEMU will
    /// refuse it (the bus has no hot-plug handler, rule 52). The guest is
    /// then unchanged, and the libvirt user sees
    /// [`HotplugRefusal::libvirt_unplug_message`].
    pub qemu_refusal: Option<HotplugRefusal>,
}

/// Which device to detach.
#[derive(Clone, Copy, Debug)]
pub enum DetachTarget<'x, 'a> {
    /// The device an element describes (libvirt matches an interface by
    /// MAC, a disk by target, a controller by type and index, anything by
    /// alias or PCI address when the element gives one).
    Element(&'x DeviceXml<'a>),
    /// The device with this `<alias name>` (`virsh detach-device-alias`).
    Alias(&'x str),
}

/// The message libvirt prints for an error: class prefix and text, without
/// pciplan's `; device: …` suffix.
///
/// ```
/// use pciplan::{AllocError, Error, ErrorClass};
/// let e = Error::Assign { class: ErrorClass::Internal, device: Some("rng".into()), reason: AllocError::NoFreeSlot };
/// assert_eq!(pciplan::libvirt::libvirt_message(&e), "internal error: No more available PCI slots");
/// ```
pub fn libvirt_message(e: &Error) -> String {
    match e {
        Error::Assign { class, reason, .. } => format!("{}{reason}", class.prefix()),
        Error::Config { reason, .. } => format!("{}{reason}", reason.class().prefix()),
        other => other.to_string(),
    }
}

impl<'a> LiveDomain<'a> {
    /// Reads a live domain XML and assigns it (its addresses are all
    /// present, so assignment keeps them and builds the address set libvirt
    /// keeps for the running guest).
    ///
    /// # Errors
    /// Every error of [`parse_domain`] and [`Plan::assign`].
    pub fn parse(
        xml: &'a str,
        caps: &Capabilities,
        host: &HostPci,
    ) -> Result<LiveDomain<'a>, Error> {
        let (doc, plan) = parse_domain(xml, caps, host)?;
        Self::from_parsed(doc, plan)
    }

    /// [`LiveDomain::parse`] with the built-in capabilities of the domain's
    /// architecture (as [`super::parse_domain_builtin`]).
    ///
    /// # Errors
    /// As [`LiveDomain::parse`].
    pub fn parse_builtin(
        xml: &'a str,
        host: &HostPci,
        libvirt: crate::LibvirtVersion,
    ) -> Result<LiveDomain<'a>, Error> {
        let (doc, plan) = super::parse_domain_builtin(xml, host, libvirt)?;
        Self::from_parsed(doc, plan)
    }

    /// [`LiveDomain::parse`] on a document and plan read by the caller.
    ///
    /// # Errors
    /// Every error of [`Plan::assign`].
    pub fn from_parsed(doc: Document<'a>, mut plan: Plan) -> Result<LiveDomain<'a>, Error> {
        plan.assign()?;
        let root = doc.tree.root_element();
        let acpi = root
            .children()
            .filter(|n| n.is_element() && n.tag_name().namespace().is_none())
            .filter(|n| n.has_tag_name("features"))
            .flat_map(|f| f.children())
            .any(|n| {
                n.is_element() && n.tag_name().namespace().is_none() && n.has_tag_name("acpi")
            });
        let mut keys = vec![Identity::default(); doc.elements.len()];
        for (d, id) in plan.devices().iter().zip(super::identities(&doc, &plan)) {
            if let Some(slot) = d.origin.and_then(|o| keys.get_mut(o)) {
                *slot = id;
            }
        }
        let ports = virtio_serial_ports(&doc);
        Ok(LiveDomain {
            doc,
            plan,
            guest: GuestFeatures { acpi },
            keys,
            detached: BTreeSet::new(),
            ports,
        })
    }

    /// The plan of the running guest.
    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    /// The guest facts QEMU's answers depend on.
    pub fn guest(&self) -> GuestFeatures {
        self.guest
    }

    /// Attaches one device as `virsh attach-device --live` does.
    ///
    /// On success the device is part of the guest ([`LiveDomain::plan`]),
    /// unless QEMU refuses the `device_add` ([`Attached::qemu_refusal`]):
    /// then the guest is unchanged and the address is the one libvirt
    /// tried.
    ///
    /// # Errors
    /// libvirt's refusals, with its class and text
    /// ([`libvirt_message`]): the device validation of a definition (a PCI
    /// controller without its options, a second IDE controller, …);
    /// [`LiveError`] for device kinds that cannot be hot-plugged, SCSI
    /// controller indexes and virtio-serial ports in use;
    /// the assignment errors of [`Plan::hotplug_add`] (no free slot,
    /// function ≠ 0, a taken or not hot-pluggable slot, …). On error nothing
    /// changes.
    pub fn attach(&mut self, dev: &DeviceXml<'_>) -> Result<Attached, Error> {
        let mut device = dev.device().clone();
        // The attached device gets the next origin token (placement does
        // not depend on it).
        let token = self.keys.len();
        device.origin = Some(token);
        // libvirt validates the device first (a PCI controller's options, a
        // second IDE controller, …), then refuses kinds it cannot attach.
        self.plan.attached_defaults(&mut device)?;
        self.plan.validate_attached(&device)?;
        check_attachable(&device)?;
        if let DeviceKind::Controller(c) = &mut device.kind
            && matches!(c.kind, ControllerKind::Scsi(_))
        {
            c.index = Some(self.scsi_index(c.index)?);
        }
        let port = self.virtio_serial_port(&device, dev)?;
        // The dry run of the attach: a copy, so that a QEMU refusal (after
        // libvirt chose the address) leaves the guest as it was.
        let mut work = self.plan.clone();
        let i = work.hotplug_add(device)?;
        let placed = work
            .devices()
            .get(i)
            .cloned()
            .ok_or_else(|| crate::XmlError::Invalid {
                element: dev.element().to_string(),
                message: "the attached device is missing from the plan".into(),
            })?;
        let xml = match port {
            Some((c, b, p)) => dev.write_child(&format!(
                "<address type='virtio-serial' controller='{c}' bus='{b}' port='{p}'/>"
            ))?,
            None => dev.write(&placed)?,
        };
        let qemu_refusal = placed
            .address
            .present()
            .and_then(|a| hotplug_refusal(&work, a, self.guest));
        let alias = dev
            .alias()
            .map(str::to_string)
            .or_else(|| self.libvirt_alias(&placed, dev));
        if qemu_refusal.is_none() {
            let mut id = Identity::of_device(&placed);
            id.alias.clone_from(&alias);
            id.mac = dev.mac();
            if let Some(t) = dev.disk_target() {
                id.target = Some(t.to_string());
            }
            self.keys.push(id);
            if let Some(p) = port.or_else(|| dev.virtio_serial_address()) {
                self.ports.insert(p);
            }
            self.plan = work;
        }
        Ok(Attached {
            device: placed,
            xml,
            alias,
            qemu_refusal,
        })
    }

    /// Detaches one device as `virsh detach-device --live` (or
    /// `detach-device-alias`) does; returns the device. Its address is free
    /// for a later attach and no other address moves.
    ///
    /// ```
    /// use pciplan::libvirt::{DetachTarget, LiveDomain, libvirt_message};
    /// use pciplan::{Capabilities, machine::HostPci};
    /// let live = "<domain><os><type arch='x86_64' machine='pc'>hvm</type></os><features><acpi/></features><devices>\
    ///             <video><model type='vga'/><alias name='video0'/></video>\
    ///             <rng model='virtio'><backend model='random'>/dev/urandom</backend><alias name='rng0'/></rng>\
    ///             </devices></domain>";
    /// let mut guest = LiveDomain::parse(live, &Capabilities::qemu_8_0_x86_64(), &HostPci::default())?;
    /// let err = guest.detach(DetachTarget::Alias("video0")).unwrap_err();
    /// assert_eq!(libvirt_message(&err), "Operation not supported: live detach of device 'video' is not supported");
    /// let rng = guest.detach(DetachTarget::Alias("rng0"))?;
    /// assert_eq!(rng.alias.as_deref(), Some("rng0"));
    /// assert!(!guest.write()?.contains("<rng"));
    /// # Ok::<(), pciplan::Error>(())
    /// ```
    ///
    /// # Errors
    /// libvirt's refusals ([`libvirt_message`]): the `device not found`
    /// errors of [`LiveError`] (`InterfaceNotFound`, `DiskNotFound`,
    /// `ControllerNotFound`, `RngNotFound`, `AliasNotFound`, …),
    /// [`LiveError::DetachUnsupported`] for device kinds libvirt cannot
    /// unplug (every video, the primary one included; the balloon); the
    /// refusals of [`Plan::hotplug_remove`] (controllers other than SCSI, a
    /// multifunction slot, a controller with `hotplug='off'`). On error
    /// nothing changes.
    pub fn detach(&mut self, target: DetachTarget<'_, '_>) -> Result<Detached, Error> {
        let (i, detached) = self.plan_detach(target)?;
        if detached.qemu_refusal.is_none() {
            let token = self.plan.devices().get(i).and_then(|d| d.origin);
            self.plan.hotplug_remove(i)?;
            if let Some(t) = token
                && t < self.doc.elements.len()
            {
                self.detached.insert(t);
            }
        }
        Ok(detached)
    }

    /// What [`LiveDomain::detach`] would answer, without changing the
    /// guest: the check a manager makes before it sends a detach, and what
    /// the guest looks like while the unplug waits for the guest OS
    /// (libvirt keeps the device until the guest acknowledges it).
    ///
    /// # Errors
    /// As [`LiveDomain::detach`].
    pub fn check_detach(&self, target: DetachTarget<'_, '_>) -> Result<Detached, Error> {
        self.plan_detach(target).map(|(_, d)| d)
    }

    /// The device `target` names and what detaching it gives.
    fn plan_detach(&self, target: DetachTarget<'_, '_>) -> Result<(usize, Detached), Error> {
        // An element of a kind libvirt does not unplug is refused before
        // it is looked for (a USB controller that does not exist is still
        // "cannot be hot unplugged").
        if let DetachTarget::Element(x) = target {
            check_detachable(x.device())?;
        }
        let i = self.find(target)?;
        let mut token = None;
        if let Some(d) = self.plan.devices().get(i) {
            check_detachable(d)?;
            token = d.origin;
        }
        let alias = token
            .and_then(|t| self.keys.get(t))
            .and_then(|k| k.alias.clone());
        // libvirt's own checks run on a copy: QEMU may still refuse the
        // `device_del`, and then nothing changes.
        let mut work = self.plan.clone();
        let removed = work.hotplug_remove(i)?;
        let qemu_refusal = removed
            .address
            .present()
            .and_then(|a| hotplug_refusal(&self.plan, a, self.guest));
        Ok((
            i,
            Detached {
                device: removed,
                alias,
                qemu_refusal,
            },
        ))
    }

    /// The live XML without the elements detached so far; every other byte
    /// as read. (Attached devices are not written into it: each attach
    /// returns its element.)
    ///
    /// # Errors
    /// [`crate::XmlError::Invalid`] on an internal inconsistency (none is
    /// known).
    pub fn write(&self) -> Result<String, Error> {
        let text = self.doc.text;
        let mut out = String::with_capacity(text.len());
        let mut at = 0usize;
        for &t in &self.detached {
            let Some(e) = self.doc.elements.get(t).and_then(|&n| self.doc.elem(n)) else {
                continue;
            };
            let r = e.range();
            // The element goes with the white space in front of it on its
            // line (its indentation and the line break before it).
            let mut start = r.start.saturating_sub(e.indent().len());
            if text.get(..start).is_some_and(|b| b.ends_with('\n')) {
                start = start.saturating_sub(1);
            }
            if start < at {
                continue;
            }
            out.push_str(text.get(at..start).unwrap_or_default());
            at = r.end;
        }
        out.push_str(text.get(at..).unwrap_or_default());
        Ok(out)
    }

    /// The alias libvirt gives an attached device without one (rule 57):
    /// `scsi<index>` for a SCSI controller, `virtio-disk<n>` for the virtio
    /// disk `vd<n>`, else the kind's prefix (`net`, `rng`, `channel`, …)
    /// and one more than the highest number of that prefix in use.
    fn libvirt_alias(&self, d: &Device, dev: &DeviceXml<'_>) -> Option<String> {
        let prefix = match &d.kind {
            DeviceKind::Controller(c) => {
                return match c.kind {
                    ControllerKind::Scsi(_) => Some(format!("scsi{}", c.idx())),
                    _ => None,
                };
            }
            DeviceKind::Disk { bus, .. } => {
                return match bus {
                    crate::device::DiskBus::Virtio => dev
                        .disk_target()
                        .and_then(crate::plan::disk_name_index)
                        .map(|n| format!("virtio-disk{n}")),
                    crate::device::DiskBus::Scsi => d
                        .drive
                        .map(|x| format!("scsi{}-{}-{}-{}", x.controller, x.bus, x.target, x.unit)),
                    _ => None,
                };
            }
            DeviceKind::Interface { .. } => "net",
            DeviceKind::Rng(_) => "rng",
            DeviceKind::Channel(_) => "channel",
            DeviceKind::Console(_) => "console",
            DeviceKind::Serial(_) => "serial",
            DeviceKind::Input { .. } => "input",
            DeviceKind::Shmem(_) => "shmem",
            DeviceKind::Watchdog(_) => "watchdog",
            DeviceKind::Hostdev(_) => "hostdev",
            DeviceKind::Memory(_) => "dimm",
            DeviceKind::Redirdev => "redir",
            _ => return None,
        };
        let next = self
            .plan
            .devices()
            .iter()
            .filter_map(|d| d.origin.and_then(|o| self.keys.get(o)))
            .filter_map(|k| {
                k.alias
                    .as_deref()?
                    .strip_prefix(prefix)?
                    .parse::<u64>()
                    .ok()
            })
            .max()
            .map_or(0, |n| n.saturating_add(1));
        Some(format!("{prefix}{next}"))
    }

    /// The lowest SCSI controller index not in use (libvirt's choice for a
    /// controller without index), or the given one if free.
    fn scsi_index(&self, given: Option<u32>) -> Result<u32, Error> {
        let used: BTreeSet<u32> = self
            .plan
            .devices()
            .iter()
            .filter_map(|d| d.kind.controller())
            .filter(|c| matches!(c.kind, ControllerKind::Scsi(_)))
            .map(|c| c.idx())
            .collect();
        match given {
            Some(i) if used.contains(&i) => Err(LiveError::ControllerExists {
                controller_type: "scsi",
                index: i,
            }
            .into()),
            Some(i) => Ok(i),
            None => Ok((0..=u32::MAX).find(|i| !used.contains(i)).unwrap_or(0)),
        }
    }

    /// The virtio-serial port libvirt gives a virtio channel or console
    /// without an address: the first free port (from 1) of the first
    /// virtio-serial controller, in index order, that has one.
    fn virtio_serial_port(
        &self,
        device: &Device,
        dev: &DeviceXml<'_>,
    ) -> Result<Option<(u32, u32, u32)>, Error> {
        // A virtio console gets a target port, not an address (rule 54).
        let virtio = matches!(
            device.kind,
            DeviceKind::Channel(ChannelTarget::Virtio { .. })
        );
        if !virtio {
            return Ok(None);
        }
        if let Some((c, b, p)) = dev.virtio_serial_address()
            && self.ports.contains(&(c, b, p))
        {
            return Err(LiveError::PortOccupied {
                controller: c,
                port: p,
            }
            .into());
        }
        if dev.has_address() {
            return Ok(None);
        }
        let mut controllers: Vec<u32> = self
            .plan
            .devices()
            .iter()
            .filter_map(|d| d.kind.controller())
            .filter(|c| matches!(c.kind, ControllerKind::VirtioSerial(_)))
            .map(|c| c.idx())
            .collect();
        controllers.sort_unstable();
        if controllers.is_empty() {
            return Err(LiveError::NoVirtioSerial.into());
        }
        for c in controllers {
            if let Some(p) = (1..VIRTIO_SERIAL_PORTS).find(|p| !self.ports.contains(&(c, 0, *p))) {
                return Ok(Some((c, 0, p)));
            }
        }
        Err(LiveError::NoVirtioSerialPort.into())
    }

    /// The plan position of the device `target` names.
    fn find(&self, target: DetachTarget<'_, '_>) -> Result<usize, Error> {
        let key = |d: &Device| d.origin.and_then(|o| self.keys.get(o));
        let found = match target {
            DetachTarget::Alias(alias) => self
                .plan
                .devices()
                .iter()
                .position(|d| key(d).and_then(|k| k.alias.as_deref()) == Some(alias)),
            DetachTarget::Element(x) => self
                .plan
                .devices()
                .iter()
                .position(|d| key(d).is_some_and(|k| element_matches(x, d, k))),
        };
        found.ok_or_else(|| not_found(target).into())
    }
}

/// libvirt's message for a detach that matches nothing.
fn not_found(target: DetachTarget<'_, '_>) -> LiveError {
    const NULL: &str = "(<null>)";
    let x = match target {
        DetachTarget::Alias(alias) => {
            return LiveError::AliasNotFound {
                alias: alias.to_string(),
            };
        }
        DetachTarget::Element(x) => x,
    };
    match &x.device().kind {
        DeviceKind::Interface { .. } => LiveError::InterfaceNotFound {
            addr: x
                .device()
                .address
                .present()
                .map_or_else(|| NULL.to_string(), |a| a.to_string()),
            mac: x.mac().unwrap_or_else(|| NULL.to_string()),
            alias: x.alias().unwrap_or(NULL).to_string(),
        },
        DeviceKind::Disk { .. } => LiveError::DiskNotFound {
            target: x.disk_target().unwrap_or_default().to_string(),
        },
        DeviceKind::Controller(c) => LiveError::ControllerNotFound {
            controller_type: c.kind.type_name(),
            index: c.idx(),
        },
        DeviceKind::Rng(_) => LiveError::RngNotFound {
            backend: x.rng_backend().unwrap_or_default().to_string(),
        },
        k => LiveError::NotFound {
            device: k.libvirt_type(),
        },
    }
}

/// Ports per virtio-serial controller: libvirt's default of 31 (0–30).
const VIRTIO_SERIAL_PORTS: u32 = 31;

/// Whether the element `x` describes the plan device `d` (keys `k`).
fn element_matches(x: &DeviceXml<'_>, d: &Device, k: &Identity) -> bool {
    let wanted = x.device();
    if std::mem::discriminant(&wanted.kind) != std::mem::discriminant(&d.kind) {
        return false;
    }
    if let Some(alias) = x.alias() {
        return k.alias.as_deref() == Some(alias);
    }
    if let (Some(a), true) = (wanted.address.present(), x.pci_address_given())
        && d.address.present() != Some(a)
    {
        return false;
    }
    match (&wanted.kind, &d.kind) {
        (DeviceKind::Interface { .. }, _) => {
            x.mac().is_none_or(|m| k.mac.as_deref() == Some(m.as_str()))
        }
        (DeviceKind::Disk { .. }, _) => x
            .disk_target()
            .is_none_or(|t| k.target.as_deref() == Some(t)),
        (DeviceKind::Controller(w), DeviceKind::Controller(c)) => {
            w.kind.type_name() == c.kind.type_name() && w.idx() == c.idx()
        }
        (DeviceKind::Hostdev(w), DeviceKind::Hostdev(h)) => w == h,
        (w, h) => w == h,
    }
}

/// libvirt's refusals of a live attach by device kind (controllers other
/// than SCSI are refused by [`Plan::hotplug_add`]).
fn check_attachable(device: &Device) -> Result<(), Error> {
    if never_live(&device.kind) {
        return Err(LiveError::AttachUnsupported {
            device: device.kind.libvirt_type(),
        }
        .into());
    }
    Ok(())
}

/// The kinds libvirt neither attaches nor detaches live.
fn never_live(kind: &DeviceKind) -> bool {
    matches!(
        kind,
        DeviceKind::Sound(_)
            | DeviceKind::Video(_)
            | DeviceKind::Memballoon(_)
            | DeviceKind::Hub
            | DeviceKind::Smartcard
            | DeviceKind::Nvram
            | DeviceKind::Tpm { .. }
            | DeviceKind::Panic
            | DeviceKind::Iommu(_)
    )
}

/// libvirt's refusals of a live detach by device kind (every video, the
/// primary one included; controllers other than SCSI).
fn check_detachable(d: &Device) -> Result<(), Error> {
    match &d.kind {
        DeviceKind::Controller(c) if !matches!(c.kind, ControllerKind::Scsi(_)) => {
            let reason = crate::AllocError::ControllerUnplug {
                controller_type: c.kind.type_name(),
            };
            Err(Error::Assign {
                class: reason.class(false),
                device: Some(d.to_string()),
                reason,
            })
        }
        k if never_live(k) => Err(LiveError::DetachUnsupported {
            device: d.kind.libvirt_type(),
        }
        .into()),
        _ => Ok(()),
    }
}

/// The virtio-serial ports the live XML's devices use.
fn virtio_serial_ports(doc: &Document<'_>) -> BTreeSet<(u32, u32, u32)> {
    let mut out = BTreeSet::new();
    for &n in &doc.elements {
        let Some(e) = doc.elem(n) else { continue };
        let Some(a) = e.child("address") else {
            continue;
        };
        if a.attr("type").map(|t| t.value) != Some("virtio-serial") {
            continue;
        }
        let num = |name: &str| {
            a.attr(name)
                .and_then(|v| super::parse::strtoul(v.value))
                .and_then(|v| u32::try_from(v).ok())
                .unwrap_or(0)
        };
        out.insert((num("controller"), num("bus"), num("port")));
    }
    out
}
