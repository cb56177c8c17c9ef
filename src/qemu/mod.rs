//! QEMU `-device` arguments for a plan, in libvirt's naming.
//!
//! [`device_args`] turns every PCI controller and every device with a PCI
//! address into the value of one `-device` argument: the QEMU driver for the
//! model, `id=`, `bus=` and `addr=`, as libvirt's QEMU driver writes them.
//! [`command_line`] adds `-machine` (and `-cpu` where the machine's default
//! CPU does not run under TCG), `-nodefaults` (so QEMU adds none of the
//! machine's default devices: no NIC, VGA, USB or CD-ROM) and a *null* back end for
//! each device that needs one (`null-co` block nodes, an `rng-random` object
//! on `/dev/urandom`, `null` character devices, a `none` audio back end, a
//! `synth` 9p file system, RAM memory back ends), so the result runs as is:
//! it is meant for testing a topology, not for running a guest's workload.
//!
//! ```
//! use pciplan::{Capabilities, Device, DeviceKind, Machine, Plan, VirtioModel};
//! let mut plan = Plan::new(Machine::q35(), Capabilities::qemu_8_0_x86_64());
//! plan.add_device(Device::new(DeviceKind::Rng(VirtioModel::Default)));
//! plan.assign()?;
//! let args = pciplan::qemu::device_args(&plan)?;
//! assert!(args.contains(&"pcie-root-port,port=0x8,chassis=1,id=pci.1,bus=pcie.0,multifunction=on,addr=0x1".to_string()));
//! assert!(args.iter().any(|a| a.starts_with("virtio-rng-pci,rng=objrng0,id=rng0,bus=pci.")));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Machines: x86 `pc` and `q35`, arm and riscv `virt`, ppc64 `pseries`
//! and s390x `s390-ccw-virtio` ([`emulator`] names the QEMU program; the
//! table of bus names is in `src/qemu/machine.rs`). Only PCI is written:
//! devices with another address (virtio-mmio, CCW, spapr-vio, ISA, USB, …)
//! are left out of the command line, so a guest's non-PCI devices are
//! missing from it.
//!
//! Naming (libvirt's): the PCI controller with index N has `id=pci.N`; bus 0
//! is `pcie.0` on q35, arm and riscv `virt`, and `pci.0` on i440fx,
//! pSeries and s390; a device on bus N > 0 has `bus=pci.N`, except on a
//! pSeries PHB with index N, whose bus is `pci.N.0` (the PHB itself is
//! `-device spapr-pci-host-bridge,index=<target index>,id=pci.N`, the one
//! with target index 0 is built in); on s390 every PCI device with zPCI
//! identifiers is preceded by `-device zpci,uid=U,fid=F,target=<its
//! id>,id=zpciU`; `addr=0xS` for function 0 and `addr=0xS.0xF` otherwise;
//! `multifunction=on|off` where the plan says so. The roots (`pci-root`,
//! `pcie-root`) and the devices the machine itself provides (the i440fx IDE
//! controller at 00:01.1, the q35 SATA controller at 00:1f.2) get no
//! `-device`. Controllers are ordered parents first; every other device
//! follows in plan order, USB companion controllers after their master.
//!
//! Devices whose model the plan does not record use a fixed choice: a virtio
//! input is a `virtio-tablet-pci` unless its label (the XML front end puts
//! the input `type` there) says `mouse`, `keyboard` or `passthrough`; a NIC
//! without model is an `rtl8139`; a USB controller without model is a
//! `piix3-usb-uhci`.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use thiserror::Error;

use crate::address::{Multifunction, PciAddress};
use crate::controller::ControllerModel;
use crate::device::{
    BalloonModel, Controller, ControllerKind, Device, DeviceKind, DiskBus, FsDriver, HostdevSource,
    IommuModel, MemoryModel, NicModel, PciController, ScsiModel, SerialTarget, SoundModel,
    UsbModel, VideoModel, VirtioModel, WatchdogModel,
};
use crate::plan::Plan;

mod hotplug;
mod machine;

pub use hotplug::{GuestFeatures, HotplugRefusal, hotplug_refusal};

