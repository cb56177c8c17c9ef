//! Property tests of explain, diff and capacity over random plans.
//!
//! Case count: `PROPTEST_CASES` (CI sets 256); default 64.

#[path = "common/strategies.rs"]
mod strategies;

use pciplan::diff::{Change, Identity, diff, diff_plans};
use pciplan::explain::{Why, explain};
use pciplan::machine::HostPci;
use pciplan::{Capabilities, Device, Machine, PciAddress, Plan};
use proptest::prelude::*;
use strategies::{caps, config, device, device_kind, plan, x86_plan};

fn key(a: Option<PciAddress>) -> Option<(u16, u8, u8, u8)> {
    a.map(|a| a.key())
}

/// Tags every device with its position as origin.
fn tagged(mut p: Plan) -> Plan {
    for i in 0..p.devices().len() {
        if let Some(d) = p.device_mut(i) {
            d.origin = Some(i);
        }
    }
    p
}

/// Identities from the origin tags (`t<n>` aliases), else the model's.
fn ids(p: &Plan) -> Vec<Identity> {
    p.devices()
        .iter()
        .map(|d| match d.origin {
            Some(o) => Identity {
                alias: Some(format!("t{o}")),
                ..Identity::default()
            },
            None => Identity::of_device(d),
        })
        .collect()
}

fn hot_adds(plan: &Plan, device: &Device, cap: usize) -> usize {
    let mut live = plan.clone();
    let mut n = 0;
    while n < cap && live.hotplug_add(device.clone()).is_ok() {
        n += 1;
    }
    n
}

/// A small pc domain with NICs (by MAC) and disks (by target) at explicit
/// addresses, its device elements in the given order.
#[allow(clippy::unwrap_used, clippy::panic)]
fn domain(order: &[usize], nics: usize, disks: usize) -> String {
    let mut elems = Vec::new();
    for i in 0..nics {
        elems.push(format!(
            "<interface type='network'><source network='default'/><mac address='52:54:00:00:00:{i:02x}'/>\
             <model type='virtio'/><address type='pci' domain='0x0000' bus='0x00' slot='0x{:02x}' function='0x0'/></interface>",
            3 + i
        ));
    }
    for i in 0..disks {
        elems.push(format!(
            "<disk type='file' device='disk'><source file='/d{i}'/><target dev='vd{}' bus='virtio'/>\
             <address type='pci' domain='0x0000' bus='0x00' slot='0x{:02x}' function='0x0'/></disk>",
            char::from(b'a' + u8::try_from(i).unwrap()),
            3 + nics + i
        ));
    }
    let body: String = order
        .iter()
        .filter_map(|&i| elems.get(i))
        .cloned()
        .collect();
    format!(
        "<domain type='kvm'><os><type arch='x86_64' machine='pc'>hvm</type></os><devices>{body}</devices></domain>"
    )
}

