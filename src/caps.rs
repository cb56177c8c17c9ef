//! QEMU capabilities: the feature names libvirt probes from a QEMU binary.
//!
//! Names are spelled as in libvirt's capability files (`pcie-root-port`,
//! `pcie-pci-bridge`, `virtio-pci-non-transitional`, `ioh3420`, …). Appendix A
//! of the spec lists the ones that change PCI placement.

use std::collections::BTreeSet;

const QEMU_8_0_X86_64: &str = include_str!("data/qemu-8.0.0-x86_64.flags.txt");

/// The built-in capability sets: libvirt 9.0's "latest" probe of each
/// architecture's QEMU (name, the architectures it serves, its flags).
const BUILTIN: [(&str, &[&str], &str); 5] = [
    ("qemu-8.0.0-x86_64", &["x86_64", "i686"], QEMU_8_0_X86_64),
    (
        "qemu-7.0.0-aarch64",
        &["aarch64", "armv7l", "armv6l"],
        include_str!("data/qemu-7.0.0-aarch64.flags.txt"),
    ),
    (
        "qemu-5.2.0-riscv64",
        &["riscv64", "riscv32"],
        include_str!("data/qemu-5.2.0-riscv64.flags.txt"),
    ),
    (
        "qemu-7.1.0-ppc64",
        &["ppc64", "ppc64le"],
        include_str!("data/qemu-7.1.0-ppc64.flags.txt"),
    ),
    (
        "qemu-6.0.0-s390x",
        &["s390x", "s390"],
        include_str!("data/qemu-6.0.0-s390x.flags.txt"),
    ),
];

/// libvirt 11.3's probe of QEMU 10.0 (Debian trixie), for the 11.3 profile.
const BUILTIN_11: [(&str, &[&str], &str); 2] = [
    (
        "qemu-10.0.0-x86_64",
        &["x86_64", "i686"],
        include_str!("data/qemu-10.0.0-x86_64.flags.txt"),
    ),
    (
        "qemu-10.0.0-aarch64",
        &["aarch64", "armv7l", "armv6l"],
        include_str!("data/qemu-10.0.0-aarch64.flags.txt"),
    ),
];

fn flag_lines(text: &str) -> impl Iterator<Item = &str> {
    text.lines().map(str::trim).filter(|l| !l.is_empty())
}

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
    /// The names the engine asks about on every plan, as bits (see
    /// `hot_bit`); kept in step with `flags`.
    hot: u32,
}

/// A bit for each capability name the engine looks up per device or per
/// controller, so that those lookups need no string-set search.
#[inline]
fn hot_bit(name: &str) -> Option<u32> {
    Some(match name {
        "pcie-root-port" => 0,
        "virtio-pci-non-transitional" => 1,
        "piix3-usb-uhci" => 2,
        "pcie-pci-bridge" => 3,
        "pci-bridge" => 4,
        "lsi" => 5,
        "zpci" => 6,
        "virtio-scsi-pci" => 7,
        "virtio-net" => 8,
        "virtio-mmio" => 9,
        "rtl8139" => 10,
        "qemu-xhci" => 11,
        "piix4.acpi-root-pci-hotplug" => 12,
        "pcie-root-port.hotplug" => 13,
        "nec-usb-xhci" => 14,
        "ich9-usb-ehci1" => 15,
        "e1000" => 16,
        "cirrus-vga" => 17,
        "ioh3420" => 18,
        "dmi-to-pci-bridge" => 19,
        "x3130-upstream" => 20,
        "xio3130-downstream" => 21,
        "pxb" => 22,
        "pxb-pcie" => 23,
        _ => return None,
    })
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
        let mut c = Capabilities::default();
        for n in names {
            c.insert(n);
        }
        c
    }

    /// libvirt 9.0's probe of QEMU 8.0.0 on x86_64 (its "latest" test set),
    /// machine aliases not expanded.
    pub fn qemu_8_0_x86_64() -> Capabilities {
        Capabilities::from_names(flag_lines(QEMU_8_0_X86_64))
    }

    /// The built-in set for a guest architecture (libvirt's spelling), used
    /// when no capabilities file is given; architectures without their own
    /// set get the x86_64 one.
    ///
    /// ```
    /// let c = pciplan::Capabilities::builtin("aarch64");
    /// assert!(c.has("gpex-pcihost"));
    /// ```
    pub fn builtin(arch: &str) -> Capabilities {
        let text = BUILTIN
            .iter()
            .find(|(_, arches, _)| arches.contains(&arch))
            .map_or(QEMU_8_0_X86_64, |(_, _, text)| text);
        Capabilities::from_names(flag_lines(text))
    }

    /// The built-in set for a guest architecture and a libvirt version:
    /// libvirt 11.3 gets QEMU 10.0's sets where pciplan has them (x86_64,
    /// i686, aarch64), otherwise [`Capabilities::builtin`].
    ///
    /// ```
    /// use pciplan::{Capabilities, LibvirtVersion};
    /// let c = Capabilities::builtin_for("x86_64", LibvirtVersion::V11_3);
    /// assert!(c.has("pcie-root-port"));
    /// ```
    pub fn builtin_for(arch: &str, libvirt: crate::LibvirtVersion) -> Capabilities {
        match libvirt {
            crate::LibvirtVersion::V9_0 => Capabilities::builtin(arch),
            crate::LibvirtVersion::V11_3 => {
                let text = BUILTIN_11
                    .iter()
                    .find(|(_, arches, _)| arches.contains(&arch))
                    .map(|(_, _, text)| *text);
                match text {
                    Some(t) => Capabilities::from_names(flag_lines(t)),
                    None => Capabilities::builtin(arch),
                }
            }
        }
    }

    /// The built-in sets: name and the architectures each serves.
    ///
    /// ```
    /// assert!(pciplan::Capabilities::builtin_sets().any(|(n, _)| n == "qemu-7.1.0-ppc64"));
    /// ```
    pub fn builtin_sets() -> impl Iterator<Item = (&'static str, &'static [&'static str])> {
        BUILTIN
            .iter()
            .chain(BUILTIN_11.iter())
            .map(|(name, arches, _)| (*name, *arches))
    }

    /// Whether the capability is present.
    #[inline]
    pub fn has(&self, name: &str) -> bool {
        match hot_bit(name) {
            Some(b) => self.hot & (1 << b) != 0,
            None => self.flags.contains(name),
        }
    }

    /// Adds a capability.
    pub fn insert(&mut self, name: impl Into<String>) {
        let name = name.into();
        if let Some(b) = hot_bit(&name) {
            self.hot |= 1 << b;
        }
        self.flags.insert(name);
    }

    /// Removes a capability.
    pub fn remove(&mut self, name: &str) {
        if let Some(b) = hot_bit(name) {
            self.hot &= !(1 << b);
        }
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
