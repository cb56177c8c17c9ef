//! Transactional operations: every public operation that fails leaves the
//! plan exactly as it was (`Plan: PartialEq` compares machine, capabilities,
//! host facts and every device with its address).
//!
//! Operations are chosen to fail: assignment with clashing explicit
//! addresses, hot-plug at bad addresses (function ≠ 0, missing bus, used
//! slot, slot out of range, non-hot-pluggable bus), hot-plug of controllers,
//! hot-plug into a plan filled up by earlier hot-plugs, and removal past the
//! end. Successful operations in between are allowed; they build up state
//! for the next failure.
//!
//! Case count: `PROPTEST_CASES` (CI sets 256); default 256.

use pciplan::device::{BalloonModel, FsDriver, InputBus, ScsiModel, SoundModel, UsbModel};
use pciplan::{
    Capabilities, Controller, ControllerKind, ControllerModel, Device, DeviceAddress, DeviceKind,
    Machine, NicModel, PciAddress, Plan, VirtioModel,
};
use proptest::prelude::*;

const CAPS: [&str; 12] = [
    "pci-bridge",
    "pcie-root-port",
    "ioh3420",
    "pcie-pci-bridge",
    "dmi-to-pci-bridge",
    "virtio-pci-non-transitional",
    "piix3-usb-uhci",
    "qemu-xhci",
    "cirrus-vga",
    "lsi",
    "rtl8139",
    "x3130-upstream",
];

/// Most hot-plugs tried when filling a plan up.
const FILL_ATTEMPTS: usize = 300;

fn config() -> ProptestConfig {
    ProptestConfig::with_cases(
        std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(256),
    )
}

fn virtio_model() -> impl Strategy<Value = VirtioModel> {
    prop_oneof![
        Just(VirtioModel::Default),
        Just(VirtioModel::Virtio),
        Just(VirtioModel::Transitional),
        Just(VirtioModel::NonTransitional),
    ]
}

/// Endpoint devices (everything `hotplug_add` may accept).
fn endpoint_kind() -> impl Strategy<Value = DeviceKind> {
    prop_oneof![
        virtio_model().prop_map(DeviceKind::Rng),
        prop_oneof![
            Just(NicModel::Virtio),
            Just(NicModel::E1000e),
            Just(NicModel::Known("e1000".into())),
            Just(NicModel::Known("rtl8139".into())),
        ]
        .prop_map(|m| DeviceKind::Interface {
            model: Some(m),
            hostdev: None
        }),
        prop_oneof![Just(SoundModel::Ich6), Just(SoundModel::Ich9)].prop_map(DeviceKind::Sound),
        virtio_model().prop_map(|model| DeviceKind::Filesystem {
            driver: FsDriver::Default,
            model
        }),
        Just(DeviceKind::Input {
            bus: InputBus::Virtio,
            model: VirtioModel::Default
        }),
        Just(DeviceKind::Shmem(pciplan::device::ShmemModel::Plain)),
        Just(DeviceKind::Memballoon(BalloonModel::Virtio)),
        prop_oneof![
            Just(ControllerKind::Scsi(Some(ScsiModel::VirtioScsi))),
            Just(ControllerKind::Scsi(Some(ScsiModel::Lsilogic))),
        ]
        .prop_map(|kind| DeviceKind::Controller(Controller {
            kind,
            index: None,
            companion: false
        })),
    ]
}

/// Controllers `hotplug_add` must refuse.
fn unpluggable_controller() -> impl Strategy<Value = DeviceKind> {
    prop_oneof![
        (1u32..8)
            .prop_map(|i| DeviceKind::Controller(Controller::pci(ControllerModel::PciBridge, i))),
        (1u32..8).prop_map(|i| DeviceKind::Controller(Controller::pci(
            ControllerModel::PcieRootPort,
            i
        ))),
        Just(DeviceKind::Controller(Controller {
            kind: ControllerKind::Usb(Some(UsbModel::QemuXhci)),
            index: None,
            companion: false
        })),
    ]
}

fn caps() -> impl Strategy<Value = Capabilities> {
    prop_oneof![
        2 => Just(Capabilities::qemu_8_0_x86_64()),
        1 => prop::sample::subsequence(CAPS.to_vec(), 0..=CAPS.len())
            .prop_map(Capabilities::from_names),
    ]
}

fn machine() -> impl Strategy<Value = Machine> {
    prop_oneof![Just(Machine::pc()), Just(Machine::q35())]
}

/// An unassigned plan of up to 20 endpoints, some with root ports (q35)
/// or bridges (pc) given by the user.
fn plan() -> impl Strategy<Value = Plan> {
    (
        machine(),
        caps(),
        prop::collection::vec(endpoint_kind(), 0..20),
        0u32..4,
    )
        .prop_map(|(m, c, kinds, ports)| {
            let q35 = m.is_q35();
            let mut p = Plan::new(m, c);
            for i in 1..=ports {
                let model = if q35 {
                    ControllerModel::PcieRootPort
                } else {
                    ControllerModel::PciBridge
                };
                p.add_device(Device::new(DeviceKind::Controller(Controller::pci(
                    model, i,
                ))));
            }
            for k in kinds {
                p.add_device(Device::new(k));
            }
            p
        })
}

