//! What libvirt 9.0 asks QEMU, and which capability each answer sets.
//!
//! Taken from libvirt's `src/qemu/qemu_capabilities.c`: the QOM type names of
//! `virQEMUCapsObjectTypes` (a type listed by `qom-list-types` sets the
//! capability) and the device properties of `virQEMUCapsDeviceProps` (a
//! property listed by `device-list-properties` sets it). The capability names
//! are those of libvirt's capability files (`virQEMUCaps` enum strings).
//! Only the device and object types are here; flags libvirt derives from the
//! QMP schema, commands or events decide nothing pciplan computes.

/// QOM type → capability (libvirt's `virQEMUCapsObjectTypes`).
///
/// Left out on purpose: the types of capabilities libvirt 9.0 no longer
/// writes (`virtio-scsi`, `sclpconsole`: retired, always assumed) or does
/// not know yet (`virtio-crypto`, `cryptodev-backend-lkcf`), and
/// `sev-guest` / `sgx-epc`, which libvirt keeps only when the host supports
/// SEV or SGX (`query-sev-capabilities`, `query-sgx-capabilities`) and
/// which decide nothing pciplan computes. `tests/probe.rs` compares this
/// table's answers with libvirt's own probe of the same binaries.
pub(super) const OBJECT_TYPES: &[(&str, &str)] = &[
    ("hda-duplex", "hda-duplex"),
    ("hda-micro", "hda-micro"),
    ("ccid-card-emulated", "ccid-emulated"),
    ("ccid-card-passthru", "ccid-passthru"),
    ("piix3-usb-uhci", "piix3-usb-uhci"),
    ("piix4-usb-uhci", "piix4-usb-uhci"),
    ("usb-ehci", "usb-ehci"),
    ("ich9-usb-ehci1", "ich9-usb-ehci1"),
    ("vt82c686b-usb-uhci", "vt82c686b-usb-uhci"),
    ("pci-ohci", "pci-ohci"),
    ("nec-usb-xhci", "nec-usb-xhci"),
    ("usb-redir", "usb-redir"),
    ("usb-hub", "usb-hub"),
    ("ich9-ahci", "ich9-ahci"),
    ("virtio-blk-ccw", "virtio-ccw"),
    ("lsi53c895a", "lsi"),
    ("megasas", "megasas"),
    ("qxl", "qxl"),
    ("scsi-block", "scsi-block"),
    ("VGA", "VGA"),
    ("cirrus-vga", "cirrus-vga"),
    ("vmware-svga", "vmware-svga"),
    ("usb-serial", "usb-serial"),
    ("virtio-rng-pci", "virtio-rng"),
    ("virtio-rng-ccw", "virtio-rng"),
    ("virtio-rng-device", "virtio-rng"),
    ("rng-random", "rng-random"),
    ("rng-egd", "rng-egd"),
    ("spapr-nvram", "nvram"),
    ("pci-bridge", "pci-bridge"),
    ("vfio-pci", "vfio-pci"),
    ("i82801b11-bridge", "dmi-to-pci-bridge"),
    ("usb-storage", "usb-storage"),
    ("virtio-mmio", "virtio-mmio"),
    ("ich9-intel-hda", "ich9-intel-hda"),
    ("pvpanic", "pvpanic"),
    ("usb-kbd", "usb-kbd"),
    ("usb-audio", "usb-audio"),
    ("pc-dimm", "pc-dimm"),
    ("pci-serial", "pci-serial"),
    ("gpex-pcihost", "gpex-pcihost"),
    ("ioh3420", "ioh3420"),
    ("x3130-upstream", "x3130-upstream"),
    ("xio3130-downstream", "xio3130-downstream"),
    ("rtl8139", "rtl8139"),
    ("e1000", "e1000"),
    ("virtio-net-pci", "virtio-net"),
    ("virtio-net-ccw", "virtio-net"),
    ("virtio-net-device", "virtio-net"),
    ("virtio-gpu-pci", "virtio-gpu"),
    ("virtio-gpu-device", "virtio-gpu"),
    ("virtio-vga", "virtio-vga"),
    ("virtio-keyboard-device", "virtio-keyboard"),
    ("virtio-keyboard-pci", "virtio-keyboard"),
    ("virtio-mouse-device", "virtio-mouse"),
    ("virtio-mouse-pci", "virtio-mouse"),
    ("virtio-tablet-device", "virtio-tablet"),
    ("virtio-tablet-pci", "virtio-tablet"),
    ("virtio-input-host-device", "virtio-input-host"),
    ("virtio-input-host-pci", "virtio-input-host"),
    ("mptsas1068", "mptsas1068"),
    ("pxb", "pxb"),
    ("pxb-pcie", "pxb-pcie"),
    ("intel-iommu", "intel-iommu"),
    ("ivshmem-plain", "ivshmem-plain"),
    ("ivshmem-doorbell", "ivshmem-doorbell"),
    ("vhost-scsi", "vhost-scsi"),
    ("nvdimm", "nvdimm"),
    ("pcie-root-port", "pcie-root-port"),
    ("qemu-xhci", "qemu-xhci"),
    ("spapr-pci-host-bridge", "spapr-pci-host-bridge"),
    ("vmcoreinfo", "vmcoreinfo"),
    ("spapr-vty", "spapr-vty"),
    ("sclplmconsole", "sclplmconsole"),
    ("isa-serial", "isa-serial"),
    ("pl011", "pl011"),
    ("virtio-gpu-ccw", "virtio-gpu-ccw"),
    ("virtio-keyboard-ccw", "virtio-keyboard-ccw"),
    ("virtio-mouse-ccw", "virtio-mouse-ccw"),
    ("virtio-tablet-ccw", "virtio-tablet-ccw"),
    ("pcie-pci-bridge", "pcie-pci-bridge"),
    ("pr-manager-helper", "pr-manager-helper"),
    ("vfio-ccw", "vfio-ccw"),
    ("hda-output", "hda-output"),
    ("vmgenid", "vmgenid"),
    ("vhost-vsock-device", "vhost-vsock"),
    ("mch", "mch"),
    ("vfio-ap", "vfio-ap"),
    ("zpci", "zpci"),
    ("memory-backend-memfd", "memory-backend-memfd"),
    ("virtio-blk-pci-transitional", "virtio-pci-non-transitional"),
    (
        "virtio-blk-pci-non-transitional",
        "virtio-pci-non-transitional",
    ),
    ("virtio-net-pci-transitional", "virtio-pci-non-transitional"),
    (
        "virtio-net-pci-non-transitional",
        "virtio-pci-non-transitional",
    ),
    ("vhost-scsi-pci-transitional", "virtio-pci-non-transitional"),
    (
        "vhost-scsi-pci-non-transitional",
        "virtio-pci-non-transitional",
    ),
    ("virtio-rng-pci-transitional", "virtio-pci-non-transitional"),
    (
        "virtio-rng-pci-non-transitional",
        "virtio-pci-non-transitional",
    ),
    ("virtio-9p-pci-transitional", "virtio-pci-non-transitional"),
    (
        "virtio-9p-pci-non-transitional",
        "virtio-pci-non-transitional",
    ),
    (
        "virtio-balloon-pci-transitional",
        "virtio-pci-non-transitional",
    ),
    (
        "virtio-balloon-pci-non-transitional",
        "virtio-pci-non-transitional",
    ),
    (
        "vhost-vsock-pci-transitional",
        "virtio-pci-non-transitional",
    ),
    (
        "vhost-vsock-pci-non-transitional",
        "virtio-pci-non-transitional",
    ),
    (
        "virtio-scsi-pci-transitional",
        "virtio-pci-non-transitional",
    ),
    (
        "virtio-scsi-pci-non-transitional",
        "virtio-pci-non-transitional",
    ),
    (
        "virtio-serial-pci-transitional",
        "virtio-pci-non-transitional",
    ),
    (
        "virtio-serial-pci-non-transitional",
        "virtio-pci-non-transitional",
    ),
    ("max-x86_64-cpu", "x86-max-cpu"),
    ("bochs-display", "bochs-display"),
    ("dbus-vmstate", "dbus-vmstate"),
    ("vhost-user-gpu", "vhost-user-gpu"),
    ("vhost-user-vga", "vhost-user-vga"),
    ("ramfb", "ramfb"),
    ("max-arm-cpu", "arm-max-cpu"),
    ("i8042", "i8042"),
    ("rng-builtin", "rng-builtin"),
    ("tpm-spapr", "tpm-spapr"),
    ("vhost-user-fs-device", "vhost-user-fs"),
    ("tcg-accel", "tcg"),
    ("pvscsi", "pvscsi"),
    ("spapr-tpm-proxy", "spapr-tpm-proxy"),
    ("vmport", "machine-vmport-opt"),
    ("dc390", "dc390"),
    ("am53c974", "am53c974"),
    ("virtio-pmem-pci", "virtio-pmem-pci"),
    ("vhost-user-blk", "vhost-user-blk"),
    ("input-linux", "input-linux"),
    ("virtio-gpu-gl-pci", "virtio-gpu-gl-pci"),
    ("virtio-vga-gl", "virtio-vga-gl"),
    ("s390-pv-guest", "s390-pv-guest"),
    ("virtio-mem-pci", "virtio-mem-pci"),
    ("virtio-iommu-pci", "virtio-iommu-pci"),
    ("thread-context", "thread-context"),
];

