//! # pciplan
//!
//! PCI/PCIe address assignment for virtual machines that gives exactly the
//! answers of libvirt 9.0's QEMU driver: which slot every device gets, which
//! controllers are added, and which configurations are rejected.
//!
//! ```
//! use pciplan::{Capabilities, Device, DeviceKind, Machine, NicModel, Plan, VirtioModel};
//!
//! let mut plan = Plan::new(Machine::q35(), Capabilities::qemu_8_0_x86_64());
//! plan.add_device(Device::new(DeviceKind::Interface { model: Some(NicModel::Virtio), hostdev: None }));
//! plan.add_device(Device::new(DeviceKind::Rng(VirtioModel::Default)));
//! plan.assign()?;
//! for d in plan.devices() {
//!     if let Some(addr) = d.address.present() {
//!         println!("{d}: {addr}");
//!     }
//! }
//! # Ok::<(), pciplan::Error>(())
//! ```
//!
//! ## Overview
//!
//! * [`PciAddress`] with [`Slot`] and [`Function`]: checked address newtypes.
//! * [`ConnectFlags`]: what a device needs and what a bus offers;
//!   [`device::connect_flags`] is the calculator.
//! * [`ControllerModel`]: the ten PCI controller models and their tables.
//! * [`Plan`]: a machine, its [`Capabilities`] and its [`Device`]s;
//!   [`Plan::assign`] runs libvirt's algorithm, [`Plan::hotplug_add`] attaches
//!   one device live.
//! * [`Topology`]: the controller tree of a plan, on petgraph.
//! * [`libvirt`] (feature `libvirt`): domain XML in and out.
//! * [`explain`]: why every device has its address, and why a definition
//!   is refused (rule, devices, fix); [`diff`]: the guest-ABI diff of two
//!   plans; [`capacity`]: how many more devices fit, live and cold;
//!   [`export`]: versioned device records, the tree as data and as
//!   Graphviz `dot` (the `serde` feature derives `Serialize` on all of
//!   them).
//! * [`policy`]: placement policies beyond libvirt, opt-in ([`Plan::assign_with`]):
//!   spare hot-plug ports, `expand` past libvirt's ceilings, grouping behind
//!   expander buses, host multifunction, `hotplug='off'`, budgets, strict
//!   checks; policy files are TOML (feature `policy-file`, on with `cli`).
//! * `probe` (feature `probe`, on with `cli`): QEMU capabilities asked of
//!   a QEMU binary over QMP, as libvirt does; the only code that starts a
//!   process.
//!
//! Features: `libvirt` (default), `cli` (default: the `pciplan` tool,
//! implies `libvirt`, `probe`, `serde`), `probe`, `serde`. The Python and C
//! bindings live in the repository's `python/` and `ffi/` workspace members.
//!
//! The design is described in `docs/DESIGN.md`.

pub mod address;
mod allocator;
pub mod capacity;
pub mod caps;
mod census;
pub mod controller;
mod defaults;
pub mod device;
pub mod diff;
pub mod error;
pub mod explain;
pub mod export;
pub mod flags;
#[cfg(feature = "libvirt")]
pub mod libvirt;
pub mod machine;
mod plan;
pub mod policy;
#[cfg(feature = "probe")]
pub mod probe;
pub mod qemu;
#[cfg(feature = "serde")]
mod serde_text;
pub mod topology;
pub mod version;

pub use address::{Function, Multifunction, PciAddress, Slot};
pub use caps::Capabilities;
pub use controller::{ControllerModel, PciTarget};
pub use device::{
    Controller, ControllerKind, Device, DeviceAddress, DeviceKind, NicModel, PciController,
    VirtioModel,
};
#[cfg(feature = "libvirt")]
pub use error::LiveError;
#[cfg(feature = "libvirt")]
pub use error::XmlError;
pub use error::{AddressError, AllocError, ConfigError, Error, ErrorClass};
pub use flags::ConnectFlags;
pub use machine::{Machine, MachineFamily};
pub use plan::{Plan, disk_name_index, limits};
pub use topology::Topology;
pub use version::LibvirtVersion;