/// A plan that assigns, already assigned.
fn assigned_plan() -> impl Strategy<Value = Plan> {
    plan().prop_filter_map("assignment fails", |mut p| p.assign().ok().map(|()| p))
}

/// An operation meant to fail (some succeed, which is fine).
#[derive(Clone, Debug)]
enum Op {
    /// Hot-plug at (bus, slot, function); bus and slot may be far out.
    HotplugAt(DeviceKind, u8, u8, u8),
    /// Hot-plug at the address of the n-th addressed device.
    HotplugOnto(DeviceKind, prop::sample::Index),
    /// Hot-plug a controller type that cannot be hot-plugged.
    HotplugController(DeviceKind),
    /// Hot-plug without an address (fills the plan up).
    Hotplug(DeviceKind),
    /// Remove device `len + n`.
    RemovePastEnd(usize),
    /// Re-run assignment after giving device `a` the address of device `b`.
    AssignClash(prop::sample::Index, prop::sample::Index),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (endpoint_kind(), 0u8..=255, 0u8..32, 0u8..8)
            .prop_map(|(k, b, s, f)| Op::HotplugAt(k, b, s, f)),
        2 => (endpoint_kind(), any::<prop::sample::Index>())
            .prop_map(|(k, i)| Op::HotplugOnto(k, i)),
        1 => unpluggable_controller().prop_map(Op::HotplugController),
        2 => endpoint_kind().prop_map(Op::Hotplug),
        1 => (0usize..5).prop_map(Op::RemovePastEnd),
        2 => (any::<prop::sample::Index>(), any::<prop::sample::Index>())
            .prop_map(|(a, b)| Op::AssignClash(a, b)),
    ]
}

fn addressed(plan: &Plan) -> Vec<(usize, PciAddress)> {
    plan.devices()
        .iter()
        .enumerate()
        .filter_map(|(i, d)| d.address.present().map(|a| (i, a)))
        .collect()
}

/// Applies `op`; `Ok(true)` when it failed, `Ok(false)` when it succeeded,
/// and `Err` when a failure changed the plan.
fn apply(plan: &mut Plan, op: &Op) -> Result<bool, TestCaseError> {
    let before = plan.clone();
    let failed = match op {
        Op::HotplugAt(kind, bus, slot, function) => {
            let addr = PciAddress::from_parts(*bus, *slot, *function)
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            let dev = Device::new(kind.clone()).with_address(DeviceAddress::Pci(addr));
            plan.hotplug_add(dev).is_err()
        }
        Op::HotplugOnto(kind, pick) => {
            let used = addressed(plan);
            let Some(&(_, addr)) = used.get(pick.index(used.len().max(1))) else {
                return Ok(false);
            };
            let dev = Device::new(kind.clone()).with_address(DeviceAddress::Pci(addr));
            let r = plan.hotplug_add(dev);
            prop_assert!(r.is_err(), "hot-plug onto used address {} succeeded", addr);
            true
        }
        Op::HotplugController(kind) => {
            let r = plan.hotplug_add(Device::new(kind.clone()));
            prop_assert!(r.is_err(), "controller hot-plug succeeded: {:?}", kind);
            true
        }
        Op::Hotplug(kind) => plan.hotplug_add(Device::new(kind.clone())).is_err(),
        Op::RemovePastEnd(n) => {
            let i = plan.devices().len() + n;
            let r = plan.remove_device(i);
            prop_assert!(r.is_err(), "removing device {} succeeded", i);
            true
        }
        Op::AssignClash(a, b) => {
            // (position, address) of addressed endpoints, and of everything.
            let used = addressed(plan);
            let endpoints: Vec<(usize, PciAddress)> = used
                .iter()
                .copied()
                .filter(|(i, _)| {
                    plan.devices()
                        .get(*i)
                        .is_some_and(|d| d.kind.controller().is_none())
                })
                .collect();
            let victim = endpoints.get(a.index(endpoints.len().max(1)));
            let target = used.get(b.index(used.len().max(1)));
            let (Some(&(victim, own)), Some(&(_, target))) = (victim, target) else {
                return Ok(false);
            };
            if own == target {
                return Ok(false);
            }
            // The clash itself is a successful edit; the assignment after it
            // must fail and leave the edited plan alone.
            if let Some(d) = plan.device_mut(victim) {
                d.address = DeviceAddress::Pci(target);
            }
            let edited = plan.clone();
            let r = plan.assign();
            prop_assert!(r.is_err(), "assign with a clash at {} succeeded", target);
            prop_assert_eq!(&*plan, &edited, "failed assign changed the plan");
            // Undo the edit so later operations start from a valid plan.
            *plan = before;
            return Ok(true);
        }
    };
    if failed {
        prop_assert_eq!(&*plan, &before, "failed {:?} changed the plan", op);
    }
    Ok(failed)
}