/// Why a plan cannot be written as QEMU arguments.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum QemuError {
    /// QEMU has no PCI device for this device model.
    #[error("{device} at {addr} has no QEMU PCI device ({why})")]
    Unsupported {
        /// The device.
        device: String,
        /// Its PCI address.
        addr: PciAddress,
        /// What is missing.
        why: &'static str,
    },
    /// The device passes a host resource through that the plan does not
    /// name (a host PCI address, a vhost-scsi WWPN, an evdev path, …).
    #[error("{device} at {addr} needs a host resource the plan does not name: {what}")]
    HostResource {
        /// The device.
        device: String,
        /// Its PCI address.
        addr: PciAddress,
        /// The missing resource.
        what: &'static str,
    },
    /// A device sits on a bus that no PCI controller of the plan provides.
    #[error("{device} at {addr} is on bus {bus}, which no PCI controller provides")]
    MissingBus {
        /// The device.
        device: String,
        /// Its PCI address.
        addr: PciAddress,
        /// The bus number.
        bus: u8,
    },
    /// A PCI controller without a model (the plan was not assigned).
    #[error("PCI controller index {index} has no model")]
    NoModel {
        /// The controller index.
        index: u32,
    },
    /// The plan has PCI addresses but no PCI root controller at index 0.
    #[error("the plan has no pci-root or pcie-root controller")]
    NoRoot,
    /// The machine has no QEMU PCI command line here.
    #[error("no QEMU command line for machine {machine} on {arch}")]
    UnsupportedMachine {
        /// The architecture.
        arch: &'static str,
        /// The machine type.
        machine: String,
    },
}

/// The `-device` values of every PCI controller and PCI device of an
/// assigned plan.
///
/// # Errors
/// [`QemuError::UnsupportedMachine`] for a machine without a command line
/// here; [`QemuError::NoRoot`] (PCI addresses but no root controller) and
/// [`QemuError::NoModel`] for a plan that was not assigned;
/// [`QemuError::MissingBus`] for a device on a bus no controller provides;
/// [`QemuError::Unsupported`] for a device QEMU cannot emulate on PCI (a
/// Xen channel, a `vbox` video, …); [`QemuError::HostResource`] for a
/// passthrough device whose host side the plan does not name.
pub fn device_args(plan: &Plan) -> Result<Vec<String>, QemuError> {
    Ok(Builder::build(plan)?.devices)
}

/// The QEMU program that runs the plan's machine (`qemu-system-x86_64`,
/// `qemu-system-aarch64`, `qemu-system-ppc64`, `qemu-system-s390x`, …).
///
/// ```
/// use pciplan::{Capabilities, Machine, Plan};
/// let plan = Plan::new(Machine::new("ppc64", "pseries")?, Capabilities::empty());
/// assert_eq!(pciplan::qemu::emulator(&plan)?, "qemu-system-ppc64");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// [`QemuError::UnsupportedMachine`] for machines without a command line.
pub fn emulator(plan: &Plan) -> Result<&'static str, QemuError> {
    Ok(machine::target(plan)?.emulator)
}

