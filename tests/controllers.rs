//! PCI controller models (spec §1.4, §2.2–2.4) and the compatibility test
//! between device and bus flags (§2.5), with libvirt's error texts (§6.3),
//! through the public API.

use pciplan::controller::ALL_MODELS;
use pciplan::flags::{CheckMode, check_compatible};
use pciplan::{
    AllocError, Capabilities, ConnectFlags as F, Controller, ControllerKind, ControllerModel,
    Device, DeviceAddress, DeviceKind, Machine, PciAddress, Plan, VirtioModel,
};

use ControllerModel as M;

/// One row of §2.2 and §2.3, written from the spec.
struct Row {
    model: M,
    name: &'static str,
    /// §2.2 slots.
    slots: (u8, u8),
    /// §2.2 accepted connection kinds (TYPES bits only).
    accepts: F,
    /// §2.2 AUTOASSIGN on the bus.
    autoassign: bool,
    /// §2.2 hotplug: "unless off" (true) or "never" (false).
    hotplug: bool,
    /// §2.3 own connect flags.
    own: F,
    /// §2.3 buses it can be auto-placed on.
    placed_on: &'static [M],
    /// §2.3 "cannot be auto-added when no slot is free?": `Some(true)` for
    /// "yes, error", `Some(false)` for "no: a root port is auto-added",
    /// `None` for the roots.
    fails_when_full: Option<bool>,
    /// §5.7: the dry run adds buses of this model on its own.
    grown_by_dry_run: bool,
    /// §1.4 default `<model name>` with and without `pcie-root-port`.
    default_name: (Option<&'static str>, Option<&'static str>),
}

fn row(model: M) -> Row {
    match model {
        M::PciRoot => Row {
            model,
            name: "pci-root",
            slots: (1, 31),
            accepts: F::PCI_DEVICE | F::PCI_BRIDGE | F::PCI_EXPANDER_BUS,
            autoassign: true,
            hotplug: true,
            own: F::empty(),
            placed_on: &[],
            fails_when_full: None,
            grown_by_dry_run: false,
            default_name: (None, None),
        },
        M::PcieRoot => Row {
            model,
            name: "pcie-root",
            slots: (1, 31),
            accepts: F::PCIE_DEVICE
                | F::PCIE_ROOT_PORT
                | F::DMI_TO_PCI_BRIDGE
                | F::PCIE_EXPANDER_BUS,
            autoassign: false,
            hotplug: false,
            own: F::empty(),
            placed_on: &[],
            fails_when_full: None,
            grown_by_dry_run: false,
            default_name: (None, None),
        },
        M::PciBridge => Row {
            model,
            name: "pci-bridge",
            slots: (1, 31),
            accepts: F::PCI_DEVICE | F::PCI_BRIDGE,
            autoassign: true,
            hotplug: true,
            own: F::PCI_BRIDGE,
            placed_on: &[
                M::PciRoot,
                M::PciBridge,
                M::DmiToPciBridge,
                M::PcieToPciBridge,
                M::PciExpanderBus,
            ],
            fails_when_full: Some(true),
            grown_by_dry_run: true,
            default_name: (Some("pci-bridge"), Some("pci-bridge")),
        },
        M::DmiToPciBridge => Row {
            model,
            name: "dmi-to-pci-bridge",
            slots: (0, 31),
            accepts: F::PCI_DEVICE | F::PCI_BRIDGE,
            autoassign: false,
            hotplug: false,
            own: F::DMI_TO_PCI_BRIDGE,
            placed_on: &[M::PcieRoot, M::PcieExpanderBus],
            fails_when_full: Some(true),
            grown_by_dry_run: true,
            default_name: (Some("i82801b11-bridge"), Some("i82801b11-bridge")),
        },
        M::PcieToPciBridge => Row {
            model,
            name: "pcie-to-pci-bridge",
            slots: (1, 31),
            accepts: F::PCI_DEVICE | F::PCI_BRIDGE,
            autoassign: true,
            hotplug: true,
            own: F::PCIE_TO_PCI_BRIDGE,
            placed_on: &[M::PcieRootPort, M::PcieSwitchDownstreamPort],
            fails_when_full: Some(true),
            grown_by_dry_run: true,
            default_name: (Some("pcie-pci-bridge"), Some("pcie-pci-bridge")),
        },
        M::PcieRootPort => Row {
            model,
            name: "pcie-root-port",
            slots: (0, 0),
            accepts: F::PCIE_DEVICE | F::PCIE_SWITCH_UPSTREAM_PORT | F::PCIE_TO_PCI_BRIDGE,
            autoassign: true,
            hotplug: true,
            own: F::PCIE_ROOT_PORT | F::AGGREGATE_SLOT,
            placed_on: &[M::PcieRoot, M::PcieExpanderBus],
            fails_when_full: Some(true),
            grown_by_dry_run: true,
            default_name: (Some("pcie-root-port"), Some("ioh3420")),
        },
        M::PcieSwitchUpstreamPort => Row {
            model,
            name: "pcie-switch-upstream-port",
            slots: (0, 31),
            accepts: F::PCIE_SWITCH_DOWNSTREAM_PORT,
            autoassign: false,
            hotplug: false,
            own: F::PCIE_SWITCH_UPSTREAM_PORT,
            placed_on: &[M::PcieRootPort, M::PcieSwitchDownstreamPort],
            fails_when_full: Some(false),
            grown_by_dry_run: false,
            default_name: (Some("x3130-upstream"), Some("x3130-upstream")),
        },
        M::PcieSwitchDownstreamPort => Row {
            model,
            name: "pcie-switch-downstream-port",
            slots: (0, 0),
            accepts: F::PCIE_DEVICE | F::PCIE_SWITCH_UPSTREAM_PORT | F::PCIE_TO_PCI_BRIDGE,
            autoassign: true,
            hotplug: true,
            own: F::PCIE_SWITCH_DOWNSTREAM_PORT,
            placed_on: &[M::PcieSwitchUpstreamPort],
            fails_when_full: Some(true),
            grown_by_dry_run: false,
            default_name: (Some("xio3130-downstream"), Some("xio3130-downstream")),
        },
        M::PciExpanderBus => Row {
            model,
            name: "pci-expander-bus",
            slots: (0, 31),
            accepts: F::PCI_DEVICE | F::PCI_BRIDGE,
            autoassign: true,
            hotplug: true,
            own: F::PCI_EXPANDER_BUS,
            placed_on: &[M::PciRoot],
            fails_when_full: Some(true),
            grown_by_dry_run: false,
            default_name: (Some("pxb"), Some("pxb")),
        },
        M::PcieExpanderBus => Row {
            model,
            name: "pcie-expander-bus",
            slots: (0, 31),
            accepts: F::PCIE_ROOT_PORT | F::DMI_TO_PCI_BRIDGE,
            autoassign: false,
            hotplug: false,
            own: F::PCIE_EXPANDER_BUS,
            placed_on: &[M::PcieRoot],
            fails_when_full: Some(true),
            grown_by_dry_run: false,
            default_name: (Some("pxb-pcie"), Some("pxb-pcie")),
        },
    }
}

