//! The inputs of a `pciplan` command as texts, and the commands' text
//! results: the one path the CLI and the Python and C bindings share, so
//! their answers are the same bytes.

use super::{Document, parse_caps_xml, parse_domain, parse_domain_builtin, write_domain};
use crate::caps::Capabilities;
use crate::error::{ConfigError, Error};
use crate::explain::Refusal;
use crate::machine::HostPci;
use crate::plan::Plan;
use crate::version::LibvirtVersion;

/// Which input file was malformed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InputError {
    /// The capabilities XML.
    #[error("capabilities: {0}")]
    Caps(Error),
    /// The host PCI table.
    #[error("host PCI devices: {0}")]
    HostPci(ConfigError),
}

/// The answer of [`Inputs::explain`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExplainText {
    /// Every device's address and why.
    Placed(String),
    /// The definition is refused: the refusal's text (rule, devices, fix)
    /// and the error.
    Refused {
        /// The CLI's text.
        text: String,
        /// libvirt's error.
        error: Error,
    },
}

/// What `pciplan assign` reads besides the domain: the capabilities (the
/// text of a `--caps` file, or the built-in set for the domain's
/// architecture), the host PCI devices (`--host-pci`) and the libvirt
/// version (`--libvirt`).
///
/// ```
/// use pciplan::libvirt::Inputs;
/// let inputs = Inputs::from_texts(None, None, pciplan::LibvirtVersion::V9_0)?;
/// let xml = "<domain type='kvm'><os><type arch='x86_64' machine='q35'>hvm</type></os>\
///            <devices><rng model='virtio'/></devices></domain>";
/// assert!(inputs.assign(xml)?.contains("<address type='pci'"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Inputs {
    /// The capabilities; `None` = the built-in set of the domain's architecture.
    pub caps: Option<Capabilities>,
    /// The host PCI devices.
    pub host: HostPci,
    /// The libvirt version to answer as.
    pub libvirt: LibvirtVersion,
}

impl Inputs {
    /// Inputs from the texts of the files the CLI would read.
    ///
    /// # Errors
    /// [`InputError::Caps`] when the capabilities XML is malformed,
    /// [`InputError::HostPci`] when the host table is.
    pub fn from_texts(
        caps_xml: Option<&str>,
        host_pci_tsv: Option<&str>,
        libvirt: LibvirtVersion,
    ) -> Result<Inputs, InputError> {
        let caps = caps_xml
            .map(parse_caps_xml)
            .transpose()
            .map_err(InputError::Caps)?;
        let host = host_pci_tsv
            .map(HostPci::from_tsv)
            .transpose()
            .map_err(InputError::HostPci)?
            .unwrap_or_default();
        Ok(Inputs {
            caps,
            host,
            libvirt,
        })
    }

    /// Parses a domain into its document and (unassigned) plan.
    ///
    /// # Errors
    /// As [`parse_domain`].
    pub fn load<'a>(&self, xml: &'a str) -> Result<(Document<'a>, Plan), Error> {
        let (doc, mut plan) = match &self.caps {
            Some(caps) => parse_domain(xml, caps, &self.host)?,
            None => parse_domain_builtin(xml, &self.host, self.libvirt)?,
        };
        plan.set_libvirt(self.libvirt);
        Ok((doc, plan))
    }

    /// `pciplan assign`: the domain with addresses and added controllers.
    ///
    /// # Errors
    /// Every refusal of [`Inputs::load`] and [`Plan::assign`].
    pub fn assign(&self, xml: &str) -> Result<String, Error> {
        let (doc, mut plan) = self.load(xml)?;
        plan.assign()?;
        write_domain(&doc, &plan)
    }

    /// `pciplan assign --policy`: [`Inputs::assign`] under a placement
    /// policy (selectors see the XML's aliases, MACs and disk targets).
    ///
    /// # Errors
    /// Every refusal of [`Inputs::load`] and [`Plan::assign_with`].
    ///
    /// ```
    /// use pciplan::libvirt::Inputs;
    /// use pciplan::policy::Policy;
    /// let xml = "<domain><os><type arch='x86_64' machine='q35'>hvm</type></os><devices/></domain>";
    /// let out = Inputs::default().assign_with(xml, &Policy { spare_ports: 3, ..Policy::default() })?;
    /// assert_eq!(out.matches("model='pcie-root-port'").count(), 5);
    /// # Ok::<(), pciplan::Error>(())
    /// ```
    pub fn assign_with(&self, xml: &str, policy: &crate::policy::Policy) -> Result<String, Error> {
        let (doc, mut plan) = self.load(xml)?;
        let ids = super::identities(&doc, &plan);
        plan.assign_with(policy, &ids)?;
        write_domain(&doc, &plan)
    }

    /// `pciplan explain` (text): why every device has its address, or why
    /// the definition is refused ([`ExplainText::Refused`], the CLI's
    /// exit 1 with the refusal printed).
    ///
    /// # Errors
    /// A definition that cannot be read ([`Inputs::load`]).
    pub fn explain(&self, xml: &str) -> Result<ExplainText, Error> {
        let (_, before) = self.load(xml)?;
        let mut plan = before.clone();
        if let Err(error) = plan.assign() {
            let text = Refusal::new(error.clone(), &before).to_string();
            return Ok(ExplainText::Refused { text, error });
        }
        match crate::explain::explain(&before) {
            Ok(e) => Ok(ExplainText::Placed(e.render(None))),
            Err(r) => Err(*r.error),
        }
    }

    /// `pciplan diff` (text): what changes in the guest ABI between two
    /// definitions, and whether it is unchanged.
    ///
    /// # Errors
    /// The refusal of either side.
    pub fn diff(&self, old: &str, new: &str, new_inputs: &Inputs) -> Result<(String, bool), Error> {
        let assign = |inputs: &Inputs, xml| -> Result<(Vec<crate::diff::Identity>, Plan), Error> {
            let (doc, mut plan) = inputs.load(xml)?;
            plan.assign()?;
            Ok((super::identities(&doc, &plan), plan))
        };
        let (old_ids, old_plan) = assign(self, old)?;
        let (new_ids, new_plan) = assign(new_inputs, new)?;
        let d = crate::diff::diff(&old_plan, &old_ids, &new_plan, &new_ids);
        Ok((d.render(), d.abi_unchanged()))
    }
}
