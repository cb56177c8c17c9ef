//! Acceptance on real QEMU: for each plan, start the plan's emulator
//! (`pciplan::qemu::emulator`) with `-accel tcg -display none -qmp stdio`
//! plus `pciplan::qemu::command_line`, let the firmware number the buses
//! where needed, read the topology with QMP `query-pci`, and check that
//! every planned PCI controller and device sits at its planned
//! slot.function behind the planned chain of bridges (on its planned PHB on
//! pSeries), with the expected vendor and device id, and that QEMU has no
//! PCI device the plan does not have (besides the machine's own: host
//! bridge, PIIX3 or ICH9 functions, the GPEX host bridge of `virt`).
//!
//! Firmware: x86 boots SeaBIOS. QEMU numbers no bridge bus itself (except
//! on s390x), and `query-pci` shows no device behind a bridge whose
//! secondary bus is 0, so plans with bridges or ports boot firmware that
//! numbers them: EDK2 on aarch64 (`qemu/session.rs`, Debian
//! `qemu-efi-aarch64`), SLOF on pSeries. Plans without bridges, and every
//! s390x plan, are only created (`-S`). riscv64 has no such firmware here:
//! its plans start paused and the devices behind bridges are counted as
//! not visible instead of compared.
//!
//! Plans: the x86 worked examples of the spec's `examples.md` (from the
//! corpus), [`CONFORMANCE_CASES`] from the libvirt 9.0 corpus (with each
//! case's capability set), [`RANDOM_PLANS`] seeded random plans on pc
//! and q35, and every `ok` case of [`OTHER_ARCHES`] that has PCI devices.
//! Devices that pass a host resource through are replaced by emulated
//! stand-ins at the same address (see `qemu/plans.rs`).
//!
//! Each emulator that is missing gets a skip line, and its plans are not
//! booted; the test passes.
//! `PCIPLAN_QEMU_CASES=all` boots every x86 `ok` case of the expected-pass
//! list instead of the chosen ones; `PCIPLAN_QEMU_JOBS` sets the number of
//! QEMU processes run at once (default 2). A report goes to
//! `target/qemu-acceptance-report.txt`.

#![cfg(all(feature = "libvirt", feature = "cli"))]

mod qemu;

use std::collections::{BTreeMap, VecDeque};
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::thread;
use std::time::Instant;

use qemu::plans::{self, Job};
use qemu::qmp;
use qemu::session::{self, LIMITS, Outcome, program};

/// The x86 worked examples of `examples.md` (1, 2, 2b, 3a, 3b, 4, 5, 7, 8).
const EXAMPLES: [&str; 9] = [
    "q35-default-devices-only.x86_64-latest",
    "q35-pcie-autoadd.x86_64-latest",
    "q35-multifunction.x86_64-latest",
    "virtio-transitional.x86_64-latest",
    "virtio-non-transitional.x86_64-latest",
    "pci-bridge-many-disks",
    "pci-autoadd-idx",
    "autoindex",
    "pci-expander-bus",
];