/// A test address; the numbers below are all in range.
#[allow(clippy::unwrap_used)]
fn addr(bus: u8, slot: u8, function: u8) -> PciAddress {
    PciAddress::from_parts(bus, slot, function).unwrap()
}

/// The flags of a bus of this model as the engine builds it (§2.2): what it
/// accepts, plus HOTPLUGGABLE when it is hot-pluggable and not switched off.
fn bus_flags(model: M, hotplug_off: bool) -> F {
    if model.hotpluggable() && !hotplug_off {
        model.accepts() | F::HOTPLUGGABLE
    } else {
        model.accepts()
    }
}

/// Checks one model's rows of §1.4, §2.2, §2.3 and §2.4 against the crate.
#[allow(clippy::unwrap_used)]
fn check_row(model: M) {
    let r = row(model);
    assert_eq!(r.model, model);

    // names
    assert_eq!(model.as_str(), r.name);
    assert_eq!(model.to_string(), r.name);
    assert_eq!(r.name.parse::<M>().unwrap(), model);
    assert_eq!(model.is_root(), matches!(model, M::PciRoot | M::PcieRoot));

    // §2.2
    assert_eq!(model.slot_range(), r.slots, "{model}: slots");
    assert_eq!(
        model.accepts() & F::TYPES,
        r.accepts,
        "{model}: accepted kinds"
    );
    assert_eq!(
        model.accepts().contains(F::AUTOASSIGN),
        r.autoassign,
        "{model}: AUTOASSIGN on bus"
    );
    assert_eq!(
        model.accepts() - F::TYPES - F::AUTOASSIGN,
        F::empty(),
        "{model}: accepts() holds nothing but kinds and AUTOASSIGN"
    );
    assert_eq!(model.hotpluggable(), r.hotplug, "{model}: hotplug");

    // §2.3
    assert_eq!(model.connect_flags(), r.own, "{model}: own flags");
    assert!(
        !model.connect_flags().contains(F::AUTOASSIGN),
        "{model}: PCI controllers never carry AUTOASSIGN"
    );
    for bus in ALL_MODELS {
        let at = addr(1, bus.slot_range().0, 0);
        let fits = check_compatible(bus_flags(bus, false), r.own, at, CheckMode::Auto).is_ok();
        assert_eq!(
            fits,
            r.placed_on.contains(&bus),
            "{model} auto-placed on {bus}"
        );
    }
    // A bus is grown for a device only when its flags name an endpoint or an
    // upstream port (§2.3 last column, §5.7).
    let grows =
        |flags: F| flags.intersects(F::PCI_DEVICE | F::PCIE_DEVICE | F::PCIE_SWITCH_UPSTREAM_PORT);
    match r.fails_when_full {
        None => assert!(r.own.is_empty()),
        Some(fails) => assert_eq!(!grows(model.connect_flags()), fails, "{model}: growth"),
    }
    assert_eq!(
        model.auto_addable(),
        r.grown_by_dry_run,
        "{model}: added by the dry run"
    );

    // §1.4 default model names
    let with_cap = Capabilities::from_names(["pcie-root-port"]);
    let without = Capabilities::empty();
    let mut modern_without = Capabilities::qemu_8_0_x86_64();
    modern_without.remove("pcie-root-port");
    assert_eq!(model.default_model_name(&with_cap), r.default_name.0);
    assert_eq!(
        model.default_model_name(&Capabilities::qemu_8_0_x86_64()),
        r.default_name.0
    );
    assert_eq!(model.default_model_name(&without), r.default_name.1);
    assert_eq!(model.default_model_name(&modern_without), r.default_name.1);
    for name in [r.default_name.0, r.default_name.1].into_iter().flatten() {
        assert!(model.accepts_model_name(name), "{model} accepts {name}");
    }
}

