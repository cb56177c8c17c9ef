//! Acceptance of placement-policy plans on real QEMU: a domain is planned
//! with `pciplan assign --policy FILE.toml` (the CLI, with libvirt's QEMU
//! 7.2 capabilities), the plan is read back, booted with
//! `pciplan::qemu::command_line` as `tests/qemu_acceptance.rs` boots its
//! plans (`qemu/session.rs`), and QMP `query-pci` must show every planned
//! controller and device at its planned place with the expected ids, and
//! nothing else.
//!
//! Policies: `tests/data/policy/policies/*.toml` (the corpus's) and
//! `tests/data/policy/qemu/*.toml` (this file's own). Each test prints one
//! figures line: devices planned, PCI functions compared, seconds until
//! `query-pci` matched.
//!
//! The tests skip, with a printed line, when the emulator is missing.
//! `PCIPLAN_QEMU_POLICY_BIG=1` also runs the plans that take minutes
//! (7,900 devices on pc: QEMU's start-up time grows faster than the device
//! count). Every 20th plan of the policy corpus (`tests/data/policy/cases`)
//! is booted too, all of them with `PCIPLAN_QEMU_POLICY_CORPUS=all`.

#![cfg(all(feature = "libvirt", feature = "cli"))]

// Shared with `tests/qemu_acceptance.rs`; this test uses part of it.
#[path = "common/cli.rs"]
mod cli;
#[allow(dead_code)]
mod qemu;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use pciplan::Plan;
use pciplan::libvirt::{parse_caps_xml, parse_domain};
use pciplan::machine::HostPci;
use qemu::plans::Job;
use qemu::qmp::Vm;
use qemu::session::{self, LIMITS, Limits, Outcome, program};
use qemu::{expect, qmp};
use serde_json::{Value, json};

/// The environment variable that runs the plans that take minutes.
const BIG_ENV: &str = "PCIPLAN_QEMU_POLICY_BIG";

/// Limits for plans with a thousand devices or more: QEMU takes minutes to
/// start (about 4 s for 1,000 virtio-blk functions on pc, 18 s for 2,000,
/// 53 s for 3,000, 650 s for the 7,900 of the pc test, with TCG on the
/// shared 2-core machine; q35 with 1,000 and 1,800 devices under `expand`:
/// 5 and 18 s).
const BIG_LIMITS: Limits = Limits {
    qmp: Duration::from_secs(3600),
    boot_deadline: Duration::from_secs(600),
    settle: Duration::from_secs(10),
};

fn data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data")
}

/// A policy of the corpus (`policies/`) or of this suite (`qemu/`).
fn policy(name: &str) -> PathBuf {
    let corpus = data().join("policy/policies").join(format!("{name}.toml"));
    if corpus.exists() {
        corpus
    } else {
        data().join("policy/qemu").join(format!("{name}.toml"))
    }
}

/// The QEMU 7.2 capabilities libvirt probed for an architecture.
fn caps_file(arch: &str) -> PathBuf {
    let name = match arch {
        "aarch64" => "caps-qemu-7.2-aarch64.xml",
        _ => "caps-qemu-7.2.xml",
    };
    data().join("oracle").join(name)
}

/// A domain: machine, architecture, `<cpu>` block (may be empty) and devices.
fn domain(arch: &str, machine: &str, cpu: &str, devices: &str) -> String {
    let emulator = format!("/usr/bin/qemu-system-{arch}");
    format!(
        "<domain type='qemu'><name>policy</name><memory unit='KiB'>1048576</memory>\
         <vcpu>2</vcpu><os><type arch='{arch}' machine='{machine}'>hvm</type></os>{cpu}\
         <devices><emulator>{emulator}</emulator>{devices}</devices></domain>"
    )
}

/// `vd` + the letters of `n` in base 26 (`vda`, ..., `vdz`, `vdba`, ...):
/// unique names for any number of disks.
fn disk_name(n: usize) -> String {
    let mut letters = Vec::new();
    let mut m = n;
    loop {
        letters.push(char::from(b'a' + u8::try_from(m % 26).unwrap_or(0)));
        m /= 26;
        if m == 0 {
            break;
        }
    }
    letters.reverse();
    format!("vd{}", letters.into_iter().collect::<String>())
}

