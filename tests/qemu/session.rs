//! One QEMU session of the acceptance suites: start a plan's emulator with
//! `-accel tcg -display none -qmp stdio` plus `pciplan::qemu::command_line`,
//! let the firmware number the buses where needed, and compare `query-pci`
//! with the plan's expected topology (`expect.rs`). Shared by
//! `tests/qemu_acceptance.rs` and `tests/qemu_policy.rs`.

use std::collections::BTreeMap;
use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

use pciplan::MachineFamily;
use serde_json::json;

use super::expect::{self, Path as BusPath};
use super::plans::{self, Job};
use super::qmp::{Vm, VmError};

/// The UEFI firmware that numbers the buses of aarch64 `virt`.
pub const AARCH64_FIRMWARE: &str = "/usr/share/qemu-efi-aarch64/QEMU_EFI.fd";

/// How long a session waits.
#[derive(Copy, Clone, Debug)]
pub struct Limits {
    /// Time to wait for one QMP answer.
    pub qmp: Duration,
    /// Longest time to wait for the firmware to number the buses.
    pub boot_deadline: Duration,
    /// Observations must be stable this long before a mismatch is final.
    pub settle: Duration,
}

/// The limits of the acceptance suite's plans (tens of devices).
pub const LIMITS: Limits = Limits {
    qmp: Duration::from_secs(20),
    boot_deadline: Duration::from_secs(30),
    settle: Duration::from_secs(3),
};

#[derive(Debug)]
pub enum Outcome {
    /// Matched; the number of planned devices that were not visible (behind
    /// bridges no firmware numbered) and not compared.
    Matched(usize),
    /// QEMU's topology differs from the plan's (after settling).
    Mismatch(Vec<String>),
    /// QEMU refused the command line: its standard error.
    Rejected(String),
    /// Anything else that went wrong.
    Error(String),
}

/// The emulator of a plan (x86_64 for plans without one, which fail in
/// [`run`]).
pub fn program(job: &Job) -> &'static str {
    pciplan::qemu::emulator(&job.plan).unwrap_or("qemu-system-x86_64")
}

/// How a plan is started: extra arguments, and whether devices behind
/// bridges become visible.
pub fn boot(plan: &pciplan::Plan) -> (Vec<String>, bool) {
    let paused = || vec!["-S".to_string()];
    let bridges = plans::has_bridges(plan);
    match plan.machine().family() {
        MachineFamily::I440fx | MachineFamily::Q35 => (Vec::new(), true),
        MachineFamily::ArmVirt if bridges && Path::new(AARCH64_FIRMWARE).exists() => (
            vec!["-bios".to_string(), AARCH64_FIRMWARE.to_string()],
            true,
        ),
        MachineFamily::Pseries if bridges => (Vec::new(), true),
        MachineFamily::S390Ccw | MachineFamily::Pseries => (paused(), true),
        _ => (paused(), !bridges),
    }
}