#[test]
fn pci_root_row() {
    check_row(M::PciRoot);
}

#[test]
fn pcie_root_row() {
    check_row(M::PcieRoot);
}

#[test]
fn pci_bridge_row() {
    check_row(M::PciBridge);
}

#[test]
fn dmi_to_pci_bridge_row() {
    check_row(M::DmiToPciBridge);
}

#[test]
fn pcie_to_pci_bridge_row() {
    check_row(M::PcieToPciBridge);
}

#[test]
fn pcie_root_port_row() {
    check_row(M::PcieRootPort);
}

#[test]
fn pcie_switch_upstream_port_row() {
    check_row(M::PcieSwitchUpstreamPort);
}

#[test]
fn pcie_switch_downstream_port_row() {
    check_row(M::PcieSwitchDownstreamPort);
}

#[test]
fn pci_expander_bus_row() {
    check_row(M::PciExpanderBus);
}

#[test]
fn pcie_expander_bus_row() {
    check_row(M::PcieExpanderBus);
}

#[test]
fn all_models_lists_the_ten_models_in_libvirt_order() {
    assert_eq!(
        ALL_MODELS.map(M::as_str),
        [
            "pci-root",
            "pcie-root",
            "pci-bridge",
            "dmi-to-pci-bridge",
            "pcie-root-port",
            "pcie-switch-upstream-port",
            "pcie-switch-downstream-port",
            "pci-expander-bus",
            "pcie-expander-bus",
            "pcie-to-pci-bridge",
        ]
    );
}

#[test]
fn unknown_model_name_is_rejected() {
    let err = "pcie-bridge".parse::<M>().unwrap_err();
    assert!(err.to_string().contains("Unknown model type 'pcie-bridge'"));
}

#[test]
fn hotpluggable_buses_are_the_six_of_section_2_4() {
    let hot: Vec<M> = ALL_MODELS
        .into_iter()
        .filter(|m| m.hotpluggable())
        .collect();
    assert_eq!(
        hot,
        [
            M::PciRoot,
            M::PciBridge,
            M::PcieRootPort,
            M::PcieSwitchDownstreamPort,
            M::PciExpanderBus,
            M::PcieToPciBridge,
        ]
    );
}

#[test]
fn pcie_root_port_default_name_follows_the_capability() {
    let m = M::PcieRootPort;
    assert_eq!(
        m.default_model_name(&Capabilities::from_names(["pcie-root-port"])),
        Some("pcie-root-port")
    );
    assert_eq!(
        m.default_model_name(&Capabilities::from_names(["ioh3420"])),
        Some("ioh3420")
    );
    assert_eq!(
        m.default_model_name(&Capabilities::empty()),
        Some("ioh3420")
    );
    assert!(m.accepts_model_name("ioh3420"));
    assert!(m.accepts_model_name("pcie-root-port"));
    assert!(!m.accepts_model_name("xio3130-downstream"));
}

#[test]
fn explicit_model_names_are_only_the_allowed_ones() {
    assert!(M::PciRoot.accepts_model_name("spapr-pci-host-bridge"));
    assert!(!M::PciRoot.accepts_model_name("pci-bridge"));
    for name in ["pcie-root", "pcie-root-port", "pci-bridge", ""] {
        assert!(!M::PcieRoot.accepts_model_name(name), "pcie-root: {name}");
    }
    for m in ALL_MODELS.into_iter().filter(|m| !m.is_root()) {
        let own = m.default_model_name(&Capabilities::qemu_8_0_x86_64());
        for other in ALL_MODELS.into_iter().filter(|o| !o.is_root() && *o != m) {
            if let (Some(own), Some(theirs)) = (
                own,
                other.default_model_name(&Capabilities::qemu_8_0_x86_64()),
            ) {
                assert_ne!(own, theirs);
                assert!(!m.accepts_model_name(theirs), "{m} must not take {theirs}");
            }
        }
    }
}