/// Conformance cases chosen for variety: bridge chains, root ports (both
/// models, hot-plug off), switches, dmi-to-pci-bridge, pcie-to-pci-bridge,
/// expander buses, multifunction, USB2 companions, and a spread of
/// endpoint models.
const CONFORMANCE_CASES: [&str; 40] = [
    // Topology.
    "pci-bridge",
    "pci-autoadd-addr",
    "pci-autofill-addr",
    "pci-many",
    "pcie-root",
    "pcie-root-port",
    "pcie-root-port-model-generic",
    "pcie-root-port-model-ioh3420",
    "pcie-root-port-nohotplug.x86_64-latest",
    "pcie-switch-upstream-port",
    "pcie-switch-downstream-port",
    "pcie-expander-bus",
    "q35",
    "q35-pci-force-address",
    "q35-usb2",
    "q35-usb2-multi",
    "q35-pcie.x86_64-latest",
    "q35-virt-manager-basic.x86_64-latest",
    "x86_64-q35-graphics.x86_64-latest",
    "hvf-x86_64-q35-headless",
    "usb-ich9-ehci-addr",
    "hostdev-pci-multifunction",
    "memory-hotplug-virtio-mem.x86_64-latest",
    // Endpoint models.
    "net-many-models",
    "sound-device",
    "watchdog",
    "shmem-plain-doorbell",
    "video-qxl-heads",
    "video-virtio-gpu-secondary",
    "video-device-pciaddr-default",
    "controller-virtio-scsi",
    "usb-controller",
    "usb-piix3-controller",
    "usb-controller-explicit-q35",
    "virtio-input",
    "virtio-iommu-x86_64.x86_64-latest",
    "virtio-rng-random",
    "virtio-9p-multidevs.x86_64-latest",
    "pci-serial-dev-chardev",
    "vhost-vsock.x86_64-latest",
];

/// The architectures (MANIFEST.tsv `arch`) besides x86 whose `ok` cases
/// with PCI devices are booted.
const OTHER_ARCHES: [&str; 4] = ["aarch64", "ppc64", "s390x", "riscv64"];

/// The Debian package of each emulator.
const PACKAGES: [(&str, &str); 6] = [
    ("qemu-system-x86_64", "qemu-system-x86"),
    ("qemu-system-i386", "qemu-system-x86"),
    ("qemu-system-aarch64", "qemu-system-arm"),
    ("qemu-system-ppc64", "qemu-system-ppc"),
    ("qemu-system-s390x", "qemu-system-misc"),
    ("qemu-system-riscv64", "qemu-system-misc"),
];

/// Random plans to boot (seeds are tried in order until this many are
/// accepted by pciplan).
const RANDOM_PLANS: usize = 50;

/// Rejections by QEMU of plans libvirt also produces: (case, part of
/// QEMU's message). Listed ones are reported, not failed.
const KNOWN_REJECTIONS: [(&str, &str); 2] = [
    // Example 2b: the input puts a root port at 00:04.0 with
    // multifunction='off' and another at 00:04.1; libvirt keeps both.
    (
        "q35-multifunction.x86_64-latest",
        "PCI: single function device can't be populated in function 4.1",
    ),
    // libvirt passes NIC model names through; `idontexist` is not a device.
    (
        "net-many-models",
        "'idontexist' is not a valid device model name",
    ),
];

/// Subtrees the firmware cannot number, so the guest never sees them:
/// (case, bus path). Devices planned there may be missing from `query-pci`;
/// everything else must match.
const KNOWN_UNREACHABLE: [(&str, &str); 1] = [
    // busNr='254' leaves bus 255 for the root port and no bus number for
    // the switch behind it (32 downstream ports and their NICs).
    ("pcie-expander-bus", "04.0/00.0/00.0/"),
];

/// Whether a difference is a planned device in a subtree listed in
/// [`KNOWN_UNREACHABLE`] for this case.
fn unreachable(case: &str, line: &str) -> bool {
    KNOWN_UNREACHABLE
        .iter()
        .any(|(c, prefix)| *c == case && line.starts_with(&format!("missing at {prefix}")))
}

fn target_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .map_or_else(|| PathBuf::from("target"), Path::to_path_buf)
}

/// Every x86 `ok` case of the expected-pass list.
fn all_x86_ok_cases() -> Vec<String> {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    let pass = fs::read_to_string(data.join("expected-pass.txt")).unwrap_or_default();
    let manifest = fs::read_to_string(data.join("libvirt-9.0/MANIFEST.tsv")).unwrap_or_default();
    let ok: Vec<&str> = manifest
        .lines()
        .filter_map(|l| {
            let c: Vec<&str> = l.split('\t').collect();
            (c.get(1) == Some(&"ok") && matches!(c.get(2), Some(&"x86_64" | &"i686")))
                .then(|| c.first().copied())
                .flatten()
        })
        .collect();
    pass.lines()
        .map(str::trim)
        .filter(|l| ok.contains(l))
        .map(str::to_string)
        .collect()
}