/// Boots a plan and compares QEMU's `query-pci` with the plan's expected
/// topology until they match, the observation has been stable for
/// `limits.settle`, or `limits.boot_deadline` has passed. Differences for
/// which `ignore` answers true (planned devices known to be unreachable)
/// do not count.
pub fn run(job: &Job, limits: Limits, ignore: &dyn Fn(&str) -> bool) -> Outcome {
    let args = match pciplan::qemu::command_line(&job.plan) {
        Ok(a) => a,
        Err(e) => return Outcome::Error(format!("no command line: {e}")),
    };
    // A plan without expected ids still boots, to see whether QEMU takes it.
    let expected = expect::expected(&job.plan);
    let (boot_args, bridges_visible) = boot(&job.plan);
    let mut full: Vec<String> = ["-accel", "tcg", "-display", "none"]
        .map(String::from)
        .to_vec();
    full.extend(boot_args);
    full.extend(args);
    let pseries = job.plan.machine().is_pseries();
    let mut vm = match Vm::start(program(job), &full, limits.qmp) {
        Ok(vm) => vm,
        Err(VmError::Rejected(msg)) => return Outcome::Rejected(msg),
        Err(VmError::Protocol(msg)) => return Outcome::Error(msg),
    };
    let mut expected = match expected {
        Ok(t) => t,
        Err(e) => return Outcome::Error(format!("QEMU started, but no expected topology: {e}")),
    };
    let planned = expected.len();
    if !bridges_visible {
        expected.retain(|p, _| p.hops.len() < 2);
    }
    let hidden = planned - expected.len();
    let start = Instant::now();
    let mut last: Option<(expect::Topo, Instant)> = None;
    loop {
        thread::sleep(Duration::from_millis(300));
        let observed = match observe(&mut vm, pseries, limits.qmp) {
            Ok(t) => t,
            Err(VmError::Rejected(msg)) => return Outcome::Rejected(msg),
            Err(VmError::Protocol(msg)) => return Outcome::Error(msg),
        };
        let d: Vec<String> = expect::diff(&expected, &observed)
            .into_iter()
            .filter(|line| !ignore(line))
            .collect();
        if d.is_empty() {
            return Outcome::Matched(hidden);
        }
        let now = Instant::now();
        let stable_since = match &last {
            Some((t, since)) if *t == observed => *since,
            _ => now,
        };
        if now.duration_since(stable_since) >= limits.settle
            || now.duration_since(start) > limits.boot_deadline
        {
            return Outcome::Mismatch(d);
        }
        last = Some((observed, stable_since));
    }
}

/// One `query-pci`, with expander root buses tied to their expander device
/// through its `bus_nr` property, and pSeries root buses to their PHB
/// through the PHB's `index` property.
pub fn observe(vm: &mut Vm, pseries: bool, timeout: Duration) -> Result<expect::Topo, VmError> {
    let q = vm.execute("query-pci", json!({}), timeout)?;
    let mut roots: BTreeMap<i64, BusPath> = BTreeMap::new();
    for (id, path) in expect::expanders(&q) {
        let nr = vm.execute(
            "qom-get",
            json!({ "path": format!("/machine/peripheral/{id}"), "property": "bus_nr" }),
            timeout,
        )?;
        if let Some(nr) = nr.as_i64() {
            roots.insert(nr, path);
        }
    }
    let mut prefixes = Vec::new();
    for bus in q.as_array().into_iter().flatten() {
        let nr = bus
            .get("bus")
            .and_then(serde_json::Value::as_i64)
            .unwrap_or(0);
        let prefix = if nr != 0 {
            roots
                .get(&nr)
                .cloned()
                .ok_or_else(|| VmError::Protocol(format!("root bus {nr} belongs to no expander")))?
        } else if pseries {
            BusPath {
                root: phb_index(vm, bus, timeout)?,
                hops: Vec::new(),
            }
        } else {
            BusPath::default()
        };
        prefixes.push(prefix);
    }
    expect::observed(&q, &prefixes).map_err(VmError::Protocol)
}

/// The `index` of the PHB of a pSeries root bus of `query-pci`, found
/// through the `parent_bus` of a device on it with a qdev id. A root bus
/// without such a device gets `u32::MAX` (its devices, if any, are then
/// unplanned).
fn phb_index(vm: &mut Vm, bus: &serde_json::Value, timeout: Duration) -> Result<u32, VmError> {
    let id = bus
        .get("devices")
        .and_then(serde_json::Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|d| d.get("qdev_id").and_then(serde_json::Value::as_str))
        .find(|id| !id.is_empty())
        .map(str::to_string);
    let Some(id) = id else {
        return Ok(u32::MAX);
    };
    let parent = vm.execute(
        "qom-get",
        json!({ "path": format!("/machine/peripheral/{id}"), "property": "parent_bus" }),
        timeout,
    )?;
    let phb = parent
        .as_str()
        .and_then(|p| p.rsplit_once('/'))
        .map(|(phb, _)| phb.to_string())
        .ok_or_else(|| VmError::Protocol(format!("{id}: parent_bus {parent}")))?;
    let index = vm.execute(
        "qom-get",
        json!({ "path": phb, "property": "index" }),
        timeout,
    )?;
    index
        .as_u64()
        .and_then(|i| u32::try_from(i).ok())
        .ok_or_else(|| VmError::Protocol(format!("{id}: PHB index {index}")))
}