#[test]
fn model_names_need_their_capability() {
    use pciplan::controller::model_name_capability as cap;
    assert_eq!(cap("pcie-root-port"), Some("pcie-root-port"));
    assert_eq!(cap("ioh3420"), Some("ioh3420"));
    assert_eq!(cap("pci-bridge"), Some("pci-bridge"));
    assert_eq!(cap("i82801b11-bridge"), Some("dmi-to-pci-bridge"));
    assert_eq!(cap("pcie-pci-bridge"), Some("pcie-pci-bridge"));
    assert_eq!(cap("x3130-upstream"), Some("x3130-upstream"));
    assert_eq!(cap("xio3130-downstream"), Some("xio3130-downstream"));
    assert_eq!(cap("pxb"), Some("pxb"));
    assert_eq!(cap("pxb-pcie"), Some("pxb-pcie"));
    assert_eq!(cap("spapr-pci-host-bridge"), Some("spapr-pci-host-bridge"));
    assert_eq!(cap("ne2k_pci"), None);
}

#[test]
fn only_pcie_root_port_carries_aggregate_slot() {
    for m in ALL_MODELS {
        assert_eq!(
            m.connect_flags().contains(F::AGGREGATE_SLOT),
            m == M::PcieRootPort,
            "{m}"
        );
    }
}

#[test]
fn bridge_slot_zero_is_unusable_but_dmi_and_expanders_use_it() {
    for m in [M::PciBridge, M::PcieToPciBridge, M::PciRoot, M::PcieRoot] {
        assert_eq!(m.slot_range().0, 1, "{m}");
    }
    for m in [
        M::DmiToPciBridge,
        M::PciExpanderBus,
        M::PcieExpanderBus,
        M::PcieSwitchUpstreamPort,
    ] {
        assert_eq!(m.slot_range(), (0, 31), "{m}");
    }
}

// ---------------------------------------------------------------------------
// §2.5 the compatibility test

const P: F = F::PCI_DEVICE.union(F::AUTOASSIGN);
const E: F = F::PCIE_DEVICE.union(F::AUTOASSIGN);

fn auto(bus: F, dev: F, at: PciAddress) -> Result<(), AllocError> {
    check_compatible(bus, dev, at, CheckMode::Auto)
}

fn explicit(bus: F, dev: F, at: PciAddress) -> Result<(), AllocError> {
    check_compatible(bus, dev, at, CheckMode::Explicit)
}

fn incompatible(at: PciAddress, kind: &'static str) -> Result<(), AllocError> {
    Err(AllocError::Incompatible {
        addr: at,
        bus: u32::from(at.bus()),
        kind,
    })
}

// step 1

#[test]
fn integrated_device_off_bus_zero_is_rejected_in_both_modes() {
    let at = addr(3, 0, 0);
    let iommu = E | F::INTEGRATED;
    for mode in [CheckMode::Auto, CheckMode::Explicit] {
        assert_eq!(
            check_compatible(bus_flags(M::PcieRootPort, false), iommu, at, mode),
            Err(AllocError::NotIntegrated { addr: at })
        );
    }
}

#[test]
fn integrated_check_comes_before_every_other_step() {
    let at = addr(2, 1, 0);
    // the bus offers nothing at all and the device is hot-plugged: still
    // the integrated error
    assert_eq!(
        auto(F::empty(), F::INTEGRATED | F::HOTPLUGGABLE | P, at),
        Err(AllocError::NotIntegrated { addr: at })
    );
    assert_eq!(
        explicit(F::empty(), F::INTEGRATED, at),
        Err(AllocError::NotIntegrated { addr: at })
    );
}

#[test]
fn integrated_device_on_bus_zero_may_be_auto_placed_on_pcie_root() {
    let at = addr(0, 1, 0);
    // virtio IOMMU on q35 (V | INTEGRATED) and on i440fx
    assert_eq!(
        auto(bus_flags(M::PcieRoot, false), E | F::INTEGRATED, at),
        Ok(())
    );
    assert_eq!(
        auto(bus_flags(M::PciRoot, false), P | F::INTEGRATED, at),
        Ok(())
    );
    // without INTEGRATED the same device is refused on pcie-root
    assert_eq!(
        auto(bus_flags(M::PcieRoot, false), E, at),
        Err(AllocError::NoAutoAssign { addr: at, bus: 0 })
    );
}

#[test]
fn integrated_only_relaxes_autoassign_not_the_kind() {
    let at = addr(0, 2, 0);
    assert_eq!(
        auto(bus_flags(M::PcieRoot, false), P | F::INTEGRATED, at),
        incompatible(at, "standard PCI device")
    );
}

// step 2, explicit mode

#[test]
fn explicit_conventional_device_fits_pcie_slots() {
    let root_port = addr(1, 0, 0);
    assert_eq!(
        explicit(bus_flags(M::PcieRootPort, false), P, root_port),
        Ok(())
    );
    assert_eq!(
        explicit(bus_flags(M::PcieSwitchDownstreamPort, false), P, root_port),
        Ok(())
    );
    // pcie-root and dmi-to-pci-bridge need no AUTOASSIGN in explicit mode
    assert_eq!(
        explicit(bus_flags(M::PcieRoot, false), P, addr(0, 3, 0)),
        Ok(())
    );
    assert_eq!(
        explicit(bus_flags(M::DmiToPciBridge, false), E, addr(1, 0, 0)),
        Ok(())
    );
}