/// The `ok` cases of [`OTHER_ARCHES`] with PCI devices, and the number of
/// cases left out because their plan has none.
fn other_arch_jobs(setup_errors: &mut Vec<String>) -> (Vec<Job>, usize) {
    let mut out = Vec::new();
    let mut without_pci = 0;
    for c in plans::pci_cases(&OTHER_ARCHES) {
        match plans::corpus_case(&c) {
            Ok(j) if plans::has_pci(&j.plan) => out.push(j),
            Ok(_) => without_pci += 1,
            Err(e) => setup_errors.push(format!("{c}: {e}")),
        }
    }
    (out, without_pci)
}

/// The plans to boot, and how many random seeds were tried.
fn jobs(setup_errors: &mut Vec<String>) -> (Vec<Job>, u64) {
    let mut out = Vec::new();
    let cases: Vec<String> = if std::env::var("PCIPLAN_QEMU_CASES").as_deref() == Ok("all") {
        all_x86_ok_cases()
    } else {
        EXAMPLES
            .iter()
            .chain(CONFORMANCE_CASES.iter())
            .map(|s| s.to_string())
            .collect()
    };
    for c in &cases {
        match plans::corpus_case(c) {
            Ok(j) => out.push(j),
            Err(e) => setup_errors.push(format!("{c}: {e}")),
        }
    }
    let mut accepted = 0;
    let mut tried = 0;
    for seed in 1..=1000u64 {
        if accepted == RANDOM_PLANS {
            break;
        }
        tried = seed;
        if let Some(j) = plans::random_plan(seed) {
            accepted += 1;
            out.push(j);
        }
    }
    (out, tried)
}

