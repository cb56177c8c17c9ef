//! The safe half of the C ABI: inputs, answers and failures as Rust values.

use pciplan::libvirt::{ExplainText, InputError, Inputs};
use pciplan::{ErrorClass, LibvirtVersion};

/// The result of every call.
#[repr(C)]
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum PciplanStatus {
    /// Success.
    Ok = 0,
    /// Refused with libvirt's `VIR_ERR_XML_ERROR` (`XML error: ...`).
    XmlError = 1,
    /// Refused with `VIR_ERR_INTERNAL_ERROR` (`internal error: ...`).
    InternalError = 2,
    /// Refused with `VIR_ERR_CONFIG_UNSUPPORTED` (`unsupported configuration: ...`).
    ConfigUnsupported = 3,
    /// A NULL or non-UTF-8 argument, or a malformed capabilities XML, host
    /// PCI table or libvirt version.
    InvalidArgument = 4,
    /// A bug: pciplan panicked (caught at the boundary).
    Panic = 5,
    /// Refused with `VIR_ERR_OPERATION_UNSUPPORTED` (`Operation not
    /// supported: ...`; live attach and detach).
    OperationUnsupported = 6,
    /// Refused with `VIR_ERR_OPERATION_FAILED` (`operation failed: ...`).
    OperationFailed = 7,
    /// Refused with `VIR_ERR_DEVICE_MISSING` (`device not found: ...`).
    DeviceMissing = 8,
}

/// Why a call failed, and the text to hand out anyway (a refusal's
/// explanation).
#[derive(Debug)]
pub(crate) struct Failure {
    pub(crate) status: PciplanStatus,
    pub(crate) message: String,
    pub(crate) text: Option<String>,
}

impl Failure {
    pub(crate) fn invalid(message: impl Into<String>) -> Failure {
        Failure {
            status: PciplanStatus::InvalidArgument,
            message: message.into(),
            text: None,
        }
    }
}

impl From<pciplan::Error> for Failure {
    fn from(e: pciplan::Error) -> Failure {
        Failure {
            status: match e.class() {
                ErrorClass::Xml => PciplanStatus::XmlError,
                ErrorClass::Internal => PciplanStatus::InternalError,
                ErrorClass::Unsupported => PciplanStatus::ConfigUnsupported,
                ErrorClass::OperationUnsupported => PciplanStatus::OperationUnsupported,
                ErrorClass::OperationFailed => PciplanStatus::OperationFailed,
                ErrorClass::DeviceMissing => PciplanStatus::DeviceMissing,
            },
            message: e.to_string(),
            text: None,
        }
    }
}

/// The inputs besides the domain (what `PciplanContext` holds).
#[derive(Clone, Debug, Default)]
pub(crate) struct Context {
    inputs: Inputs,
}

impl Context {
    pub(crate) fn new(
        caps_xml: Option<&str>,
        host_pci_tsv: Option<&str>,
        libvirt: Option<&str>,
    ) -> Result<Context, Failure> {
        let libvirt: LibvirtVersion = match libvirt {
            Some(v) => v
                .parse()
                .map_err(|e: pciplan::version::UnknownVersion| Failure::invalid(e.to_string()))?,
            None => LibvirtVersion::V9_0,
        };
        let inputs = Inputs::from_texts(caps_xml, host_pci_tsv, libvirt)
            .map_err(|e: InputError| Failure::invalid(e.to_string()))?;
        Ok(Context { inputs })
    }

    pub(crate) fn assign(&self, xml: &str) -> Result<String, Failure> {
        Ok(self.inputs.assign(xml)?)
    }

    pub(crate) fn explain(&self, xml: &str) -> Result<String, Failure> {
        match self.inputs.explain(xml)? {
            ExplainText::Placed(text) => Ok(text),
            ExplainText::Refused { text, error } => Err(Failure {
                text: Some(text),
                ..Failure::from(error)
            }),
        }
    }

    pub(crate) fn diff(
        &self,
        old: &str,
        new_ctx: &Context,
        new: &str,
    ) -> Result<(String, bool), Failure> {
        Ok(self.inputs.diff(old, new, &new_ctx.inputs)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const Q35: &str = "<domain type='kvm'><os><type arch='x86_64' machine='q35'>hvm</type></os>\
                       <devices><rng model='virtio'/></devices></domain>";

    #[test]
    fn default_context_assigns_with_the_builtin_caps() {
        let out = Context::default().assign(Q35).unwrap();
        assert!(out.contains("<address type='pci'"));
    }

    #[test]
    fn refusal_carries_libvirts_class_and_message() {
        let e = Context::default().assign("<domain").unwrap_err();
        assert_eq!(e.status, PciplanStatus::XmlError);
        assert!(e.message.starts_with("XML error: "), "{}", e.message);
    }

    #[test]
    fn unknown_libvirt_version_is_an_invalid_argument() {
        let e = Context::new(None, None, Some("1.0")).unwrap_err();
        assert_eq!(e.status, PciplanStatus::InvalidArgument);
    }
}
