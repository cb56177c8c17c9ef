//! Property tests of the placement policies (`pciplan::policy`), per policy:
//! no existing address moves under any sequence of add / remove / re-plan;
//! hot-adding into a spare gives the address a cold plan gives; a plan never
//! exceeds a budget; the output re-parses to the same bytes.
//!
//! Case count: `PROPTEST_CASES` (CI sets 256); default 256.

use std::collections::BTreeMap;

use pciplan::device::{DiskBus, FsDriver, HostdevSource, VirtioModel};
use pciplan::explain::Selector;
use pciplan::machine::{HostDevice, HostPci};
use pciplan::policy::{Group, Policy};
use pciplan::{
    Capabilities, ControllerModel, Device, DeviceKind, Machine, NicModel, PciAddress, Plan,
};
use proptest::prelude::*;

#[path = "common/strategies.rs"]
mod strategies;

/// One endpoint kind of the generated guests, by number.
fn endpoint(kind: u8, n: usize) -> Device {
    let k = match kind % 5 {
        0 => DeviceKind::Interface {
            model: Some(NicModel::Virtio),
            hostdev: None,
        },
        1 => DeviceKind::Disk {
            bus: DiskBus::Virtio,
            model: VirtioModel::Default,
            drive_controller: None,
        },
        2 => DeviceKind::Rng(VirtioModel::Default),
        3 => DeviceKind::Interface {
            model: Some(NicModel::E1000e),
            hostdev: None,
        },
        _ => DeviceKind::Filesystem {
            driver: FsDriver::Default,
            model: VirtioModel::Default,
        },
    };
    Device::new(k).with_label(format!("d{n}"))
}

/// The policies under test.
fn policies() -> Vec<(&'static str, Policy)> {
    vec![
        (
            "spares",
            Policy {
                spare_ports: 4,
                ..Policy::default()
            },
        ),
        (
            "expand",
            Policy {
                expand: true,
                ..Policy::default()
            },
        ),
        (
            "expand+spares+strict",
            Policy {
                expand: true,
                spare_ports: 2,
                strict: true,
                ..Policy::default()
            },
        ),
        (
            "hotplug_off",
            Policy {
                hotplug_off: vec!["disk".into()],
                spare_ports: 1,
                ..Policy::default()
            },
        ),
    ]
}

fn machine(q35: bool) -> Machine {
    if q35 { Machine::q35() } else { Machine::pc() }
}

fn plan_of(q35: bool, kinds: &[u8]) -> Plan {
    let mut p = Plan::new(machine(q35), Capabilities::qemu_8_0_x86_64());
    for (n, &k) in kinds.iter().enumerate() {
        p.add_device(endpoint(k, n));
    }
    p
}

/// Every labelled device's address, by label.
fn addresses(plan: &Plan) -> BTreeMap<String, PciAddress> {
    plan.devices()
        .iter()
        .filter(|d| !d.label.is_empty())
        .filter_map(|d| d.address.present().map(|a| (d.label.clone(), a)))
        .collect()
}

/// Each controller's index and address.
fn controllers(plan: &Plan) -> BTreeMap<u32, Option<PciAddress>> {
    plan.devices()
        .iter()
        .filter_map(|d| {
            let c = d.kind.controller()?;
            c.pci_model()?;
            Some((c.idx(), d.address.present()))
        })
        .collect()
}

#[derive(Clone, Debug)]
enum Step {
    Add(u8),
    Remove(usize),
}

fn steps() -> impl Strategy<Value = Vec<Step>> {
    prop::collection::vec(
        prop_oneof![
            (0u8..5).prop_map(Step::Add),
            (0usize..64).prop_map(Step::Remove)
        ],
        1..8,
    )
}