#[test]
fn qemu_builds_the_planned_topology() {
    let started = Instant::now();
    let mut setup_errors = Vec::new();
    let (mut jobs, seeds) = jobs(&mut setup_errors);
    let (others, without_pci) = other_arch_jobs(&mut setup_errors);
    jobs.extend(others);
    // `PCIPLAN_QEMU_ONLY=<emulator>` boots the plans of one emulator.
    if let Ok(only) = std::env::var("PCIPLAN_QEMU_ONLY") {
        jobs.retain(|j| program(j) == only);
    }
    // Emulators: version line, or a skip line when missing.
    let mut versions: BTreeMap<&'static str, String> = BTreeMap::new();
    let mut skipped: Vec<&'static str> = Vec::new();
    for j in &jobs {
        let p = program(j);
        if versions.contains_key(p) || skipped.contains(&p) {
            continue;
        }
        match qmp::version(p) {
            Some(v) => {
                versions.insert(p, v);
            }
            None => {
                let package = PACKAGES
                    .iter()
                    .find(|(q, _)| *q == p)
                    .map_or("?", |(_, k)| *k);
                println!(
                    "SKIPPED: {p} not found; install the Debian package {package} to boot its plans"
                );
                skipped.push(p);
            }
        }
    }
    jobs.retain(|j| !skipped.contains(&program(j)));
    if jobs.is_empty() {
        println!("SKIPPED: no QEMU emulator found; nothing booted");
        return;
    }
    let total = jobs.len();
    let workers: usize = std::env::var("PCIPLAN_QEMU_JOBS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2);
    let queue = Mutex::new(jobs.into_iter().enumerate().collect::<VecDeque<_>>());
    let results = Mutex::new(Vec::new());
    thread::scope(|s| {
        for _ in 0..workers.max(1) {
            s.spawn(|| {
                loop {
                    let next = queue.lock().map(|mut q| q.pop_front()).ok().flatten();
                    let Some((n, job)) = next else { break };
                    let outcome = session::run(&job, LIMITS, &|line| unreachable(&job.name, line));
                    if let Ok(mut r) = results.lock() {
                        r.push((n, job, outcome));
                    }
                }
            });
        }
    });
    let mut results = results.into_inner().unwrap_or_default();
    results.sort_by_key(|(n, _, _)| *n);

    let mut report = String::new();
    let (mut matched, mut failed, mut known) = (0, 0, 0);
    // Per emulator: booted, matched, known rejections, failed, not visible.
    let mut per: BTreeMap<&'static str, [usize; 5]> = BTreeMap::new();
    for (_, job, outcome) in &results {
        let p = program(job);
        let counts = per.entry(p).or_default();
        counts[0] += 1;
        let name = if p == "qemu-system-x86_64" {
            job.name.clone()
        } else {
            format!("{} [{p}]", job.name)
        };
        let stand_ins = if job.stand_ins.is_empty() {
            String::new()
        } else {
            format!(" [stand-ins: {}]", job.stand_ins.join("; "))
        };
        match outcome {
            Outcome::Matched(hidden) => {
                matched += 1;
                counts[1] += 1;
                counts[4] += hidden;
                let partial = KNOWN_UNREACHABLE
                    .iter()
                    .find(|(c, _)| *c == job.name)
                    .map(|(_, p)| format!(" (not reachable by the firmware: under {p})"))
                    .unwrap_or_default();
                let hidden = if *hidden > 0 {
                    format!(
                        " ({hidden} planned devices behind bridges not visible: no firmware numbers the buses)"
                    )
                } else {
                    String::new()
                };
                let _ = writeln!(report, "MATCH {name}{partial}{hidden}{stand_ins}");
            }
            Outcome::Rejected(msg) => {
                let is_known = KNOWN_REJECTIONS
                    .iter()
                    .any(|(c, m)| *c == job.name && msg.contains(m));
                if is_known {
                    known += 1;
                    counts[2] += 1;
                } else {
                    failed += 1;
                    counts[3] += 1;
                }
                let tag = if is_known { "KNOWN-REJECT" } else { "REJECT" };
                let _ = writeln!(report, "{tag} {name}{stand_ins}\n    {msg}");
            }
            Outcome::Mismatch(d) => {
                failed += 1;
                counts[3] += 1;
                let _ = writeln!(
                    report,
                    "MISMATCH {name}{stand_ins}\n    {}",
                    d.join("\n    ")
                );
            }
            Outcome::Error(e) => {
                failed += 1;
                counts[3] += 1;
                let _ = writeln!(report, "ERROR {name}{stand_ins}\n    {e}");
            }
        }
    }
    for e in &setup_errors {
        failed += 1;
        let _ = writeln!(report, "SETUP {e}");
    }
    let mut summary = String::new();
    for (p, v) in &versions {
        let [booted, m, k, f, hidden] = per.get(p).copied().unwrap_or_default();
        let hidden = if hidden > 0 {
            format!(", {hidden} planned devices behind bridges not visible")
        } else {
            String::new()
        };
        let _ = writeln!(
            summary,
            "{p} ({v}): booted {booted}: {m} matched, {k} known QEMU rejections, {f} failed{hidden}"
        );
    }
    let _ = writeln!(
        summary,
        "booted {total} plans: {matched} matched, {known} known QEMU rejections, {failed} failed ({} setup errors); {:.0?} with {workers} QEMU at a time; random plans: {RANDOM_PLANS} of {seeds} seeds accepted by pciplan; {without_pci} non-x86 cases without PCI devices not booted",
        setup_errors.len(),
        started.elapsed()
    );
    let path = target_dir().join("qemu-acceptance-report.txt");
    let _ = fs::write(&path, format!("{summary}\n{report}"));
    print!("{summary}");
    eprint!("{summary}");
    if failed > 0 {
        eprint!("{report}");
        panic!(
            "{failed} plan(s) did not boot as planned (report: {})",
            path.display()
        );
    }
}