proptest! {
    #![proptest_config(config())]

    /// The address the re-walk finds for every searched device is the one
    /// assign gave it, and every device's reported address is assign's.
    #[test]
    fn prop_explain_agrees_with_assign(p in plan(), v11 in any::<bool>()) {
        let mut p = p;
        if v11 {
            p.set_libvirt(pciplan::LibvirtVersion::V11_3);
        }
        let mut assigned = p.clone();
        let Ok(()) = assigned.assign() else {
            prop_assert!(explain(&p).is_err());
            return Ok(());
        };
        let e = explain(&p).map_err(|r| TestCaseError::fail(r.message))?;
        prop_assert_eq!(e.devices.len(), assigned.devices().len());
        for (d, a) in e.devices.iter().zip(assigned.devices()) {
            prop_assert_eq!(d.address, a.address.present());
            if let Why::Searched(s) = &d.why {
                prop_assert_eq!(key(s.found), key(d.address), "{}", e.render(Some(&[d.index])));
            }
        }
    }

    /// The address explain_hotplug's re-walk finds is the one a live
    /// attach gives, and it refuses exactly when the attach does.
    #[test]
    fn prop_explain_hotplug_agrees_with_hotplug_add(p in plan(), kind in device_kind()) {
        let mut p = p;
        if p.assign().is_err() {
            return Ok(());
        }
        let device = Device::new(kind);
        let mut live = p.clone();
        let attached = live.hotplug_add(device.clone());
        let explained = pciplan::explain::explain_hotplug(&p, &device);
        match (attached, explained) {
            (Ok(i), Ok(e)) => {
                let addr = live.devices().get(i).and_then(|d| d.address.present());
                prop_assert_eq!(key(e.address), key(addr));
                if let Why::Searched(s) = &e.why {
                    prop_assert_eq!(key(s.found), key(addr));
                }
            }
            (Err(a), Err(r)) => prop_assert_eq!(a, *r.error),
            (a, e) => prop_assert!(false, "attach {:?} but explain {:?}", a.is_ok(), e.is_ok()),
        }
    }

    /// A plan compared with itself has no change.
    #[test]
    fn prop_diff_of_itself_is_empty(p in plan()) {
        let mut p = p;
        if p.assign().is_err() {
            return Ok(());
        }
        let d = diff_plans(&p, &p);
        prop_assert!(d.abi_unchanged(), "{}", d.render());
    }

    /// A live attach shows as exactly one added device, nothing moved.
    #[test]
    fn prop_hot_add_shows_exactly_one_added_device(p in x86_plan(), kind in device_kind()) {
        let mut p = p;
        if p.assign().is_err() {
            return Ok(());
        }
        let old = tagged(p);
        let mut new = old.clone();
        if new.hotplug_add(Device::new(kind)).is_err() {
            return Ok(());
        }
        let d = diff(&old, &ids(&old), &new, &ids(&new));
        prop_assert_eq!(d.count(Change::Added), 1, "{}", d.render());
        prop_assert_eq!(d.count(Change::Moved) + d.count(Change::Removed), 0, "{}", d.render());
    }

    /// The same devices planned with two capability sets: the diff's moved
    /// devices are exactly those whose addresses differ.
    #[test]
    fn prop_caps_change_shows_exactly_the_moved_devices(
        q35 in any::<bool>(),
        a in caps(),
        b in caps(),
        devices in prop::collection::vec(device(), 0..25),
    ) {
        let machine = if q35 { Machine::q35() } else { Machine::pc() };
        let build = |c: Capabilities| {
            let mut p = Plan::new(machine.clone(), c);
            for (i, d) in devices.iter().enumerate() {
                p.add_device(d.clone().with_origin(i));
            }
            p
        };
        let (mut old, mut new) = (build(a), build(b));
        if old.assign().is_err() || new.assign().is_err() {
            return Ok(());
        }
        let d = diff(&old, &ids(&old), &new, &ids(&new));
        let addr_of = |p: &Plan, o: usize| {
            p.devices().iter().find(|x| x.origin == Some(o)).map(|x| key(x.address.present()))
        };
        let expected: Vec<usize> = (0..devices.len())
            .filter(|&o| addr_of(&old, o) != addr_of(&new, o))
            .collect();
        let mut moved: Vec<usize> = d
            .devices
            .iter()
            .filter(|c| c.change == Change::Moved)
            .filter_map(|c| old.devices().get(c.old?)?.origin)
            .collect();
        moved.sort_unstable();
        prop_assert_eq!(moved, expected, "{}", d.render());
    }

    /// Reordering the device elements of a definition changes nothing:
    /// NICs match by MAC and disks by target.
    #[test]
    fn prop_identity_matching_survives_reordering(
        (nics, disks, order) in (1usize..6, 1usize..6).prop_flat_map(|(n, k)| {
            (Just(n), Just(k), Just((0..n + k).collect::<Vec<usize>>()).prop_shuffle())
        })
    ) {
        let straight: Vec<usize> = (0..nics + disks).collect();
        let load = |xml: &str| {
            let (doc, mut plan) = pciplan::libvirt::parse_domain(
                xml, &Capabilities::qemu_8_0_x86_64(), &HostPci::default())?;
            plan.assign()?;
            let ids = pciplan::libvirt::identities(&doc, &plan);
            Ok::<_, pciplan::Error>((plan, ids))
        };
        let (old, old_ids) = load(&domain(&straight, nics, disks))
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        let (new, new_ids) = load(&domain(&order, nics, disks))
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        let d = diff(&old, &old_ids, &new, &new_ids);
        prop_assert!(d.abi_unchanged(), "{}", d.render());
    }

    /// capacity's live count of every class is the number of successive
    /// hot-adds of that class that succeed (pc and q35).
    #[test]
    fn prop_capacity_equals_successive_hot_adds(p in x86_plan()) {
        let mut p = p;
        if p.assign().is_err() {
            return Ok(());
        }
        let c = pciplan::capacity::capacity(&p, None);
        for ((class, device), counted) in pciplan::capacity::classes().iter().zip(&c.classes) {
            prop_assert_eq!(*class, counted.class);
            prop_assert_eq!(hot_adds(&p, device, counted.hotplug + 2), counted.hotplug, "{}", class);
        }
    }
}