/// Device type, property, capability (the part of libvirt's
/// `virQEMUCapsDeviceProps` whose capabilities change PCI placement). A
/// type is asked about only when `qom-list-types` lists it.
pub(super) const DEVICE_PROPS: &[(&str, &str, &str)] = &[
    ("pcie-root-port", "hotplug", "pcie-root-port.hotplug"),
    (
        "PIIX4_PM",
        "acpi-root-pci-hotplug",
        "piix4.acpi-root-pci-hotplug",
    ),
];

/// The machine libvirt 9.0 puts first (its default) for an architecture
/// (`preferredMachines`) when the binary offers it; otherwise QEMU's own
/// default goes first.
pub(super) fn preferred_machine(arch: &str) -> Option<&'static str> {
    Some(match arch {
        "alpha" => "clipper",
        "aarch64" | "armv7l" | "armv7b" => "integratorcp",
        "cris" => "axis-dev88",
        "i686" | "x86_64" => "pc",
        "m68k" => "mcf5208evb",
        "microblaze" | "microblazeel" => "petalogix-s3adsp1800",
        "mips" | "mipsel" | "mips64" | "mips64el" => "malta",
        "ppc" | "ppcle" => "g3beige",
        "ppc64" | "ppc64le" => "pseries",
        "ppcemb" => "bamboo",
        "riscv32" | "riscv64" => "spike_v1.10",
        "s390x" => "s390-ccw-virtio",
        "sh4" | "sh4eb" => "shix",
        "sparc" => "SS-5",
        "sparc64" => "sun4u",
        "xtensa" | "xtensaeb" => "sim",
        _ => return None,
    })
}

/// libvirt's architecture name for QEMU's `query-target` answer (and the
/// binary name, which tells `ppc64le` from `ppc64`).
pub(super) fn libvirt_arch(target: &str, binary_suffix: Option<&str>) -> String {
    match (target, binary_suffix) {
        ("ppc64", Some("ppc64le")) => "ppc64le".to_string(),
        ("i386", _) => "i686".to_string(),
        ("arm", _) => "armv7l".to_string(),
        (other, _) => other.to_string(),
    }
}