/// A complete QEMU argument list (without the program name, which is
/// [`emulator`]) for an assigned plan: `-machine <family> [-cpu <model>]
/// -nodefaults`, memory and NUMA nodes when
/// the plan has guest NUMA cells or memory devices, the null back ends, then
/// one `-device` pair per entry of [`device_args`].
///
/// The machine is the family's generic name (`pc`, `q35`, `virt`,
/// `pseries`, `s390-ccw-virtio`), not the plan's versioned machine type, so
/// the line runs on the QEMU at hand.
///
/// ```
/// use pciplan::{Capabilities, Device, DeviceKind, Machine, Plan, VirtioModel};
/// use pciplan::device::DiskBus;
/// let mut plan = Plan::new(Machine::pc(), Capabilities::qemu_8_0_x86_64());
/// plan.add_device(Device::new(DeviceKind::Disk { bus: DiskBus::Virtio, model: VirtioModel::Default, drive_controller: None }));
/// plan.assign()?;
/// let line = pciplan::qemu::command_line(&plan)?;
/// assert_eq!(line[..3], ["-machine", "pc", "-nodefaults"]);
/// assert!(line.contains(&"driver=null-co,node-name=drive0,read-zeroes=on".to_string()));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// As [`device_args`].
pub fn command_line(plan: &Plan) -> Result<Vec<String>, QemuError> {
    let built = Builder::build(plan)?;
    let target = built.target;
    let mut out: Vec<String> = vec!["-machine".into(), target.machine.into()];
    if let Some(cpu) = target.cpu {
        out.extend(["-cpu".into(), cpu.into()]);
    }
    out.push("-nodefaults".into());
    let node_mib = target.numa_node_mib;
    let cells = plan.numa_cells;
    let base_mib = if cells > 0 {
        node_mib.saturating_mul(cells)
    } else {
        256
    };
    let mut memory = format!("{base_mib}M");
    if built.memory_devices > 0 {
        let max = base_mib.saturating_add(built.memory_devices.saturating_mul(MEMORY_DEVICE_MIB));
        let _ = write!(
            memory,
            ",slots={},maxmem={max}M",
            built.memory_devices.max(1)
        );
    }
    out.extend(["-m".into(), memory]);
    for n in 0..cells {
        out.extend([
            "-object".into(),
            format!("memory-backend-ram,id=ram-node{n},size={node_mib}M"),
            "-numa".into(),
            format!("node,nodeid={n},memdev=ram-node{n}"),
        ]);
    }
    out.extend(built.backends);
    for d in built.devices {
        out.push("-device".into());
        out.push(d);
    }
    Ok(out)
}

/// Size of the RAM back end of a `virtio-pmem`/`virtio-mem` device.
const MEMORY_DEVICE_MIB: u32 = 128;

/// The arguments being built.
struct Builder<'p> {
    plan: &'p Plan,
    /// The machine part.
    target: machine::Target,
    /// `-device` values.
    devices: Vec<String>,
    /// Back-end arguments, in pairs (`-blockdev`, value).
    backends: Vec<String>,
    /// Number of memory devices (they need `maxmem`).
    memory_devices: u32,
    /// Whether the first video device was seen (it is the primary one).
    primary_video_seen: bool,
    /// Whether the `none` audio back end was added.
    audio: bool,
    /// Per-prefix counters for ids.
    counters: Vec<(&'static str, u32)>,
}

