//! libvirt's refusals of a live attach or detach that are no address
//! assignment errors (`docs/libvirt-rules.md`, rules 50–57).

use thiserror::Error;

use crate::error::ErrorClass;

/// A live attach or detach libvirt 9.0 refuses before (or instead of)
/// choosing an address. Messages are libvirt's; [`LiveError::class`] gives
/// the class prefix libvirt prints in front of them.
///
/// ```
/// use pciplan::LiveError;
/// let e = LiveError::AttachUnsupported { device: "sound" };
/// assert_eq!(
///     format!("{}{e}", e.class().prefix()),
///     "Operation not supported: live attach of device 'sound' is not supported"
/// );
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum LiveError {
    /// A device kind libvirt cannot attach to a running guest.
    #[error("live attach of device '{device}' is not supported")]
    AttachUnsupported {
        /// libvirt's device type name (`sound`, `video`, …).
        device: &'static str,
    },
    /// A device kind libvirt cannot detach from a running guest (every
    /// video, the primary one included; the balloon).
    #[error("live detach of device '{device}' is not supported")]
    DetachUnsupported {
        /// libvirt's device type name.
        device: &'static str,
    },
    /// A SCSI controller with an index in use.
    #[error("target {controller_type}:{index} already exists")]
    ControllerExists {
        /// The controller type.
        controller_type: &'static str,
        /// The index.
        index: u32,
    },
    /// A virtio-serial port in use.
    #[error("virtio serial port {port} on controller {controller} is already occupied")]
    PortOccupied {
        /// The virtio-serial controller index.
        controller: u32,
        /// The port.
        port: u32,
    },
    /// A virtio channel or console on a guest without virtio-serial
    /// controller.
    #[error("no virtio-serial controllers are available")]
    NoVirtioSerial,
    /// Every virtio-serial port is in use.
    #[error("Unable to find a free virtio-serial port")]
    NoVirtioSerialPort,
    /// No interface matches the element of a detach.
    #[error("no device found at address '{addr}' matching MAC address '{mac}' and alias '{alias}'")]
    InterfaceNotFound {
        /// The element's PCI address, or `(<null>)`.
        addr: String,
        /// The element's MAC, or `(<null>)`.
        mac: String,
        /// The element's alias, or `(<null>)`.
        alias: String,
    },
    /// No disk has the element's target.
    #[error("disk {target} not found")]
    DiskNotFound {
        /// The `<target dev>`.
        target: String,
    },
    /// No controller has the element's type and index.
    #[error("controller {controller_type}:{index} not found")]
    ControllerNotFound {
        /// The controller type.
        controller_type: &'static str,
        /// The index.
        index: u32,
    },
    /// No RNG matches the element.
    #[error("model '{backend}' RNG device not present in domain configuration")]
    RngNotFound {
        /// The `<backend model>`.
        backend: String,
    },
    /// No device of another kind matches the element (pciplan's wording:
    /// libvirt's differs per kind).
    #[error("matching {device} device not found")]
    NotFound {
        /// libvirt's device type name.
        device: &'static str,
    },
    /// No device has the alias (`virsh detach-device-alias`).
    #[error("no device found with alias {alias}")]
    AliasNotFound {
        /// The alias.
        alias: String,
    },
}

impl LiveError {
    /// libvirt's class of this refusal.
    ///
    /// ```
    /// use pciplan::{ErrorClass, LiveError};
    /// assert_eq!(LiveError::DetachUnsupported { device: "video" }.class(), ErrorClass::OperationUnsupported);
    /// ```
    pub fn class(&self) -> ErrorClass {
        match self {
            LiveError::AttachUnsupported { .. } | LiveError::DetachUnsupported { .. } => {
                ErrorClass::OperationUnsupported
            }
            LiveError::ControllerExists { .. } => ErrorClass::OperationFailed,
            LiveError::PortOccupied { .. }
            | LiveError::NoVirtioSerial
            | LiveError::NoVirtioSerialPort => ErrorClass::Xml,
            LiveError::InterfaceNotFound { .. }
            | LiveError::DiskNotFound { .. }
            | LiveError::ControllerNotFound { .. }
            | LiveError::RngNotFound { .. }
            | LiveError::NotFound { .. } => ErrorClass::DeviceMissing,
            LiveError::AliasNotFound { .. } => ErrorClass::Internal,
        }
    }
}
