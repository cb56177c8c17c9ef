//! What identifies a device across two definitions.

use crate::address::PciAddress;
use crate::device::{Device, DeviceKind, HostdevSource};

/// The identity of a device: the keys that name it whatever its position.
///
/// The core fills what the model knows ([`Identity::of_device`]: host
/// source address, controller type and index, disk target); the libvirt
/// front end adds alias, MAC and serial from the XML
/// (`pciplan::libvirt::identities`).
///
/// ```
/// use pciplan::{Controller, ControllerModel, Device, DeviceKind};
/// let d = Device::new(DeviceKind::Controller(Controller::pci(ControllerModel::PcieRootPort, 3)));
/// let id = pciplan::diff::Identity::of_device(&d);
/// assert_eq!(id.controller, Some(("pci".to_string(), 3)));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Identity {
    /// `<alias name>`.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub alias: Option<String>,
    /// `<mac address>` of an interface.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub mac: Option<String>,
    /// `<target dev>` of a disk.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub target: Option<String>,
    /// `<serial>` of a disk.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub serial: Option<String>,
    /// The host PCI address of a passthrough device.
    #[cfg_attr(
        feature = "serde",
        serde(
            skip_serializing_if = "Option::is_none",
            serialize_with = "crate::serde_text::opt_addr"
        )
    )]
    pub host_source: Option<PciAddress>,
    /// Controller type and index.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub controller: Option<(String, u32)>,
}

impl Identity {
    /// What the model itself says about a device's identity.
    ///
    /// ```
    /// use pciplan::{Device, DeviceKind, device::{DiskBus, VirtioModel}};
    /// let d = Device::new(DeviceKind::Disk { bus: DiskBus::Virtio, model: VirtioModel::Default, drive_controller: None })
    ///     .with_label("vda");
    /// assert_eq!(pciplan::diff::Identity::of_device(&d).target.as_deref(), Some("vda"));
    /// ```
    pub fn of_device(d: &Device) -> Identity {
        let host_source = match &d.kind {
            DeviceKind::Hostdev(HostdevSource::Pci(a))
            | DeviceKind::Interface {
                hostdev: Some(HostdevSource::Pci(a)),
                ..
            } => *a,
            _ => None,
        };
        let controller = d
            .kind
            .controller()
            .and_then(|c| c.index.map(|i| (c.kind.type_name().to_string(), i)));
        let target = match d.kind {
            DeviceKind::Disk { .. } if !d.label.is_empty() => Some(d.label.clone()),
            _ => None,
        };
        Identity {
            host_source,
            controller,
            target,
            ..Identity::default()
        }
    }

    /// The keys in matching order: (key name, value).
    pub(crate) fn keys(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        let mut push = |name: &'static str, v: Option<String>| {
            if let Some(v) = v.filter(|v| !v.is_empty()) {
                out.push((name, v));
            }
        };
        push("alias", self.alias.clone());
        push("mac", self.mac.as_ref().map(|m| m.to_ascii_lowercase()));
        push("target", self.target.clone());
        push("serial", self.serial.clone());
        push("host_source", self.host_source.map(|a| a.to_string()));
        push(
            "controller",
            self.controller.as_ref().map(|(t, i)| format!("{t}:{i}")),
        );
        out
    }
}