impl<'p> Builder<'p> {
    fn build(plan: &'p Plan) -> Result<Builder<'p>, QemuError> {
        let mut b = Builder {
            plan,
            target: machine::target(plan)?,
            devices: machine::phb_devices(plan),
            backends: Vec::new(),
            memory_devices: 0,
            primary_video_seen: false,
            audio: false,
            counters: Vec::new(),
        };
        if !plan.devices().iter().any(|d| is_root(d, 0)) {
            // A machine without PCI (s390 without zPCI): nothing to write.
            if plan.devices().iter().any(|d| d.address.present().is_some()) {
                return Err(QemuError::NoRoot);
            }
            return Ok(b);
        }
        for i in controller_order(plan)? {
            if let Some(d) = plan.devices().get(i) {
                b.pci_controller(d)?;
            }
        }
        // USB companions name their master's bus, so they come after it.
        let (companions, others): (Vec<&Device>, Vec<&Device>) =
            plan.devices().iter().partition(|d| is_companion(d));
        for d in others.into_iter().chain(companions) {
            b.device(d)?;
        }
        Ok(b)
    }

    /// The next id with this prefix (`net0`, `net1`, …).
    fn next_id(&mut self, prefix: &'static str) -> String {
        let n = match self.counters.iter_mut().find(|(p, _)| *p == prefix) {
            Some((_, n)) => {
                *n = n.saturating_add(1);
                *n
            }
            None => {
                self.counters.push((prefix, 0));
                0
            }
        };
        format!("{prefix}{n}")
    }

    /// `bus=...,[multifunction=on,]addr=...` for an address.
    fn placement(&self, d: &Device, a: PciAddress) -> Result<String, QemuError> {
        let bus = machine::bus_name(self.plan, &self.target, a.bus()).ok_or_else(|| {
            QemuError::MissingBus {
                device: d.to_string(),
                addr: a,
                bus: a.bus(),
            }
        })?;
        let mut s = format!("bus={bus}");
        match a.multifunction() {
            Multifunction::On => s.push_str(",multifunction=on"),
            Multifunction::Off => s.push_str(",multifunction=off"),
            Multifunction::Absent => {}
        }
        let _ = write!(s, ",addr={:#x}", a.slot().as_u8());
        if a.function().as_u8() != 0 {
            let _ = write!(s, ".{:#x}", a.function().as_u8());
        }
        Ok(s)
    }

    fn push(&mut self, d: &Device, a: PciAddress, head: String) -> Result<(), QemuError> {
        let at = self.placement(d, a)?;
        self.zpci(d, &head);
        self.devices.push(format!("{head},{at}"));
        Ok(())
    }

    /// The `zpci` device of an s390 PCI device with zPCI identifiers; it
    /// comes first, or QEMU makes one of its own for the device.
    fn zpci(&mut self, d: &Device, head: &str) {
        let Some(z) = d.zpci.filter(|_| self.target.zpci) else {
            return;
        };
        let (Some(uid), Some(fid)) = (z.uid, z.fid) else {
            return;
        };
        let Some(id) = head
            .split(',')
            .find_map(|p| p.strip_prefix("id="))
            .map(str::to_string)
        else {
            return;
        };
        self.devices
            .push(format!("zpci,uid={uid},fid={fid},target={id},id=zpci{uid}"));
    }

    fn backend(&mut self, option: &str, value: String) {
        self.backends.push(option.to_string());
        self.backends.push(value);
    }

    fn pci_controller(&mut self, d: &Device) -> Result<(), QemuError> {
        let (Some(c), Some(a)) = (d.kind.controller(), d.address.present()) else {
            return Ok(());
        };
        let ControllerKind::Pci(p) = &c.kind else {
            return Ok(());
        };
        let index = c.idx();
        let model = p.model.ok_or(QemuError::NoModel { index })?;
        let driver = p
            .model_name
            .as_deref()
            .or_else(|| model.default_model_name(self.plan.caps()))
            .ok_or(QemuError::NoModel { index })?;
        let head = controller_head(model, driver, p, index);
        self.push(d, a, head)
    }

    fn device(&mut self, d: &Device) -> Result<(), QemuError> {
        let Some(a) = d.address.present() else {
            return Ok(());
        };
        let unsupported = |why| QemuError::Unsupported {
            device: d.to_string(),
            addr: a,
            why,
        };
        let host = |what| QemuError::HostResource {
            device: d.to_string(),
            addr: a,
            what,
        };
        let head = match &d.kind {
            DeviceKind::Controller(c) => match self.controller(c, a) {
                Some(Ok(h)) => h,
                Some(Err(why)) => return Err(unsupported(why)),
                None => return Ok(()),
            },
            DeviceKind::Disk { bus, model, .. } => {
                if *bus != DiskBus::Virtio {
                    return Err(unsupported("only virtio disks are PCI devices"));
                }
                let node = self.next_id("drive");
                let id = self.next_id("disk");
                self.backend(
                    "-blockdev",
                    format!("driver=null-co,node-name={node},read-zeroes=on"),
                );
                format!("virtio-blk-pci{},drive={node},id={id}", suffix(*model))
            }
            DeviceKind::Interface { model, hostdev } => {
                if let Some(src) = hostdev {
                    self.hostdev(src).map_err(host)?
                } else {
                    let driver = nic_driver(model.as_ref())
                        .ok_or_else(|| unsupported("usb-net is a USB device"))?;
                    let id = self.next_id("net");
                    format!("{driver},id={id}")
                }
            }
            DeviceKind::Hostdev(src) => self.hostdev(src).map_err(host)?,
            DeviceKind::Sound(m) => return self.sound(d, a, *m).map_err(unsupported),
            DeviceKind::Video(m) => {
                let primary = !self.primary_video_seen;
                self.primary_video_seen = true;
                let driver = self.video_driver(*m, primary).map_err(unsupported)?;
                let id = self.next_id("video");
                format!("{driver},id={id}")
            }
            DeviceKind::Serial(SerialTarget::Pci) => {
                let id = self.next_id("serial");
                self.backend("-chardev", format!("null,id=char{id}"));
                format!("pci-serial,chardev=char{id},id={id}")
            }
            DeviceKind::Filesystem { driver, model } => match driver {
                FsDriver::Default | FsDriver::Path | FsDriver::Handle => {
                    let id = self.next_id("fs");
                    self.backend("-fsdev", format!("synth,id=fsdev-{id}"));
                    format!(
                        "virtio-9p-pci{},fsdev=fsdev-{id},mount_tag={id},id={id}",
                        suffix(*model)
                    )
                }
                FsDriver::Virtiofs => return Err(host("a virtiofsd socket")),
                FsDriver::Loop | FsDriver::Nbd | FsDriver::Ploop => {
                    return Err(unsupported("filesystem driver without PCI device"));
                }
            },
            DeviceKind::Watchdog(WatchdogModel::I6300esb) => {
                format!("i6300esb,id={}", self.next_id("watchdog"))
            }
            DeviceKind::Memballoon(m) => {
                let sfx = match m {
                    BalloonModel::Virtio => "",
                    BalloonModel::VirtioTransitional => "-transitional",
                    BalloonModel::VirtioNonTransitional => "-non-transitional",
                    BalloonModel::Xen | BalloonModel::None => {
                        return Err(unsupported("memballoon model without PCI device"));
                    }
                };
                format!("virtio-balloon-pci{sfx},id={}", self.next_id("balloon"))
            }
            DeviceKind::Rng(m) => {
                let id = self.next_id("rng");
                self.backend(
                    "-object",
                    format!("rng-random,id=obj{id},filename=/dev/urandom"),
                );
                format!("virtio-rng-pci{},rng=obj{id},id={id}", suffix(*m))
            }
            DeviceKind::Shmem(_) => {
                let id = self.next_id("shmem");
                self.backend(
                    "-object",
                    format!("memory-backend-ram,id=shmmem-{id},size=4M,share=on"),
                );
                format!("ivshmem-plain,memdev=shmmem-{id},id={id}")
            }
            DeviceKind::Input { .. } => {
                let driver = match d.label.as_str() {
                    "mouse" => "virtio-mouse-pci",
                    "keyboard" => "virtio-keyboard-pci",
                    "passthrough" => return Err(host("an evdev device path")),
                    _ => "virtio-tablet-pci",
                };
                format!("{driver},id={}", self.next_id("input"))
            }
            // libvirt's first console of a serial port is that port again.
            DeviceKind::Console(_) if self.is_serial_address(a) => return Ok(()),
            DeviceKind::Iommu(IommuModel::Virtio) => {
                format!("virtio-iommu-pci,id={}", self.next_id("iommu"))
            }
            DeviceKind::Vsock(m) => {
                let id = self.next_id("vsock");
                let cid = 3u32.saturating_add(self.vsock_count());
                let sfx = if *m == VirtioModel::NonTransitional {
                    "-non-transitional"
                } else {
                    ""
                };
                format!("vhost-vsock-pci{sfx},guest-cid={cid},id={id}")
            }
            DeviceKind::Memory(m @ (MemoryModel::VirtioPmem | MemoryModel::VirtioMem)) => {
                let id = self.next_id("memory");
                self.memory_devices = self.memory_devices.saturating_add(1);
                self.backend(
                    "-object",
                    format!("memory-backend-ram,id=mem{id},size={MEMORY_DEVICE_MIB}M"),
                );
                if *m == MemoryModel::VirtioPmem {
                    format!("virtio-pmem-pci,memdev=mem{id},id={id}")
                } else {
                    format!("virtio-mem-pci,memdev=mem{id},requested-size=0,id={id}")
                }
            }
            _ => return Err(unsupported("no PCI device for this element")),
        };
        self.push(d, a, head)
    }

    fn is_serial_address(&self, a: PciAddress) -> bool {
        self.plan.devices().iter().any(|d| {
            matches!(d.kind, DeviceKind::Serial(_))
                && d.address.present().is_some_and(|s| s.key() == a.key())
        })
    }

    fn vsock_count(&self) -> u32 {
        self.counters
            .iter()
            .find(|(p, _)| *p == "vsock")
            .map_or(0, |(_, n)| *n)
    }

    /// The head of a non-PCI controller; `None` for the machine's own
    /// controllers; `Some(Err)` for models without a QEMU PCI device.
    fn controller(
        &mut self,
        c: &Controller,
        a: PciAddress,
    ) -> Option<Result<String, &'static str>> {
        let q35 = self.plan.machine().is_q35();
        let at = |bus: u8, slot: u8, function: u8| {
            a.bus() == bus && a.slot().as_u8() == slot && a.function().as_u8() == function
        };
        let index = c.idx();
        let head = match &c.kind {
            ControllerKind::Pci(_) => return None,
            ControllerKind::Ide if !q35 && index == 0 && at(0, 1, 1) => return None,
            ControllerKind::Ide => return Some(Err("only the i440fx IDE at 00:01.1")),
            ControllerKind::Sata if q35 && index == 0 && at(0, 0x1f, 2) => return None,
            ControllerKind::Sata => format!("ich9-ahci,id=sata{index}"),
            ControllerKind::Usb(m) => {
                let model = m.unwrap_or(UsbModel::Piix3Uhci);
                let Some(driver) = usb_driver(model) else {
                    return Some(Err("USB model without PCI device"));
                };
                // Companions share the master's index, so they get ids of
                // their own.
                let Some(first) = companion_first_port(model) else {
                    return Some(Ok(format!("{driver},id=usb{index}")));
                };
                let mut s = format!("{driver},id=usb{index}-companion{first}");
                if self.has_ehci_master(index) {
                    let _ = write!(s, ",masterbus=usb{index}.0,firstport={first}");
                }
                s
            }
            ControllerKind::Scsi(m) => {
                let Some(driver) = self.scsi_driver(*m) else {
                    return Some(Err("SCSI model without x86 PCI device"));
                };
                format!("{driver},id=scsi{index}")
            }
            ControllerKind::VirtioSerial(m) => {
                format!("virtio-serial-pci{},id=virtio-serial{index}", suffix(*m))
            }
            ControllerKind::Fdc
            | ControllerKind::Ccid
            | ControllerKind::Xenbus
            | ControllerKind::Isa => return Some(Err("not a PCI controller")),
        };
        Some(Ok(head))
    }