#[test]
fn explicit_express_device_fits_conventional_slots() {
    for m in [
        M::PciRoot,
        M::PciBridge,
        M::PcieToPciBridge,
        M::PciExpanderBus,
    ] {
        assert_eq!(
            explicit(bus_flags(m, false), E, addr(1, 1, 0)),
            Ok(()),
            "{m}"
        );
    }
}

#[test]
fn auto_mode_enforces_pci_versus_pcie() {
    let at = addr(1, 0, 0);
    assert_eq!(
        auto(bus_flags(M::PcieRootPort, false), P, at),
        incompatible(at, "standard PCI device")
    );
    let at = addr(2, 1, 0);
    assert_eq!(
        auto(bus_flags(M::PciBridge, false), E, at),
        incompatible(at, "PCI Express device")
    );
}

#[test]
fn explicit_pci_bridge_goes_wherever_an_endpoint_goes() {
    for (m, at) in [
        (M::PcieRoot, addr(0, 4, 0)),
        (M::PcieRootPort, addr(1, 0, 0)),
        (M::PcieSwitchDownstreamPort, addr(3, 0, 0)),
        (M::PciRoot, addr(0, 4, 0)),
        (M::DmiToPciBridge, addr(1, 0, 0)),
    ] {
        assert_eq!(
            explicit(bus_flags(m, false), F::PCI_BRIDGE, at),
            Ok(()),
            "{m}"
        );
    }
}

#[test]
fn explicit_pci_bridge_misfit_reports_standard_pci_device() {
    for (m, at) in [
        (M::PcieSwitchUpstreamPort, addr(2, 0, 0)),
        (M::PcieExpanderBus, addr(4, 0, 0)),
    ] {
        assert_eq!(
            explicit(bus_flags(m, false), F::PCI_BRIDGE, at),
            incompatible(at, "standard PCI device"),
            "{m}"
        );
    }
}

#[test]
fn auto_pci_bridge_on_pcie_root_reports_pci_bridge() {
    let at = addr(0, 1, 0);
    assert_eq!(
        auto(bus_flags(M::PcieRoot, false), F::PCI_BRIDGE, at),
        incompatible(at, "pci-bridge")
    );
}

#[test]
fn explicit_mode_never_relaxes_controller_kinds() {
    let at = addr(1, 1, 0);
    assert_eq!(
        explicit(
            bus_flags(M::PciBridge, false),
            M::PcieRootPort.connect_flags(),
            at
        ),
        incompatible(at, "pcie-root-port")
    );
    let at = addr(0, 2, 0);
    assert_eq!(
        explicit(
            bus_flags(M::PciRoot, false),
            M::DmiToPciBridge.connect_flags(),
            at
        ),
        incompatible(at, "dmi-to-pci-bridge")
    );
}

// step 2, auto mode

#[test]
fn auto_device_on_pcie_root_has_no_autoassign() {
    let at = addr(0, 1, 0);
    assert_eq!(
        auto(bus_flags(M::PcieRoot, false), E, at),
        Err(AllocError::NoAutoAssign { addr: at, bus: 0 })
    );
    // in explicit mode the same slot is fine
    assert_eq!(explicit(bus_flags(M::PcieRoot, false), E, at), Ok(()));
}

#[test]
fn buses_without_autoassign_refuse_auto_placed_endpoints() {
    for (m, at) in [
        (M::PcieRoot, addr(0, 5, 0)),
        (M::DmiToPciBridge, addr(1, 0, 0)),
        (M::PcieSwitchUpstreamPort, addr(2, 3, 0)),
        (M::PcieExpanderBus, addr(6, 0, 0)),
    ] {
        for dev in [P, E] {
            assert_eq!(
                auto(bus_flags(m, false), dev, at),
                Err(AllocError::NoAutoAssign {
                    addr: at,
                    bus: u32::from(at.bus())
                }),
                "{m}"
            );
        }
    }
}

#[test]
fn autoassign_check_comes_before_hotplug_and_kind() {
    let at = addr(0, 1, 0);
    assert_eq!(
        auto(F::empty(), P | F::HOTPLUGGABLE, at),
        Err(AllocError::NoAutoAssign { addr: at, bus: 0 })
    );
}

// step 3

#[test]
fn hotplug_onto_a_non_hotplug_bus_is_rejected() {
    for (m, at) in [
        (M::PcieRoot, addr(0, 7, 0)),
        (M::DmiToPciBridge, addr(1, 2, 0)),
    ] {
        assert_eq!(
            explicit(bus_flags(m, false), P | F::HOTPLUGGABLE, at),
            Err(AllocError::NoHotplug {
                addr: at,
                bus: u32::from(at.bus())
            }),
            "{m}"
        );
    }
}

#[test]
fn hotplug_off_removes_hotplug_from_hotpluggable_buses() {
    let at = addr(1, 0, 0);
    let dev = E | F::HOTPLUGGABLE;
    assert_eq!(auto(bus_flags(M::PcieRootPort, false), dev, at), Ok(()));
    assert_eq!(
        auto(bus_flags(M::PcieRootPort, true), dev, at),
        Err(AllocError::NoHotplug { addr: at, bus: 1 })
    );
    let at = addr(0, 3, 0);
    assert_eq!(
        auto(bus_flags(M::PciRoot, false), P | F::HOTPLUGGABLE, at),
        Ok(())
    );
    assert_eq!(
        auto(bus_flags(M::PciRoot, true), P | F::HOTPLUGGABLE, at),
        Err(AllocError::NoHotplug { addr: at, bus: 0 })
    );
}