proptest! {
    #![proptest_config(strategies::config())]

    /// Under every policy, adding or removing devices and re-planning never
    /// moves a device or controller that was placed before.
    #[test]
    fn prop_no_existing_address_moves_under_add_remove_replan(
        q35 in any::<bool>(),
        kinds in prop::collection::vec(0u8..5, 0..40),
        steps in steps(),
        which in 0usize..4,
    ) {
        let policies = policies();
        let (_, policy) = &policies[which % policies.len()];
        let mut plan = plan_of(q35, &kinds);
        prop_assume!(plan.assign_with(policy, &[]).is_ok());
        let mut next = kinds.len();
        for step in steps {
            let before_dev = addresses(&plan);
            let before_ctl = controllers(&plan);
            match step {
                Step::Add(k) => {
                    plan.add_device(endpoint(k, next));
                    next += 1;
                }
                Step::Remove(n) => {
                    let labelled: Vec<usize> = plan.devices().iter().enumerate()
                        .filter(|(_, d)| !d.label.is_empty()).map(|(i, _)| i).collect();
                    if let Some(&i) = labelled.get(n % labelled.len().max(1)) {
                        plan.remove_device(i).unwrap();
                    }
                }
            }
            if plan.assign_with(policy, &[]).is_err() {
                break;
            }
            let after_dev = addresses(&plan);
            for (label, a) in &before_dev {
                if let Some(b) = after_dev.get(label) {
                    prop_assert_eq!(a, b, "{} moved", label);
                }
            }
            let after_ctl = controllers(&plan);
            for (index, a) in &before_ctl {
                prop_assert_eq!(Some(a), after_ctl.get(index), "controller {} moved or vanished", index);
            }
        }
    }

    /// With spare ports, hot-adding a device gives it the address a cold
    /// re-plan of the same definition plus that device gives.
    #[test]
    fn prop_hot_add_into_a_spare_equals_the_cold_plan(
        q35 in any::<bool>(),
        kinds in prop::collection::vec(0u8..5, 0..40),
        add in 0u8..5,
        spares in 1u32..6,
    ) {
        let policy = Policy { spare_ports: spares, ..Policy::default() };
        let mut plan = plan_of(q35, &kinds);
        prop_assume!(plan.assign_with(&policy, &[]).is_ok());
        let mut live = plan.clone();
        let dev = endpoint(add, 999);
        let i = live.hotplug_add(dev.clone());
        prop_assert!(i.is_ok(), "no spare took the device: {:?}", i);
        let hot = live.devices()[i.unwrap()].address.present();
        let mut cold = plan.clone();
        cold.add_device(dev);
        prop_assert!(cold.assign_with(&policy, &[]).is_ok());
        prop_assert_eq!(hot, addresses(&cold).get("d999").copied());
    }

    /// A policy plan keeps its spare count and stays inside the bus-number
    /// budget; with `io_windows = refuse` it also stays inside the I/O one.
    #[test]
    fn prop_a_plan_never_exceeds_a_budget(
        q35 in any::<bool>(),
        kinds in prop::collection::vec(0u8..5, 0..300),
        spares in 0u32..8,
        refuse_io in any::<bool>(),
    ) {
        let policy = Policy {
            spare_ports: spares,
            expand: true,
            io_windows: if refuse_io { pciplan::policy::IoWindows::Refuse } else { pciplan::policy::IoWindows::Ignore },
            ..Policy::default()
        };
        let mut plan = plan_of(q35, &kinds);
        if plan.assign_with(&policy, &[]).is_ok() {
            let b = pciplan::capacity::budgets(&plan);
            prop_assert!(b.buses_used <= b.buses_max);
            if q35 {
                prop_assert!(b.free_hotplug_ports >= spares as usize);
            } else {
                prop_assert!(b.free_hotplug_slots >= spares as usize);
            }
            if refuse_io {
                prop_assert!(b.io_windows_used <= b.io_windows_max);
            }
        }
    }

    /// The output of a policy plan, read back and planned again under the
    /// same policy, is the same bytes; libvirt's own algorithm keeps it too.
    #[test]
    fn prop_policy_output_is_a_fixed_point(
        q35 in any::<bool>(),
        kinds in prop::collection::vec(0u8..5, 0..60),
        which in 0usize..4,
    ) {
        let policies = policies();
        let (_, policy) = &policies[which % policies.len()];
        let xml = domain_xml(q35, &kinds);
        let Some(out) = assign_text(&xml, Some(policy)) else {
            return Ok(());
        };
        let again = assign_text(&out, Some(policy));
        prop_assert_eq!(again.as_deref(), Some(out.as_str()));
        let libvirt = assign_text(&out, None);
        prop_assert_eq!(libvirt.as_deref(), Some(out.as_str()));
    }
}