proptest! {
    #![proptest_config(config())]

    /// A sequence of mostly failing operations: each failure leaves the
    /// plan exactly as it was.
    #[test]
    fn prop_failed_operations_leave_the_plan_unchanged(
        mut p in assigned_plan(),
        ops in prop::collection::vec(op(), 1..24),
    ) {
        for op in &ops {
            apply(&mut p, op)?;
        }
    }

    /// Assigning a plan in which two devices share an explicit address fails
    /// and changes nothing.
    #[test]
    fn prop_assign_with_clashing_addresses_changes_nothing(
        p in plan(),
        kind_a in endpoint_kind(),
        kind_b in endpoint_kind(),
        slot in 3u8..0x1e,
    ) {
        let mut p = p;
        let addr = PciAddress::from_parts(0, slot, 0).map_err(|e| TestCaseError::fail(e.to_string()))?;
        p.add_device(Device::new(kind_a).with_address(DeviceAddress::Pci(addr)));
        p.add_device(Device::new(kind_b).with_address(DeviceAddress::Pci(addr)));
        let before = p.clone();
        let r = p.assign();
        prop_assert!(r.is_err(), "two devices at {} assigned", addr);
        prop_assert_eq!(p, before);
    }

    /// Hot-plugging until the plan is full: the first failure changes
    /// nothing, and so does every further attempt.
    #[test]
    fn prop_hotplug_into_a_full_plan_changes_nothing(
        mut p in assigned_plan(),
        kind in endpoint_kind(),
        extra in prop::collection::vec(endpoint_kind(), 1..4),
    ) {
        let mut full = false;
        for _ in 0..FILL_ATTEMPTS {
            let before = p.clone();
            if p.hotplug_add(Device::new(kind.clone())).is_err() {
                prop_assert_eq!(&p, &before);
                full = true;
                break;
            }
        }
        prop_assume!(full, "plan never filled up");
        for k in extra {
            let before = p.clone();
            if p.hotplug_add(Device::new(k)).is_err() {
                prop_assert_eq!(&p, &before);
            }
        }
    }

    /// Removing past the end fails and changes nothing.
    #[test]
    fn prop_remove_past_the_end_changes_nothing(p in plan(), assign in any::<bool>(), n in 0usize..1000) {
        let mut p = p;
        if assign {
            let _ = p.assign();
        }
        let before = p.clone();
        let i = p.devices().len() + n;
        prop_assert!(p.remove_device(i).is_err());
        prop_assert_eq!(p, before);
    }
}

/// One step of a live session.
#[derive(Clone, Debug)]
enum LiveOp {
    /// Hot-plug without an address.
    Add(DeviceKind),
    /// Hot-plug at (bus, slot, function 0).
    AddAt(DeviceKind, u8, u8),
    /// Hot-unplug the n-th device.
    Remove(prop::sample::Index),
}

fn live_op() -> impl Strategy<Value = LiveOp> {
    prop_oneof![
        3 => endpoint_kind().prop_map(LiveOp::Add),
        1 => (endpoint_kind(), 0u8..8, 0u8..32).prop_map(|(k, b, s)| LiveOp::AddAt(k, b, s)),
        2 => any::<prop::sample::Index>().prop_map(LiveOp::Remove),
    ]
}

/// Applies a live step; the outcome as text, for comparing two plans.
fn live_apply(plan: &mut Plan, op: &LiveOp) -> String {
    let r = match op {
        LiveOp::Add(k) => plan
            .hotplug_add(Device::new(k.clone()))
            .map(|i| i.to_string()),
        LiveOp::AddAt(k, b, s) => match PciAddress::from_parts(*b, *s, 0) {
            Ok(a) => plan
                .hotplug_add(Device::new(k.clone()).with_address(DeviceAddress::Pci(a)))
                .map(|i| i.to_string()),
            Err(e) => Err(e.into()),
        },
        LiveOp::Remove(n) => {
            let i = n.index(plan.devices().len().max(1));
            plan.hotplug_remove(i).map(|d| format!("{:?}", d.address))
        }
    };
    match r {
        Ok(s) => s,
        Err(e) => format!("error: {e}"),
    }
}

proptest! {
    #![proptest_config(config())]

    /// Hot-plug keeps the address set of the last assignment and updates
    /// it on every attach and detach; a plan whose set is rebuilt from its
    /// devices before every step (any edit drops the kept set) answers
    /// every step the same way and ends equal.
    #[test]
    fn prop_kept_address_set_answers_as_a_rebuilt_one(
        p in assigned_plan(),
        ops in prop::collection::vec(live_op(), 1..40),
    ) {
        let mut kept = p.clone();
        let mut rebuilt = p;
        for op in &ops {
            // `device_mut` drops the kept set without changing anything.
            let _ = rebuilt.device_mut(0);
            let a = live_apply(&mut kept, op);
            let b = live_apply(&mut rebuilt, op);
            prop_assert_eq!(&a, &b, "{:?}", op);
            prop_assert_eq!(&kept, &rebuilt, "{:?}", op);
        }
    }
}