    /// Whether an EHCI master with this index exists (for companions).
    fn has_ehci_master(&self, index: u32) -> bool {
        self.plan.devices().iter().any(|d| {
            d.kind.controller().is_some_and(|c| {
                c.idx() == index
                    && matches!(
                        c.kind,
                        ControllerKind::Usb(Some(UsbModel::Ich9Ehci1 | UsbModel::Ehci))
                    )
                    && d.address.present().is_some()
            })
        })
    }

    /// libvirt's SCSI default on x86: `lsi` when QEMU has it, else
    /// virtio-scsi.
    fn scsi_driver(&self, m: Option<ScsiModel>) -> Option<&'static str> {
        Some(match m {
            None | Some(ScsiModel::Auto) => {
                if self.plan.caps().has("lsi") || !self.plan.caps().has("virtio-scsi") {
                    "lsi"
                } else {
                    "virtio-scsi-pci"
                }
            }
            Some(ScsiModel::Lsilogic) => "lsi",
            Some(ScsiModel::VirtioScsi) => "virtio-scsi-pci",
            Some(ScsiModel::VirtioTransitional) => "virtio-scsi-pci-transitional",
            Some(ScsiModel::VirtioNonTransitional) => "virtio-scsi-pci-non-transitional",
            Some(ScsiModel::Lsisas1068) => "mptsas1068",
            Some(ScsiModel::Lsisas1078) => "megasas",
            Some(ScsiModel::Vmpvscsi) => "pvscsi",
            Some(ScsiModel::Am53c974) => "am53c974",
            Some(ScsiModel::Dc390) => "dc390",
            Some(ScsiModel::Buslogic | ScsiModel::Ibmvscsi | ScsiModel::Ncr53c90) => {
                return None;
            }
        })
    }

    fn hostdev(&mut self, src: &HostdevSource) -> Result<String, &'static str> {
        match src {
            HostdevSource::Pci(Some(h)) => {
                let id = self.next_id("hostdev");
                Ok(format!(
                    "vfio-pci,host={:04x}:{:02x}:{:02x}.{:x},id={id}",
                    h.domain(),
                    h.bus(),
                    h.slot().as_u8(),
                    h.function().as_u8()
                ))
            }
            HostdevSource::Pci(None) => Err("the host PCI address"),
            HostdevSource::ScsiHost(_) => Err("a vhost-scsi WWPN"),
            HostdevSource::MdevVfioPci | HostdevSource::MdevVfioCcw | HostdevSource::MdevOther => {
                Err("an mdev sysfs path")
            }
            HostdevSource::Scsi(_) | HostdevSource::Other => Err("a non-PCI host device"),
        }
    }

    fn sound(&mut self, d: &Device, a: PciAddress, m: SoundModel) -> Result<(), &'static str> {
        let id = self.next_id("sound");
        if !self.audio {
            self.audio = true;
            self.backend("-audiodev", "none,id=audio0".into());
        }
        let (driver, hda) = match m {
            SoundModel::Ich6 => ("intel-hda", true),
            SoundModel::Ich9 => ("ich9-intel-hda", true),
            SoundModel::Ac97 => ("AC97", false),
            SoundModel::Es1370 => ("ES1370", false),
            SoundModel::Sb16 | SoundModel::Pcspk | SoundModel::Usb | SoundModel::Ich7 => {
                return Err("sound model without PCI device");
            }
        };
        let head = if hda {
            format!("{driver},id={id}")
        } else {
            format!("{driver},audiodev=audio0,id={id}")
        };
        self.push(d, a, head)
            .map_err(|_| "bus without PCI controller")?;
        if hda {
            self.devices.push(format!(
                "hda-duplex,id={id}-codec0,bus={id}.0,cad=0,audiodev=audio0"
            ));
        }
        Ok(())
    }

    fn video_driver(&self, m: VideoModel, primary: bool) -> Result<&'static str, &'static str> {
        Ok(match (m, primary) {
            (VideoModel::Vga, _) => "VGA",
            (VideoModel::Cirrus, _) => "cirrus-vga",
            (VideoModel::Vmvga, _) => "vmware-svga",
            (VideoModel::Bochs, _) => "bochs-display",
            (VideoModel::Qxl, true) => "qxl-vga",
            (VideoModel::Qxl, false) => "qxl",
            (VideoModel::Virtio, true) if self.plan.caps().has("virtio-vga") => "virtio-vga",
            (VideoModel::Virtio, _) => "virtio-gpu-pci",
            (
                VideoModel::Default
                | VideoModel::Xen
                | VideoModel::Vbox
                | VideoModel::Parallels
                | VideoModel::Gop
                | VideoModel::None
                | VideoModel::Ramfb,
                _,
            ) => return Err("video model without QEMU PCI device"),
        })
    }
}

