//! QEMU capabilities: the feature names libvirt probes from a QEMU binary.
//!
//! Names are spelled as in libvirt's capability files (`pcie-root-port`,
//! `pcie-pci-bridge`, `virtio-pci-non-transitional`, `ioh3420`, …). Appendix A
//! of the spec lists the ones that change PCI placement.

use std::collections::BTreeSet;

const QEMU_8_0_X86_64: &str = include_str!("data/qemu-8.0.0-x86_64.flags.txt");

/// A machine type a QEMU binary offers, with its alias (`pc` → `pc-i440fx-8.0`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct MachineType {
    /// Canonical name, e.g. `pc-q35-8.0`.
    pub name: String,
    /// Alias, e.g. `q35`.
    pub alias: Option<String>,
    /// Whether this is the binary's default machine.
    pub default: bool,
}

/// A QEMU capability set.
///
/// ```
/// use pciplan::Capabilities;
/// let modern = Capabilities::qemu_8_0_x86_64();
/// assert!(modern.has("pcie-root-port"));
/// assert!(modern.has("virtio-pci-non-transitional"));
/// let old = Capabilities::from_names(["pci-bridge"]);
/// assert!(!old.has("pcie-root-port"));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Capabilities {
    flags: BTreeSet<String>,
    machines: Vec<MachineType>,
}

impl Capabilities {
    /// No capabilities at all (a very old or minimal QEMU).
    pub fn empty() -> Capabilities {
        Capabilities::default()
    }

    /// A set holding exactly these names.
    pub fn from_names<I, S>(names: I) -> Capabilities
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Capabilities {
            flags: names.into_iter().map(Into::into).collect(),
            machines: Vec::new(),
        }
    }

    /// libvirt 9.0's probe of QEMU 8.0.0 on x86_64 (its "latest" test set),
    /// machine aliases not expanded.
    pub fn qemu_8_0_x86_64() -> Capabilities {
        Capabilities::from_names(
            QEMU_8_0_X86_64
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty()),
        )
    }

    /// Whether the capability is present.
    pub fn has(&self, name: &str) -> bool {
        self.flags.contains(name)
    }

    /// Adds a capability.
    pub fn insert(&mut self, name: impl Into<String>) {
        self.flags.insert(name.into());
    }

    /// Removes a capability.
    pub fn remove(&mut self, name: &str) {
        self.flags.remove(name);
    }

    /// The capability names, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.flags.iter().map(String::as_str)
    }

    /// Machine types known to this binary (empty when unknown).
    pub fn machines(&self) -> &[MachineType] {
        &self.machines
    }

    /// Adds a machine type.
    pub fn add_machine(&mut self, machine: MachineType) {
        self.machines.push(machine);
    }

    /// The canonical machine name for `name`: the machine whose alias it is,
    /// or `name` itself.
    pub fn canonical_machine<'a>(&'a self, name: &'a str) -> &'a str {
        self.machines
            .iter()
            .find(|m| m.alias.as_deref() == Some(name))
            .map(|m| m.name.as_str())
            .unwrap_or(name)
    }

    /// The default machine, if the binary names one.
    pub fn default_machine(&self) -> Option<&str> {
        self.machines
            .iter()
            .find(|m| m.default)
            .or_else(|| self.machines.first())
            .map(|m| m.alias.as_deref().unwrap_or(m.name.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modern_profile_has_pcie_pci_bridge() {
        assert!(Capabilities::qemu_8_0_x86_64().has("pcie-pci-bridge"));
    }

    #[test]
    fn empty_set_has_nothing() {
        assert!(!Capabilities::empty().has("pci-bridge"));
    }

    #[test]
    fn alias_resolves_to_canonical_name() {
        let mut c = Capabilities::empty();
        c.add_machine(MachineType {
            name: "pc-i440fx-7.0".into(),
            alias: Some("pc".into()),
            default: true,
        });
        assert_eq!(c.canonical_machine("pc"), "pc-i440fx-7.0");
        assert_eq!(c.canonical_machine("q35"), "q35");
    }
}