#[test]
fn hotplug_check_comes_before_kind() {
    let at = addr(5, 1, 0);
    assert_eq!(
        explicit(
            bus_flags(M::PciBridge, true),
            M::PcieRootPort.connect_flags() | F::HOTPLUGGABLE,
            at
        ),
        Err(AllocError::NoHotplug { addr: at, bus: 5 })
    );
}

// step 4

#[test]
fn kind_named_in_the_error_follows_libvirts_order() {
    let at = addr(9, 0, 0);
    let cases = [
        (F::PCI_DEVICE, "standard PCI device"),
        (F::PCIE_DEVICE, "PCI Express device"),
        (F::PCIE_ROOT_PORT, "pcie-root-port"),
        (F::PCIE_SWITCH_UPSTREAM_PORT, "pcie-switch-upstream-port"),
        (
            F::PCIE_SWITCH_DOWNSTREAM_PORT,
            "pcie-switch-downstream-port",
        ),
        (F::DMI_TO_PCI_BRIDGE, "dmi-to-pci-bridge"),
        (F::PCIE_TO_PCI_BRIDGE, "pcie-to-pci-bridge"),
        (F::PCI_EXPANDER_BUS, "pci-expander-bus"),
        (F::PCIE_EXPANDER_BUS, "pcie-expander-bus"),
        (F::PCI_BRIDGE, "pci-bridge"),
    ];
    for (i, (bit, kind)) in cases.iter().enumerate() {
        // alone
        assert_eq!(auto(F::empty(), *bit, at), incompatible(at, kind));
        assert_eq!(bit.kind_name(), Some(*kind));
        // together with every later kind: the earlier one is named
        let later = cases
            .iter()
            .skip(i + 1)
            .fold(F::empty(), |acc, (b, _)| acc | *b);
        assert_eq!(auto(F::empty(), *bit | later, at), incompatible(at, kind));
    }
}

#[test]
fn device_without_kind_bits_has_unrecognized_flags() {
    let at = addr(0, 3, 0);
    for (bus, dev, mode) in [
        (bus_flags(M::PciRoot, false), F::empty(), CheckMode::Auto),
        (bus_flags(M::PciRoot, false), F::AUTOASSIGN, CheckMode::Auto),
        (
            bus_flags(M::PciRoot, false),
            F::AUTOASSIGN | F::HOTPLUGGABLE,
            CheckMode::Auto,
        ),
        (F::all(), F::INTEGRATED, CheckMode::Explicit),
    ] {
        let r = check_compatible(bus, dev, at, mode);
        assert!(
            matches!(r, Err(AllocError::UnrecognizedFlags { addr: a, .. }) if a == at),
            "{dev:?}: {r:?}"
        );
        let text = r.unwrap_err().to_string();
        let prefix =
            "The device at PCI address 0000:00:03.0 has unrecognized connection type flags 0x";
        assert!(text.starts_with(prefix), "{text}");
        let hex = &text[prefix.len()..];
        assert!(hex.len() >= 2, "{text}");
        assert!(
            hex.chars()
                .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c)),
            "{text}"
        );
    }
}

// step 5

#[test]
fn matching_kinds_are_compatible() {
    assert_eq!(auto(bus_flags(M::PciRoot, false), P, addr(0, 3, 0)), Ok(()));
    assert_eq!(
        auto(bus_flags(M::PcieRootPort, false), E, addr(1, 0, 0)),
        Ok(())
    );
    assert_eq!(
        auto(
            bus_flags(M::PcieRoot, false),
            M::PcieRootPort.connect_flags(),
            addr(0, 1, 0)
        ),
        Ok(())
    );
    assert_eq!(
        auto(
            bus_flags(M::PcieSwitchUpstreamPort, false),
            M::PcieSwitchDownstreamPort.connect_flags(),
            addr(2, 0, 0)
        ),
        Ok(())
    );
}

#[test]
fn auto_placement_of_endpoints_matches_the_bus_table() {
    // an endpoint (with AUTOASSIGN) is auto-placed exactly on the buses that
    // accept its kind and allow auto-assignment
    for m in ALL_MODELS {
        let at = addr(1, m.slot_range().0, 0);
        for (dev, kind) in [(P, F::PCI_DEVICE), (E, F::PCIE_DEVICE)] {
            let want = row(m).autoassign && row(m).accepts.contains(kind);
            assert_eq!(
                auto(bus_flags(m, false), dev, at).is_ok(),
                want,
                "{m} {dev:?}"
            );
        }
    }
}

// ---------------------------------------------------------------------------
// error texts (§6.3)