/// The `-device` head (driver, properties and id) of a PCI controller.
fn controller_head(model: ControllerModel, driver: &str, p: &PciController, index: u32) -> String {
    let t = &p.target;
    let mut s = driver.to_string();
    match model {
        ControllerModel::PcieRootPort | ControllerModel::PcieSwitchDownstreamPort => {
            let _ = write!(
                s,
                ",port={:#x},chassis={}",
                t.port.unwrap_or(0),
                t.chassis.unwrap_or(index)
            );
            if t.hotplug == Some(false) {
                s.push_str(",hotplug=off");
            }
        }
        ControllerModel::PciBridge => {
            let _ = write!(s, ",chassis_nr={}", t.chassis_nr.unwrap_or(index));
        }
        ControllerModel::PciExpanderBus | ControllerModel::PcieExpanderBus => {
            if let Some(nr) = t.bus_nr {
                let _ = write!(s, ",bus_nr={nr}");
            }
            if let Some(node) = t.node {
                let _ = write!(s, ",numa_node={node}");
            }
        }
        ControllerModel::PciRoot
        | ControllerModel::PcieRoot
        | ControllerModel::DmiToPciBridge
        | ControllerModel::PcieSwitchUpstreamPort
        | ControllerModel::PcieToPciBridge => {}
    }
    let _ = write!(s, ",id=pci.{index}");
    s
}