proptest! {
    #![proptest_config(strategies::config())]

    /// `[[group]]`: the group's devices sit behind expander buses on the
    /// group's node (one, until its bus numbers are used up), also after
    /// devices are added and the definition re-planned, and nothing placed
    /// before moves.
    #[test]
    fn prop_a_group_stays_behind_one_expander_bus_and_nothing_moves(
        q35 in any::<bool>(),
        n in 1usize..30,
        every in 2usize..5,
        added in 1usize..6,
    ) {
        let selectors: Vec<Selector> = (1..=n + added)
            .filter(|k| k % every == 0)
            .map(|k| Selector::Element { element: "interface".into(), ordinal: k })
            .collect();
        prop_assume!(!selectors.is_empty());
        let policy = Policy {
            groups: vec![Group { key: "g".into(), node: Some(1), devices: selectors }],
            spare_ports: 1,
            ..Policy::default()
        };
        let mut plan = plan_of(q35, &vec![0; n]);
        plan.set_numa_cells(2);
        prop_assert!(plan.assign_with(&policy, &[]).is_ok());
        for k in 0..added {
            let before = addresses(&plan);
            let ctl = controllers(&plan);
            plan.add_device(endpoint(0, n + k));
            prop_assert!(plan.assign_with(&policy, &[]).is_ok());
            let after = addresses(&plan);
            for (label, a) in &before {
                prop_assert_eq!(Some(a), after.get(label), "{} moved", label);
            }
            let after_ctl = controllers(&plan);
            for (index, a) in &ctl {
                prop_assert_eq!(Some(a), after_ctl.get(index));
            }
        }
        let expanders: std::collections::BTreeSet<u32> = plan
            .devices()
            .iter()
            .filter(|d| matches!(d.kind, DeviceKind::Interface { .. }))
            .enumerate()
            .filter(|(k, _)| (k + 1) % every == 0)
            .filter_map(|(_, d)| d.address.present())
            .filter_map(|a| expander_of(&plan, a))
            .collect();
        let members = (n + added) / every;
        prop_assert!(!expanders.is_empty() && expanders.len() <= members.div_ceil(15));
        for x in expanders {
            let node = plan.pci_controller(x).and_then(|c| match &c.kind {
                pciplan::ControllerKind::Pci(p) => p.target.node,
                _ => None,
            });
            prop_assert_eq!(node, Some(1));
        }
    }

    /// `host_multifunction`: the passthrough devices of one host slot share
    /// one guest slot, as distinct functions, function 0 multifunction.
    #[test]
    fn prop_host_functions_of_one_slot_share_a_guest_slot(
        q35 in any::<bool>(),
        cards in prop::collection::vec((1u8..0x40, 1u8..5, any::<bool>()), 1..6),
    ) {
        let mut host = HostPci::default();
        let mut plan = Plan::new(machine(q35), Capabilities::qemu_8_0_x86_64());
        for (c, &(bus, functions, pcie)) in cards.iter().enumerate() {
            for f in 0..functions {
                let a = PciAddress::from_parts(bus, u8::try_from(c).unwrap_or(0), f).unwrap();
                host.insert(a, HostDevice { is_pcie: pcie, iommu_group: None });
                plan.add_device(
                    Device::new(DeviceKind::Hostdev(HostdevSource::Pci(Some(a))))
                        .with_label(format!("h{c}.{f}")),
                );
            }
        }
        plan.set_host_pci(host);
        let policy = Policy { host_multifunction: true, ..Policy::default() };
        prop_assert!(plan.assign_with(&policy, &[]).is_ok());
        let placed = addresses(&plan);
        for (c, &(_, functions, _)) in cards.iter().enumerate() {
            let slot: Vec<PciAddress> = (0..functions)
                .filter_map(|f| placed.get(&format!("h{c}.{f}")).copied())
                .collect();
            prop_assert_eq!(slot.len(), usize::from(functions));
            for (f, a) in slot.iter().enumerate() {
                prop_assert_eq!((a.bus(), a.slot()), (slot[0].bus(), slot[0].slot()));
                prop_assert_eq!(usize::from(a.function().as_u8()), f);
            }
            if functions > 1 {
                prop_assert_eq!(slot[0].multifunction(), pciplan::Multifunction::On);
            }
        }
        let again = {
            let mut p = plan.clone();
            p.assign_with(&policy, &[]).map(|()| p)
        };
        prop_assert_eq!(again.as_ref().ok(), Some(&plan));
    }
}