/// `n` virtio disks, named from `first`.
fn virtio_disks(first: usize, n: usize) -> String {
    (first..first + n)
        .map(|i| {
            format!(
                "<disk type='file' device='disk'><source file='/var/lib/libvirt/images/{i}.img'/>\
                 <target dev='{}' bus='virtio'/></disk>",
                disk_name(i)
            )
        })
        .collect()
}

/// `n` virtio NICs with the MACs 52:54:00:00:xx:yy, xxyy counting from `first`.
fn virtio_nics(first: usize, n: usize) -> String {
    (first..first + n)
        .map(|i| {
            format!(
                "<interface type='user'><mac address='52:54:00:00:{:02x}:{:02x}'/>\
                 <model type='virtio'/></interface>",
                (i >> 8) & 0xff,
                i & 0xff
            )
        })
        .collect()
}

/// What `pciplan assign --policy` made of a domain, read back as an
/// assigned plan.
fn policy_plan(policy: &Path, arch: &str, xml: &str) -> Result<Plan, String> {
    let caps_path = caps_file(arch);
    let out = cli::assign_policy(policy, &caps_path, xml)?;
    if !out.status.success() {
        return Err(format!(
            "pciplan assign --policy {} refused: {}",
            policy.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let planned = String::from_utf8_lossy(&out.stdout).into_owned();
    let caps_text = std::fs::read_to_string(&caps_path)
        .map_err(|e| format!("cannot read {}: {e}", caps_path.display()))?;
    let caps = parse_caps_xml(&caps_text).map_err(|e| e.to_string())?;
    let (_, mut plan) =
        parse_domain(&planned, &caps, &HostPci::default()).map_err(|e| e.to_string())?;
    // Every address is explicit: assigning again only checks the plan.
    plan.assign()
        .map_err(|e| format!("the policy plan is refused when read back: {e}"))?;
    Ok(plan)
}

/// What one boot showed.
struct Figures {
    /// Planned devices and controllers with a PCI address.
    devices: usize,
    /// Time from QEMU's start to the matching `query-pci`.
    seconds: f64,
    /// How the comparison ended.
    outcome: Outcome,
}

/// Plans `xml` under the policy and boots the plan; `None` (after a
/// printed skip line) when the emulator is missing.
fn boot(
    name: &str,
    policy_name: &str,
    arch: &str,
    xml: &str,
    limits: Limits,
) -> Result<Option<Figures>, String> {
    let plan = policy_plan(&policy(policy_name), arch, xml).map_err(|e| format!("{name}: {e}"))?;
    let job = Job {
        name: name.to_string(),
        plan,
        stand_ins: Vec::new(),
    };
    let emulator = program(&job);
    if qmp::version(emulator).is_none() {
        println!("SKIPPED: {emulator} not found; {name} not booted");
        return Ok(None);
    }
    let devices = job
        .plan
        .devices()
        .iter()
        .filter(|d| d.address.present().is_some())
        .count();
    let functions = expect::expected(&job.plan).map_or(0, |t| t.len());
    let start = Instant::now();
    let outcome = session::run(&job, limits, &|_| false);
    let figures = Figures {
        devices,
        seconds: start.elapsed().as_secs_f64(),
        outcome,
    };
    let result = match &figures.outcome {
        Outcome::Matched(0) => format!("{functions}/{functions} functions matched"),
        other => format!("{other:?}"),
    };
    println!(
        "qemu-policy {name} [{policy_name}]: {devices} devices planned, {result}, {:.1} s",
        figures.seconds
    );
    Ok(Some(figures))
}

/// `Err` unless every planned function showed where it was planned (or
/// nothing was booted).
fn matched(name: &str, figures: Option<Figures>) -> Result<(), String> {
    match figures {
        None => Ok(()),
        Some(f) if matches!(f.outcome, Outcome::Matched(0)) => Ok(()),
        Some(f) => Err(format!(
            "{name}: {} devices planned, QEMU disagrees: {:?}",
            f.devices, f.outcome
        )),
    }
}

/// Whether the plans that take minutes run.
fn big() -> bool {
    let on = std::env::var(BIG_ENV).is_ok_and(|v| v == "1");
    if !on {
        println!("SKIPPED: set {BIG_ENV}=1 to boot this plan (it takes minutes)");
    }
    on
}

/// Guest NUMA cells: two with a CPU each and memory, a third with memory
/// and no CPU.
const NUMA_WITH_CPULESS_NODE: &str = "<cpu><numa>\
     <cell id='0' cpus='0' memory='262144' unit='KiB'/>\
     <cell id='1' cpus='1' memory='262144' unit='KiB'/>\
     <cell id='2' memory='262144' unit='KiB'/></numa></cpu>";

#[test]
fn q35_with_1000_virtio_devices_under_expand_boots_as_planned() -> Result<(), String> {
    let xml = domain(
        "x86_64",
        "q35",
        "",
        &(virtio_nics(0, 500) + &virtio_disks(0, 500) + "<memballoon model='none'/>"),
    );
    let figures = boot("q35-1000", "expand", "x86_64", &xml, BIG_LIMITS)?;
    matched("q35-1000", figures)
}

/// The shape `expand` gives a q35 domain, written out in libvirt's form
/// (125 root ports, eight virtio NICs as the functions of slot 0 behind
/// each, `multifunction='on'` on function 0) and planned without a policy:
/// QEMU takes it as it is. (libvirt 9.0 keeps it too.)
#[test]
fn q35_explicit_eight_function_root_ports_boot_as_planned() {
    if !big() {
        return;
    }
    let mut devices = String::from("<controller type='pci' index='0' model='pcie-root'/>");
    for port in 1..=125 {
        devices += &format!("<controller type='pci' index='{port}' model='pcie-root-port'/>");
    }
    for n in 0..1000usize {
        let (bus, function) = (n / 8 + 1, n % 8);
        let mf = if function == 0 {
            " multifunction='on'"
        } else {
            ""
        };
        devices += &format!(
            "<interface type='user'><mac address='52:54:00:00:{:02x}:{:02x}'/><model type='virtio'/>\
             <address type='pci' domain='0x0000' bus='{bus:#04x}' slot='0x00' function='{function:#x}'{mf}/>\
             </interface>",
            (n >> 8) & 0xff,
            n & 0xff
        );
    }
    devices += "<memballoon model='none'/>";
    let xml = domain("x86_64", "q35", "", &devices);
    let caps_path = caps_file("x86_64");
    let caps = parse_caps_xml(&std::fs::read_to_string(&caps_path).unwrap()).unwrap();
    let (_, mut plan) = parse_domain(&xml, &caps, &HostPci::default()).unwrap();
    plan.assign().unwrap();
    let job = Job {
        name: "q35-explicit-1000".into(),
        plan,
        stand_ins: Vec::new(),
    };
    if qmp::version(program(&job)).is_none() {
        println!("SKIPPED: {} not found", program(&job));
        return;
    }
    let functions = expect::expected(&job.plan).map_or(0, |t| t.len());
    let start = Instant::now();
    let outcome = session::run(&job, BIG_LIMITS, &|_| false);
    println!(
        "qemu-policy q35-explicit-1000 [no policy]: 1000 NICs, {functions} functions, {outcome:?}, {:.1} s",
        start.elapsed().as_secs_f64()
    );
    assert!(matches!(outcome, Outcome::Matched(0)), "{outcome:?}");
}

#[test]
fn pc_with_7900_virtio_devices_under_expand_boots_as_planned() -> Result<(), String> {
    if !big() {
        return Ok(());
    }
    let xml = domain(
        "x86_64",
        "pc",
        "",
        &(virtio_disks(0, 7900) + "<memballoon model='none'/>"),
    );
    let figures = boot("pc-7900", "expand", "x86_64", &xml, BIG_LIMITS)?;
    matched("pc-7900", figures)
}

#[test]
fn q35_with_1800_virtio_devices_under_expand_boots_as_planned() -> Result<(), String> {
    if !big() {
        return Ok(());
    }
    let xml = domain(
        "x86_64",
        "q35",
        "",
        &(virtio_nics(0, 900) + &virtio_disks(0, 900) + "<memballoon model='none'/>"),
    );
    let figures = boot("q35-1800", "expand", "x86_64", &xml, BIG_LIMITS)?;
    matched("q35-1800", figures)
}

#[test]
fn q35_expander_buses_on_numa_nodes_boot_as_planned() -> Result<(), String> {
    let devices = virtio_nics(0, 6) + &virtio_disks(0, 4);
    let xml = domain("x86_64", "q35", NUMA_WITH_CPULESS_NODE, &devices);
    let figures = boot("q35-numa", "numa-cpuless", "x86_64", &xml, LIMITS)?;
    matched("q35-numa", figures)
}

/// QEMU's view of the guest NUMA nodes of a plan, started paused: the
/// `numa_node` of every expander bus, and the node of every CPU.
struct NumaFacts {
    expanders: Vec<i64>,
    cpus: Vec<i64>,
}

/// Starts the plan paused and reads [`NumaFacts`] over QMP; `None` (after a
/// printed skip line) when the emulator is missing.
fn numa_facts(name: &str, policy_name: &str, xml: &str) -> Result<Option<NumaFacts>, String> {
    let plan =
        policy_plan(&policy(policy_name), "x86_64", xml).map_err(|e| format!("{name}: {e}"))?;
    let job = Job {
        name: name.to_string(),
        plan,
        stand_ins: Vec::new(),
    };
    let emulator = program(&job);
    if qmp::version(emulator).is_none() {
        println!("SKIPPED: {emulator} not found; {name} not started");
        return Ok(None);
    }
    let mut args: Vec<String> = ["-accel", "tcg", "-display", "none", "-S"]
        .map(String::from)
        .to_vec();
    args.extend(pciplan::qemu::command_line(&job.plan).map_err(|e| e.to_string())?);
    let timeout = LIMITS.qmp;
    let qmp_error = |e: qmp::VmError| format!("{name}: {e:?}");
    let mut vm = Vm::start(emulator, &args, timeout).map_err(qmp_error)?;
    let pci = vm
        .execute("query-pci", json!({}), timeout)
        .map_err(qmp_error)?;
    let mut expanders = Vec::new();
    for (id, _) in expect::expanders(&pci) {
        let node = vm
            .execute(
                "qom-get",
                json!({ "path": format!("/machine/peripheral/{id}"), "property": "numa_node" }),
                timeout,
            )
            .map_err(qmp_error)?;
        expanders.push(node.as_i64().unwrap_or(-1));
    }
    expanders.sort_unstable();
    let cpus = vm
        .execute("query-cpus-fast", json!({}), timeout)
        .map_err(qmp_error)?;
    let cpus = cpus
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| {
            c.get("props")
                .and_then(|p| p.get("node-id"))
                .and_then(Value::as_i64)
                .unwrap_or(-1)
        })
        .collect();
    Ok(Some(NumaFacts { expanders, cpus }))
}

#[test]
fn q35_expander_buses_sit_on_the_policy_nodes() {
    let devices = virtio_nics(0, 6) + &virtio_disks(0, 4);
    let xml = domain("x86_64", "q35", NUMA_WITH_CPULESS_NODE, &devices);
    let Some(facts) = numa_facts("q35-numa", "numa-cpuless", &xml).unwrap() else {
        return;
    };
    assert_eq!(facts.expanders, [1, 2]);
}

#[test]
fn q35_expander_bus_on_the_cpu_less_node_has_no_cpu_there() {
    let devices = virtio_nics(0, 6) + &virtio_disks(0, 4);
    let xml = domain("x86_64", "q35", NUMA_WITH_CPULESS_NODE, &devices);
    let Some(facts) = numa_facts("q35-numa", "numa-cpuless", &xml).unwrap() else {
        return;
    };
    assert!(
        facts.expanders.contains(&2) && !facts.cpus.contains(&2),
        "expanders on {:?}, CPUs on {:?}",
        facts.expanders,
        facts.cpus
    );
}

#[test]
fn pc_expander_buses_sit_on_the_policy_nodes() {
    let devices = virtio_nics(0, 6) + &virtio_disks(0, 4);
    let xml = domain("x86_64", "pc", NUMA_WITH_CPULESS_NODE, &devices);
    let Some(facts) = numa_facts("pc-numa", "numa-cpuless", &xml).unwrap() else {
        return;
    };
    assert_eq!(facts.expanders, [1, 2]);
}

#[test]
fn pc_expander_buses_on_numa_nodes_boot_as_planned() -> Result<(), String> {
    let devices = virtio_nics(0, 6) + &virtio_disks(0, 4);
    let xml = domain("x86_64", "pc", NUMA_WITH_CPULESS_NODE, &devices);
    let figures = boot("pc-numa", "numa-cpuless", "x86_64", &xml, LIMITS)?;
    matched("pc-numa", figures)
}

#[test]
fn q35_spare_ports_boot_as_planned() -> Result<(), String> {
    let xml = domain(
        "x86_64",
        "q35",
        "",
        &(virtio_nics(0, 2) + &virtio_disks(0, 2)),
    );
    let figures = boot("q35-spares", "spares-q35", "x86_64", &xml, LIMITS)?;
    matched("q35-spares", figures)
}

#[test]
fn aarch64_virt_spare_ports_boot_as_planned() -> Result<(), String> {
    let xml = domain(
        "aarch64",
        "virt",
        "",
        &(virtio_nics(0, 2) + &virtio_disks(0, 2)),
    );
    let figures = boot("virt-spares", "spares-q35", "aarch64", &xml, LIMITS)?;
    matched("virt-spares", figures)
}

#[test]
fn pc_spare_bridge_slots_boot_as_planned() -> Result<(), String> {
    let xml = domain(
        "x86_64",
        "pc",
        "",
        &(virtio_nics(0, 2) + &virtio_disks(0, 30)),
    );
    let figures = boot("pc-spares", "spares-pc", "x86_64", &xml, LIMITS)?;
    matched("pc-spares", figures)
}

#[test]
fn q35_combined_policy_boots_as_planned() -> Result<(), String> {
    let devices = virtio_nics(0, 4) + &virtio_disks(0, 3);
    let cpu = "<cpu><numa><cell id='0' cpus='0' memory='262144' unit='KiB'/>\
               <cell id='1' memory='262144' unit='KiB'/></numa></cpu>";
    let xml = domain("x86_64", "q35", cpu, &devices);
    let figures = boot("q35-combined", "combined", "x86_64", &xml, LIMITS)?;
    matched("q35-combined", figures)
}

/// The environment variable that boots every plan of the policy corpus
/// (`all`) instead of every [`CORPUS_STRIDE`]th one.
const CORPUS_ENV: &str = "PCIPLAN_QEMU_POLICY_CORPUS";

/// One case in this many of the policy corpus is booted by default.
const CORPUS_STRIDE: usize = 20;

/// A stored plan of the policy corpus (libvirt's definition of it, which
/// has the same PCI view), read back and assigned, passthrough devices
/// replaced by stand-ins at their addresses.
fn corpus_job(case: &Path) -> Result<Job, String> {
    let read = |p: &Path| {
        std::fs::read_to_string(p).map_err(|e| format!("cannot read {}: {e}", p.display()))
    };
    let xml = read(&case.join("expected.xml"))?;
    let arch = if xml.contains("arch='aarch64'") {
        "aarch64"
    } else {
        "x86_64"
    };
    let caps = parse_caps_xml(&read(&caps_file(arch))?).map_err(|e| e.to_string())?;
    let (_, mut plan) =
        parse_domain(&xml, &caps, &HostPci::default()).map_err(|e| e.to_string())?;
    plan.assign().map_err(|e| format!("assign: {e}"))?;
    let stand_ins = qemu::plans::stand_in(&mut plan);
    Ok(Job {
        name: case
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned()),
        plan,
        stand_ins,
    })
}

#[test]
fn policy_corpus_plans_boot_as_planned() -> Result<(), String> {
    let dir = data().join("policy/cases");
    let mut cases: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map_err(|e| format!("cannot list {}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("expected.xml").is_file())
        .collect();
    cases.sort();
    let all = std::env::var(CORPUS_ENV).is_ok_and(|v| v == "all");
    let chosen: Vec<&PathBuf> = cases
        .iter()
        .enumerate()
        .filter(|(i, _)| all || i % CORPUS_STRIDE == 0)
        .map(|(_, c)| c)
        .collect();
    let start = Instant::now();
    let (mut booted, mut skipped) = (0usize, 0usize);
    let mut failures = Vec::new();
    for case in &chosen {
        let job = corpus_job(case)?;
        if qmp::version(program(&job)).is_none() {
            skipped += 1;
            continue;
        }
        booted += 1;
        match session::run(&job, LIMITS, &|_| false) {
            Outcome::Matched(0) => {}
            other => failures.push(format!("{}: {other:?}", job.name)),
        }
    }
    println!(
        "qemu-policy corpus: {} of {} plans booted, {} matched, {skipped} skipped (emulator missing), {:.1} s",
        booted,
        cases.len(),
        booted - failures.len(),
        start.elapsed().as_secs_f64()
    );
    if failures.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{} plan(s) did not boot as planned:\n  {}",
            failures.len(),
            failures.join("\n  ")
        ))
    }
}