/// Whether the device is an ich9 UHCI companion controller.
fn is_companion(d: &Device) -> bool {
    d.kind.controller().is_some_and(|c| match c.kind {
        ControllerKind::Usb(Some(m)) => companion_first_port(m).is_some(),
        _ => false,
    })
}

/// Whether the device is the root PCI controller with this index.
fn is_root(d: &Device, index: u32) -> bool {
    d.kind
        .controller()
        .is_some_and(|c| c.idx() == index && c.pci_model().is_some_and(ControllerModel::is_root))
}

/// Positions of the non-root PCI controllers with an address, parents
/// before children.
fn controller_order(plan: &Plan) -> Result<Vec<usize>, QemuError> {
    let mut pending: Vec<(usize, u32, PciAddress)> = Vec::new();
    for (i, d) in plan.devices().iter().enumerate() {
        let Some(c) = d.kind.controller() else {
            continue;
        };
        if !matches!(c.kind, ControllerKind::Pci(_)) || is_root(d, c.idx()) {
            continue;
        }
        if c.pci_model().is_none() {
            return Err(QemuError::NoModel { index: c.idx() });
        }
        if let Some(a) = d.address.present() {
            pending.push((i, c.idx(), a));
        }
    }
    // Root buses: bus 0 and the pSeries PHBs.
    let mut placed: BTreeSet<u32> = BTreeSet::from([0]);
    placed.extend(plan.devices().iter().filter_map(|d| {
        let c = d.kind.controller()?;
        is_root(d, c.idx()).then_some(c.idx())
    }));
    let mut order = Vec::with_capacity(pending.len());
    while !pending.is_empty() {
        let ready = pending
            .iter()
            .position(|(_, _, a)| placed.contains(&u32::from(a.bus())));
        let Some(k) = ready else {
            // The rest hang off buses nobody provides (or form a cycle).
            let (i, _, a) = pending.swap_remove(0);
            let device = plan.devices().get(i).map(ToString::to_string);
            return Err(QemuError::MissingBus {
                device: device.unwrap_or_default(),
                addr: a,
                bus: a.bus(),
            });
        };
        let (i, index, _) = pending.remove(k);
        placed.insert(index);
        order.push(i);
    }
    Ok(order)
}