/// The expander bus a device sits behind (through its root port on PCI
/// Express).
fn expander_of(plan: &Plan, a: PciAddress) -> Option<u32> {
    let mut bus = u32::from(a.bus());
    for _ in 0..4 {
        let dev = plan.devices().iter().find(|d| {
            d.kind
                .controller()
                .is_some_and(|c| c.pci_model().is_some() && c.idx() == bus)
        })?;
        let model = dev.kind.controller()?.pci_model()?;
        if matches!(
            model,
            ControllerModel::PcieExpanderBus | ControllerModel::PciExpanderBus
        ) {
            return Some(bus);
        }
        bus = u32::from(dev.address.present()?.bus());
    }
    None
}

fn domain_xml(q35: bool, kinds: &[u8]) -> String {
    let mut devs = String::new();
    for (n, &k) in kinds.iter().enumerate() {
        devs.push_str(&match k % 5 {
            0 => format!(
                "    <interface type='network'><mac address='52:54:00:00:{:02x}:{:02x}'/><source network='default'/><model type='virtio'/></interface>\n",
                n >> 8,
                n & 0xff
            ),
            1 => format!(
                "    <disk type='file' device='disk'><source file='/d{n}'/><target dev='vd{}' bus='virtio'/></disk>\n",
                disk_name(n)
            ),
            2 => "    <rng model='virtio'><backend model='random'>/dev/urandom</backend></rng>\n".to_string(),
            3 => "    <interface type='network'><source network='default'/><model type='e1000e'/></interface>\n".to_string(),
            _ => format!(
                "    <filesystem type='mount'><source dir='/s{n}'/><target dir='t{n}'/></filesystem>\n"
            ),
        });
    }
    format!(
        "<domain type='kvm'>\n  <name>p</name>\n  <memory>1048576</memory>\n  <os><type arch='x86_64' machine='{}'>hvm</type></os>\n  <devices>\n{devs}  </devices>\n</domain>\n",
        if q35 { "q35" } else { "pc" }
    )
}

fn disk_name(mut n: usize) -> String {
    let mut s = Vec::new();
    loop {
        s.push(b'a' + (n % 26) as u8);
        if n < 26 {
            break;
        }
        n = n / 26 - 1;
    }
    s.reverse();
    String::from_utf8(s).unwrap_or_default()
}

fn assign_text(xml: &str, policy: Option<&Policy>) -> Option<String> {
    let (doc, mut plan) =
        pciplan::libvirt::parse_domain_builtin(xml, &HostPci::default(), Default::default())
            .ok()?;
    match policy {
        Some(p) => {
            let ids = pciplan::libvirt::identities(&doc, &plan);
            plan.assign_with(p, &ids).ok()?;
        }
        None => plan.assign().ok()?,
    }
    pciplan::libvirt::write_domain(&doc, &plan).ok()
}