#[test]
fn compatibility_error_texts_carry_libvirts_phrases() {
    let at = addr(0, 0x1f, 2);
    assert_eq!(
        AllocError::NotIntegrated { addr: at }.to_string(),
        "The device at PCI address 0000:00:1f.2 needs to be an integrated device (bus=0)"
    );
    assert_eq!(
        AllocError::NoAutoAssign { addr: at, bus: 0 }.to_string(),
        "The device at PCI address 0000:00:1f.2 was auto-assigned this address, but the PCI \
         controller with index='0' doesn't allow auto-assignment"
    );
    assert_eq!(
        AllocError::NoHotplug { addr: at, bus: 0 }.to_string(),
        "The device at PCI address 0000:00:1f.2 requires hotplug capability, but the PCI \
         controller with index='0' doesn't support hotplug"
    );
    assert_eq!(
        AllocError::Incompatible {
            addr: at,
            bus: 0,
            kind: "standard PCI device"
        }
        .to_string(),
        "The device at PCI address 0000:00:1f.2 cannot be plugged into the PCI controller with \
         index='0'. It requires a controller that accepts a standard PCI device."
    );
    let text = AllocError::UnrecognizedFlags { addr: at, flags: 0 }.to_string();
    assert_eq!(
        text,
        "The device at PCI address 0000:00:1f.2 has unrecognized connection type flags 0x00"
    );
}

#[test]
fn compatibility_errors_from_check_name_bus_and_address() {
    let at = addr(0x0a, 0, 0);
    let err = explicit(
        bus_flags(M::PcieSwitchUpstreamPort, false),
        F::PCI_BRIDGE,
        at,
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "The device at PCI address 0000:0a:00.0 cannot be plugged into the PCI controller with \
         index='10'. It requires a controller that accepts a standard PCI device."
    );
    let err = explicit(
        bus_flags(M::PciBridge, false),
        M::PcieRootPort.connect_flags(),
        addr(3, 1, 0),
    )
    .unwrap_err();
    assert!(
        err.to_string().ends_with("accepts a pcie-root-port."),
        "{err}"
    );
}

#[test]
fn slot_and_growth_error_texts_carry_libvirts_phrases() {
    let at = addr(0, 0, 0);
    assert_eq!(
        AllocError::SlotTooLow { addr: at, min: 1 }.to_string(),
        "Invalid PCI address 0000:00:00.0. slot must be >= 1"
    );
    let at = addr(1, 1, 0);
    assert_eq!(
        AllocError::SlotTooHigh { addr: at, max: 0 }.to_string(),
        "Invalid PCI address 0000:01:01.0. slot must be <= 0"
    );
    assert_eq!(
        AllocError::BusOutOfRange { addr: at, last: 0 }.to_string(),
        "Invalid PCI address 0000:01:01.0. Only PCI buses up to 0 are available"
    );
    assert_eq!(AllocError::NoBuses.to_string(), "No PCI buses available");
    assert_eq!(
        AllocError::NoFreeSlot.to_string(),
        "No more available PCI slots"
    );
    assert_eq!(
        AllocError::DoubleUse { addr: at }.to_string(),
        "Attempted double use of PCI Address 0000:01:01.0"
    );
    assert_eq!(
        AllocError::ControllerNotAddable {
            model: "dmi-to-pci-bridge"
        }
        .to_string(),
        "a PCI slot is needed to connect a PCI controller model='dmi-to-pci-bridge', but none \
         is available, and it cannot be automatically added"
    );
    assert_eq!(
        AllocError::CannotAddBus { flags: 0x2000 }.to_string(),
        "Cannot automatically add a new PCI bus for a device with connect flags 2000"
    );
    assert_eq!(
        AllocError::CannotAddBus { flags: 0 }.to_string(),
        "Cannot automatically add a new PCI bus for a device with connect flags 00"
    );
    assert_eq!(
        AllocError::ControllerHotplug {
            controller_type: "pci"
        }
        .to_string(),
        "'pci' controller cannot be hot plugged."
    );
}

// ---------------------------------------------------------------------------
// §2.3 and §2.4 through whole plans

fn pci_controller(model: M, index: u32) -> Device {
    Device::new(DeviceKind::Controller(Controller::pci(model, index)))
}

fn q35_with(devices: Vec<Device>) -> Plan {
    let mut plan = Plan::new(Machine::q35(), Capabilities::qemu_8_0_x86_64());
    for d in devices {
        plan.add_device(d);
    }
    plan
}

fn controller_bus(plan: &Plan, model: M) -> Option<u8> {
    plan.devices()
        .iter()
        .find(|d| d.kind.controller().and_then(Controller::pci_model) == Some(model))
        .and_then(|d| d.address.present())
        .map(|a| a.bus())
}

#[test]
fn upstream_port_gets_a_root_port_added_for_it() {
    let mut plan = q35_with(vec![pci_controller(M::PcieSwitchUpstreamPort, 1)]);
    plan.assign().unwrap();
    let bus = controller_bus(&plan, M::PcieSwitchUpstreamPort).unwrap();
    let parent = plan.pci_controller(u32::from(bus)).unwrap();
    assert_eq!(parent.pci_model(), Some(M::PcieRootPort));
}