/// `-transitional` / `-non-transitional` for a virtio model.
fn suffix(m: VirtioModel) -> &'static str {
    match m {
        VirtioModel::Transitional => "-transitional",
        VirtioModel::NonTransitional => "-non-transitional",
        VirtioModel::Default | VirtioModel::Virtio | VirtioModel::Invalid => "",
    }
}

/// The QEMU driver of a NIC model; `None` for `usb-net`, which is no PCI
/// device.
fn nic_driver(m: Option<&NicModel>) -> Option<String> {
    Some(
        match m {
            None => "rtl8139",
            Some(NicModel::Virtio) => "virtio-net-pci",
            Some(NicModel::VirtioTransitional) => "virtio-net-pci-transitional",
            Some(NicModel::VirtioNonTransitional) => "virtio-net-pci-non-transitional",
            Some(NicModel::E1000e) => "e1000e",
            Some(NicModel::UsbNet) => return None,
            // libvirt passes other model names through as the device name.
            Some(NicModel::Known(s) | NicModel::Unknown(s)) => return Some(s.clone()),
        }
        .to_string(),
    )
}

/// The QEMU driver of a USB controller model.
fn usb_driver(m: UsbModel) -> Option<&'static str> {
    Some(match m {
        UsbModel::Piix3Uhci => "piix3-usb-uhci",
        UsbModel::Piix4Uhci => "piix4-usb-uhci",
        UsbModel::Ehci => "usb-ehci",
        UsbModel::Ich9Ehci1 => "ich9-usb-ehci1",
        UsbModel::Ich9Uhci1 => "ich9-usb-uhci1",
        UsbModel::Ich9Uhci2 => "ich9-usb-uhci2",
        UsbModel::Ich9Uhci3 => "ich9-usb-uhci3",
        UsbModel::Vt82c686bUhci => "vt82c686b-usb-uhci",
        UsbModel::PciOhci => "pci-ohci",
        UsbModel::NecXhci => "nec-usb-xhci",
        UsbModel::QemuXhci => "qemu-xhci",
        UsbModel::Qusb1 | UsbModel::Qusb2 | UsbModel::None => return None,
    })
}

/// The first port of an ich9 UHCI companion on its EHCI master.
fn companion_first_port(m: UsbModel) -> Option<u8> {
    match m {
        UsbModel::Ich9Uhci1 => Some(0),
        UsbModel::Ich9Uhci2 => Some(2),
        UsbModel::Ich9Uhci3 => Some(4),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
