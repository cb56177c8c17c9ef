//! Live hot-plug on real QEMU: what `attach` chooses, QEMU takes.
//!
//! For each of [`SEQUENCES`] seeded random guests (pc and q35, with or
//! without ACPI, pci-bridges, a pci-expander-bus, root ports with
//! `hotplug='off'`), the guest's definition is assigned
//! ([`LiveDomain::parse`]) and started as QEMU (TCG, `-S`, no disk image,
//! QMP on standard input/output as in `tests/qemu_acceptance.rs`), then
//! `cont`inued so that the firmware runs. A few random device elements are
//! attached with [`LiveDomain::attach`]; every attach libvirt would send is
//! sent as QMP `device_add` (`blockdev-add` of a `null-co` node first for a
//! disk) with the bus and slot pciplan chose:
//!
//! * where pciplan predicts QEMU's refusal, QEMU must refuse with exactly
//!   that message;
//! * everywhere else QEMU must accept, and at the end `query-pci` must show
//!   every device of the guest, the hot-plugged ones included, at its
//!   planned slot behind its planned bridges (`tests/qemu/expect.rs`).
//!
//! Skips with a printed line when `qemu-system-x86_64` is missing.
//! `PCIPLAN_QEMU_JOBS` sets how many QEMUs run at once (default 2).

#![cfg(all(feature = "libvirt", feature = "cli"))]

// Shared with `tests/qemu_acceptance.rs`; this test uses part of it.
#[allow(dead_code)]
mod qemu;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::thread;
use std::time::{Duration, Instant};

use pciplan::libvirt::{LiveDomain, parse_caps_xml, parse_device};
use pciplan::machine::HostPci;
use pciplan::{Capabilities, PciAddress};
use qemu::expect::{self, Path as BusPath};
use qemu::plans::Rng;
use qemu::qmp::{self, Vm, VmError};
use serde_json::{Value, json};

/// Random guests (half pc, half q35).
const SEQUENCES: u64 = 32;
/// Attach attempts per guest.
const ATTACHES: u64 = 6;
const PROGRAM: &str = "qemu-system-x86_64";
const QMP_TIMEOUT: Duration = Duration::from_secs(20);
/// Longest wait for `query-pci` to show the planned topology.
const DEADLINE: Duration = Duration::from_secs(20);

/// What one guest gave.
#[derive(Debug, Default)]
struct Tally {
    device_adds: usize,
    accepted: usize,
    refused_as_predicted: usize,
    libvirt_refusals: usize,
    matched: bool,
    problems: Vec<String>,
}