#[test]
fn lone_pcie_to_pci_bridge_on_q35_cannot_grow_a_bus() {
    let mut plan = q35_with(vec![pci_controller(M::PcieToPciBridge, 1)]);
    let err = plan.assign().unwrap_err();
    assert_eq!(
        err.alloc_error(),
        Some(&AllocError::CannotAddBus { flags: 0x2000 })
    );
    assert!(
        err.to_string().contains(
            "Cannot automatically add a new PCI bus for a device with connect flags 2000"
        ),
        "{err}"
    );
}

#[test]
fn downstream_port_without_upstream_port_cannot_be_added() {
    let mut plan = q35_with(vec![pci_controller(M::PcieSwitchDownstreamPort, 1)]);
    let err = plan.assign().unwrap_err();
    assert_eq!(
        err.alloc_error(),
        Some(&AllocError::ControllerNotAddable {
            model: "pcie-switch-downstream-port"
        })
    );
    assert!(
        err.to_string().contains(
            "a PCI slot is needed to connect a PCI controller model='pcie-switch-downstream-port', \
             but none is available, and it cannot be automatically added"
        ),
        "{err}"
    );
}

#[test]
fn pcie_root_port_on_i440fx_cannot_be_added() {
    let mut plan = Plan::new(Machine::pc(), Capabilities::qemu_8_0_x86_64());
    plan.add_device(pci_controller(M::PcieRootPort, 1));
    let err = plan.assign().unwrap_err();
    assert_eq!(
        err.alloc_error(),
        Some(&AllocError::ControllerNotAddable {
            model: "pcie-root-port"
        })
    );
}

#[test]
fn hotplug_at_explicit_address_on_pcie_root_is_refused() {
    let mut plan = q35_with(Vec::new());
    plan.assign().unwrap();
    let at = addr(0, 0x10, 0);
    let err = plan
        .hotplug_add(
            Device::new(DeviceKind::Rng(VirtioModel::Default)).with_address(DeviceAddress::Pci(at)),
        )
        .unwrap_err();
    assert_eq!(
        err.alloc_error(),
        Some(&AllocError::NoHotplug { addr: at, bus: 0 })
    );
    let text = err.to_string();
    assert!(text.starts_with("XML error: "), "{text}");
    assert!(
        text.contains(
            "The device at PCI address 0000:00:10.0 requires hotplug capability, but the PCI \
             controller with index='0' doesn't support hotplug"
        ),
        "{text}"
    );
}

#[test]
fn pci_root_with_hotplug_off_refuses_hotplug() {
    let mut plan = Plan::new(Machine::pc(), Capabilities::qemu_8_0_x86_64());
    let mut root = Controller::pci(M::PciRoot, 0);
    if let ControllerKind::Pci(p) = &mut root.kind {
        p.target.hotplug = Some(false);
    }
    plan.add_device(Device::new(DeviceKind::Controller(root)));
    plan.assign().unwrap();
    let at = addr(0, 0x0a, 0);
    let err = plan
        .hotplug_add(
            Device::new(DeviceKind::Rng(VirtioModel::Default)).with_address(DeviceAddress::Pci(at)),
        )
        .unwrap_err();
    assert_eq!(
        err.alloc_error(),
        Some(&AllocError::NoHotplug { addr: at, bus: 0 })
    );
    // with hotplug left on, the same attach works
    let mut plan = Plan::new(Machine::pc(), Capabilities::qemu_8_0_x86_64());
    plan.assign().unwrap();
    let i = plan
        .hotplug_add(
            Device::new(DeviceKind::Rng(VirtioModel::Default)).with_address(DeviceAddress::Pci(at)),
        )
        .unwrap();
    assert_eq!(plan.devices()[i].address.present(), Some(at));
}

#[test]
fn pci_controllers_cannot_be_hot_plugged() {
    let mut plan = q35_with(Vec::new());
    plan.assign().unwrap();
    let err = plan
        .hotplug_add(pci_controller(M::PcieRootPort, 30))
        .unwrap_err();
    assert_eq!(
        err.alloc_error(),
        Some(&AllocError::ControllerHotplug {
            controller_type: "pci"
        })
    );
    assert!(
        err.to_string()
            .contains("'pci' controller cannot be hot plugged."),
        "{err}"
    );
}

#[test]
fn explicit_pci_bridge_on_upstream_port_is_rejected_in_a_plan() {
    let mut bridge = pci_controller(M::PciBridge, 3);
    bridge.address = DeviceAddress::Pci(addr(2, 0, 0));
    let mut plan = q35_with(vec![
        pci_controller(M::PcieRootPort, 1),
        pci_controller(M::PcieSwitchUpstreamPort, 2),
        bridge,
    ]);
    let err = plan.assign().unwrap_err();
    assert_eq!(
        err.alloc_error(),
        Some(&AllocError::Incompatible {
            addr: addr(2, 0, 0),
            bus: 2,
            kind: "standard PCI device"
        })
    );
    let text = err.to_string();
    assert!(text.starts_with("XML error: "), "{text}");
    assert!(
        text.contains(
            "cannot be plugged into the PCI controller with index='2'. It requires a controller \
             that accepts a standard PCI device."
        ),
        "{text}"
    );
}