#[allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing)]
fn caps() -> Capabilities {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/oracle/caps-qemu-7.2.xml"
    );
    parse_caps_xml(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// A random guest definition.
#[allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing)]
fn domain(seed: u64) -> (String, bool) {
    let mut r = Rng::new(seed.wrapping_add(0x4070));
    let q35 = seed % 2 == 1;
    let acpi = !r.chance(25);
    let mut devices = String::new();
    if q35 {
        devices.push_str("    <controller type='pci' index='0' model='pcie-root'/>\n");
        for i in 1..=r.below(6) + 1 {
            let off = if r.chance(20) {
                "\n      <target hotplug='off'/>"
            } else {
                ""
            };
            let _ = writeln!(
                devices,
                "    <controller type='pci' index='{i}' model='pcie-root-port'>{off}\n    </controller>"
            );
        }
    } else {
        devices.push_str("    <controller type='pci' index='0' model='pci-root'/>\n");
        let mut index = 1;
        if r.chance(30) {
            let _ = writeln!(
                devices,
                "    <controller type='pci' index='{index}' model='pci-expander-bus'>\n      \
                 <target busNr='100'/>\n    </controller>"
            );
            index += 1;
        }
        for _ in 0..r.below(3) {
            let _ = writeln!(
                devices,
                "    <controller type='pci' index='{index}' model='pci-bridge'/>"
            );
            index += 1;
        }
    }
    for k in 0..r.below(5) {
        let model = r.pick(&["virtio", "e1000", "rtl8139"]);
        let _ = writeln!(
            devices,
            "    <interface type='user'>\n      <mac address='52:54:00:00:{seed:02x}:{k:02x}'/>\n      \
             <model type='{model}'/>\n    </interface>"
        );
    }
    let features = if acpi {
        "  <features>\n    <acpi/>\n  </features>\n"
    } else {
        ""
    };
    let machine = if q35 { "q35" } else { "pc" };
    let xml = format!(
        "<domain type='qemu'>\n  <name>hp{seed}</name>\n  <os>\n    <type arch='x86_64' machine='{machine}'>hvm</type>\n  \
         </os>\n{features}  <devices>\n{devices}    <memballoon model='none'/>\n  </devices>\n</domain>\n"
    );
    (xml, acpi)
}

/// A random device element to attach.
#[allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing)]
fn device(r: &mut Rng, q35: bool, k: u64) -> String {
    let virtio = r.pick(&["virtio", "virtio-transitional", "virtio-non-transitional"]);
    match r.below(5) {
        0 | 1 => {
            let models: &[&str] = if q35 {
                &["virtio", "e1000", "rtl8139", "e1000e"]
            } else {
                &["virtio", "e1000", "rtl8139"]
            };
            format!(
                "<interface type='user'>\n  <mac address='52:54:00:aa:00:{k:02x}'/>\n  <model type='{}'/>\n</interface>\n",
                r.pick(models)
            )
        }
        2 => format!(
            "<disk type='file' device='disk' model='{virtio}'>\n  <target dev='vd{}' bus='virtio'/>\n</disk>\n",
            char::from(b'a' + u8::try_from(k).unwrap_or(0))
        ),
        3 => format!(
            "<rng model='{virtio}'>\n  <backend model='random'>/dev/urandom</backend>\n</rng>\n"
        ),
        _ => "<controller type='scsi' model='virtio-scsi'/>\n".to_string(),
    }
}

/// The QEMU bus name of a libvirt bus number.
fn bus_name(q35: bool, a: PciAddress) -> String {
    match (a.bus(), q35) {
        (0, true) => "pcie.0".into(),
        (b, _) => format!("pci.{b}"),
    }
}

/// The QEMU driver of the device just attached: the first field of its
/// `-device` value in the plan's command line (same bus and slot).
#[allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing)]
fn driver(plan: &pciplan::Plan, a: PciAddress, q35: bool) -> Option<String> {
    let want_bus = format!("bus={}", bus_name(q35, a));
    let want_addr = format!("addr=0x{:x}", a.slot().as_u8());
    pciplan::qemu::device_args(plan)
        .ok()?
        .into_iter()
        .find_map(|d| {
            let fields: Vec<&str> = d.split(',').collect();
            (fields.contains(&want_bus.as_str())
                && fields.iter().any(|f| f.starts_with(&want_addr)))
            .then(|| fields[0].to_string())
        })
}

#[allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing)]
fn run(seed: u64, caps: &Capabilities) -> Result<Tally, String> {
    let q35 = seed % 2 == 1;
    let (xml, acpi) = domain(seed);
    let mut live =
        LiveDomain::parse(&xml, caps, &HostPci::default()).map_err(|e| format!("{e}"))?;
    let mut args: Vec<String> = ["-accel", "tcg", "-display", "none", "-S"]
        .map(String::from)
        .to_vec();
    let mut line = pciplan::qemu::command_line(live.plan()).map_err(|e| e.to_string())?;
    if !acpi && let Some(m) = line.get_mut(1) {
        m.push_str(",acpi=off");
    }
    args.extend(line);
    let mut vm = Vm::start(PROGRAM, &args, QMP_TIMEOUT).map_err(|e| format!("{e:?}"))?;
    vm.execute("cont", json!({}), QMP_TIMEOUT)
        .map_err(|e| format!("{e:?}"))?;
    let mut t = Tally::default();
    let mut r = Rng::new(seed ^ 0x5eed);
    for k in 0..ATTACHES {
        let text = device(&mut r, q35, k);
        let dev = parse_device(&text).map_err(|e| e.to_string())?;
        let attached = match live.attach(&dev) {
            Ok(a) => a,
            Err(_) => {
                // libvirt refuses it itself (no free hot-pluggable slot):
                // nothing is sent.
                t.libvirt_refusals += 1;
                continue;
            }
        };
        let Some(a) = attached.address() else {
            continue;
        };
        // The plan as it will be (with the device), for the driver name.
        let mut with = live.plan().clone();
        if attached.qemu_refusal.is_some() {
            with.add_device(attached.device.clone());
        }
        let Some(driver) = driver(&with, a, q35) else {
            return Err(format!("no -device value for {a} in {text}"));
        };
        let id = format!("hp{k}");
        let mut props = json!({
            "driver": driver,
            "id": id,
            "bus": bus_name(q35, a),
            "addr": format!("0x{:x}", a.slot().as_u8()),
        });
        if driver.starts_with("virtio-blk") {
            let node = format!("hpd{k}");
            vm.execute(
                "blockdev-add",
                json!({"driver": "null-co", "node-name": node, "read-zeroes": true}),
                QMP_TIMEOUT,
            )
            .map_err(|e| format!("blockdev-add: {e:?}"))?;
            props["drive"] = Value::String(node);
        }
        t.device_adds += 1;
        let answer = vm.execute("device_add", props, QMP_TIMEOUT);
        match (answer, &attached.qemu_refusal) {
            (Ok(_), None) => t.accepted += 1,
            (Err(VmError::Protocol(msg)), Some(predicted)) => {
                if msg.contains(&predicted.to_string()) {
                    t.refused_as_predicted += 1;
                } else {
                    t.problems
                        .push(format!("{a}: QEMU said {msg}, predicted {predicted}"));
                }
            }
            (Ok(_), Some(predicted)) => {
                t.problems
                    .push(format!("{a}: QEMU accepted, predicted {predicted}"));
            }
            (Err(e), _) => t
                .problems
                .push(format!("{a} ({driver}): QEMU refused: {e:?}")),
        }
    }
    // query-pci until it shows the plan (the firmware numbers the bridges
    // a moment after `cont`).
    let mut expected = expect::expected(live.plan())?;
    if !acpi && !q35 {
        // Without ACPI i440fx has no PIIX4 power management function (the
        // hot-plug handler of pci.0 that QEMU then lacks).
        expected.retain(|_, o| o.what != "PIIX4 ACPI");
    }
    let start = Instant::now();
    loop {
        let observed = observe(&mut vm).map_err(|e| format!("{e:?}"))?;
        let d = expect::diff(&expected, &observed);
        if d.is_empty() {
            t.matched = true;
            break;
        }
        if start.elapsed() > DEADLINE {
            t.problems.extend(d);
            break;
        }
        thread::sleep(Duration::from_millis(250));
    }
    Ok(t)
}

/// `query-pci`, with an expander's root bus tied to the expander device.
#[allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing)]
fn observe(vm: &mut Vm) -> Result<expect::Topo, VmError> {
    let q = vm.execute("query-pci", json!({}), QMP_TIMEOUT)?;
    let mut roots: BTreeMap<i64, BusPath> = BTreeMap::new();
    for (id, path) in expect::expanders(&q) {
        let nr = vm.execute(
            "qom-get",
            json!({ "path": format!("/machine/peripheral/{id}"), "property": "bus_nr" }),
            QMP_TIMEOUT,
        )?;
        if let Some(nr) = nr.as_i64() {
            roots.insert(nr, path);
        }
    }
    let mut prefixes = Vec::new();
    for bus in q.as_array().into_iter().flatten() {
        let nr = bus.get("bus").and_then(Value::as_i64).unwrap_or(0);
        let prefix = if nr == 0 {
            BusPath::default()
        } else {
            roots
                .get(&nr)
                .cloned()
                .ok_or_else(|| VmError::Protocol(format!("root bus {nr} belongs to no expander")))?
        };
        prefixes.push(prefix);
    }
    expect::observed(&q, &prefixes).map_err(VmError::Protocol)
}

#[test]
fn devices_attached_where_attach_chose_are_where_qemu_puts_them() {
    let Some(version) = qmp::version(PROGRAM) else {
        println!("qemu hotplug: skipped, {PROGRAM} not found");
        return;
    };
    let caps = caps();
    let jobs: u64 = std::env::var("PCIPLAN_QEMU_JOBS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2)
        .max(1);
    let results = Mutex::new(Vec::new());
    thread::scope(|s| {
        for w in 0..jobs {
            let (caps, results) = (&caps, &results);
            s.spawn(move || {
                let mut seed = w;
                while seed < SEQUENCES {
                    let r = run(seed, caps);
                    results.lock().unwrap().push((seed, r));
                    seed += jobs;
                }
            });
        }
    });
    let mut results = results.into_inner().unwrap();
    results.sort_by_key(|(s, _)| *s);
    let (mut adds, mut accepted, mut refused, mut libvirt, mut matched) = (0, 0, 0, 0, 0);
    let mut failures = Vec::new();
    for (seed, r) in &results {
        match r {
            Ok(t) => {
                adds += t.device_adds;
                accepted += t.accepted;
                refused += t.refused_as_predicted;
                libvirt += t.libvirt_refusals;
                matched += usize::from(t.matched && t.problems.is_empty());
                if !t.problems.is_empty() {
                    failures.push(format!("seed {seed}: {}", t.problems.join("; ")));
                }
            }
            Err(e) => failures.push(format!("seed {seed}: {e}")),
        }
    }
    println!(
        "qemu hotplug ({version}): {} sequences, {adds} device_add calls: {accepted} accepted, \
         {refused} refused as predicted; {libvirt} attaches libvirt refuses itself (not sent); \
         query-pci matched on {matched}/{}",
        results.len(),
        results.len()
    );
    for f in &failures {
        println!("FAIL {f}");
    }
    assert!(failures.is_empty(), "{} sequences failed", failures.len());
}
