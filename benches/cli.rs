//! The command-line tool end to end, beside the least an XML-in/XML-out tool
//! must do with the same XML parser (the *floor*).
//!
//! Run with `cargo bench --bench cli`. Groups:
//!
//! - `process/*`: whole processes, started and waited for: `pciplan assign`
//!   (XML and `--format json`) on `benches/data/pc-bridges-7679.xml`, and the
//!   floor program (this bench binary started again with
//!   `PCIPLAN_FLOOR=<file>`).
//! - `inprocess/*`: the same work without process start-up: the floor, and
//!   the library path the CLI takes (parse, assign, write; and the JSON
//!   records instead of the XML), and its parts (`parse`, `write`) at 100,
//!   928 and 7,679 devices to show the growth is linear.
//!
//! The `7679-addressed` process cases run on the same domain with every
//! address given (pciplan's output for it, written to the temporary
//! directory first).
//!
//! `PCIPLAN_BENCH_BASELINE=/path/to/an/older/pciplan` adds
//! `process/baseline-*` cases that run that binary on the same inputs, so
//! that before/after figures come from one run.
//!
//! Every iteration checks its result (exit status, or the output's length).

#[allow(dead_code)] // the factories the assign bench uses and this one does not
mod common;

use std::fmt::Write as _;
use std::hint::black_box;
use std::io::Write as _;
use std::path::Path;
use std::process::{Command, ExitCode, Stdio};
use std::time::Duration;

use criterion::{BenchmarkId, Criterion};
use pciplan::Capabilities;
use pciplan::machine::HostPci;

/// The 7,679-NIC domain (written by `benches/assign.rs`).
const PC_BRIDGES_XML: &str = "benches/data/pc-bridges-7679.xml";

/// The environment variable that turns this binary into the floor program.
const FLOOR_ENV: &str = "PCIPLAN_FLOOR";

/// An earlier `pciplan` binary to measure beside this one (optional).
const BASELINE_ENV: &str = "PCIPLAN_BENCH_BASELINE";

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
        .sample_size(30)
        .configure_from_args()
}

/// The floor: read the file, parse it with roxmltree, splice one PCI
/// `<address>` into every `<devices>` child that has none, write the result.
/// No model of the domain, no planning: the cost any tool that reads and
/// rewrites this XML with the same parser pays.
fn floor(text: &str) -> Result<String, roxmltree::Error> {
    let tree = roxmltree::Document::parse(text)?;
    let mut out = String::with_capacity(text.len().saturating_mul(2));
    let mut at = 0;
    let devices = tree
        .root_element()
        .children()
        .find(|n| n.has_tag_name("devices"));
    let mut k = 0u32;
    for dev in devices
        .into_iter()
        .flat_map(|d| d.children())
        .filter(|n| n.is_element())
    {
        if dev.children().any(|c| c.has_tag_name("address")) {
            continue;
        }
        // Before the end tag's line (`\n    </interface>`).
        let Some(last) = dev.last_child() else {
            continue;
        };
        let pos = last.range().start;
        out.push_str(text.get(at..pos).unwrap_or_default());
        let _ = write!(
            out,
            "  <address type='pci' domain='0x0000' bus='0x{:02x}' slot='0x{:02x}' function='0x0'/>",
            k / 31,
            k % 31 + 1
        );
        k = k.wrapping_add(1);
        at = pos;
    }
    out.push_str(text.get(at..).unwrap_or_default());
    Ok(out)
}

/// The floor as a program: `PCIPLAN_FLOOR=<file>`, output on stdout.
fn floor_main(path: &Path) -> ExitCode {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: cannot read {}: {e}", path.display());
            return ExitCode::from(2);
        }
    };
    match floor(&text) {
        Ok(out) => {
            let mut stdout = std::io::stdout().lock();
            if stdout.write_all(out.as_bytes()).is_err() {
                return ExitCode::from(2);
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}

/// Runs a command with its output thrown away; true when it exits 0.
fn run_quiet(cmd: &mut Command) -> bool {
    cmd.stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The `pc-bridges` domain with every address given (pciplan's own output
/// for it), written next to the bench binary.
fn fully_addressed() -> std::path::PathBuf {
    let path = std::env::temp_dir().join("pciplan-bench-pc-bridges-7679-addressed.xml");
    let caps = Capabilities::qemu_8_0_x86_64();
    let written = std::fs::read_to_string(PC_BRIDGES_XML)
        .ok()
        .and_then(|xml| pciplan::libvirt::assign_xml(&xml, &caps, &HostPci::default()).ok())
        .is_some_and(|out| std::fs::write(&path, out).is_ok());
    if !written {
        eprintln!("cannot write {}", path.display());
        std::process::exit(1);
    }
    path
}

fn process(c: &mut Criterion) {
    let pciplan = env!("CARGO_BIN_EXE_pciplan");
    let Ok(me) = std::env::current_exe() else {
        eprintln!("cannot find the bench binary");
        std::process::exit(1);
    };
    let full = fully_addressed();
    let mut group = c.benchmark_group("process");
    for (case, input) in [
        ("7679", Path::new(PC_BRIDGES_XML)),
        ("7679-addressed", full.as_path()),
    ] {
        group.bench_function(BenchmarkId::new("floor", case), |b| {
            b.iter(|| {
                let ok = run_quiet(Command::new(&me).env(FLOOR_ENV, input));
                assert!(ok, "the floor program failed");
            });
        });
        group.bench_function(BenchmarkId::new("assign", case), |b| {
            b.iter(|| {
                let ok = run_quiet(Command::new(pciplan).arg("assign").arg(input));
                assert!(ok, "pciplan assign failed");
            });
        });
        group.bench_function(BenchmarkId::new("assign-json", case), |b| {
            b.iter(|| {
                let ok = run_quiet(
                    Command::new(pciplan)
                        .args(["assign", "--format", "json"])
                        .arg(input),
                );
                assert!(ok, "pciplan assign --format json failed");
            });
        });
        // An earlier pciplan binary, for before/after figures in one run.
        if let Some(baseline) = std::env::var_os(BASELINE_ENV) {
            for (name, json) in [("baseline-assign", false), ("baseline-assign-json", true)] {
                group.bench_function(BenchmarkId::new(name, case), |b| {
                    b.iter(|| {
                        let mut cmd = Command::new(&baseline);
                        cmd.arg("assign");
                        if json {
                            cmd.args(["--format", "json"]);
                        }
                        assert!(run_quiet(cmd.arg(input)), "the baseline binary failed");
                    });
                });
            }
        }
    }
    group.finish();
}

/// What `assign --format json` does after parsing: assign, then one compact
/// JSON record per device.
fn json(xml: &str, caps: &Capabilities, host: &HostPci) -> Option<String> {
    let (doc, mut plan) = pciplan::libvirt::parse_domain(xml, caps, host).ok()?;
    let given = pciplan::export::Given::of(&plan);
    plan.assign().ok()?;
    let ids = pciplan::libvirt::identities(&doc, &plan);
    let records = pciplan::export::records_given(&given, &plan, &ids);
    let mut out = Vec::with_capacity(records.len().saturating_mul(400));
    for r in &records {
        serde_json::to_writer(&mut out, r).ok()?;
        out.push(b'\n');
    }
    String::from_utf8(out).ok()
}

fn inprocess(c: &mut Criterion) {
    let caps = Capabilities::qemu_8_0_x86_64();
    let host = HostPci::default();
    let cases = [
        (100, common::nics_xml("pc", 100)),
        (928, common::nics_xml("pc", 928)),
        (7679, common::pc_bridges_xml(common::PC_BRIDGES_NICS)),
    ];
    let mut group = c.benchmark_group("inprocess");
    for (n, xml) in &cases {
        let Ok(expected) = pciplan::libvirt::assign_xml(xml, &caps, &host) else {
            eprintln!("inprocess/{n}: the domain does not assign");
            std::process::exit(1);
        };
        group.bench_function(BenchmarkId::new("floor", n), |b| {
            b.iter(|| {
                let out = floor(black_box(xml));
                assert!(out.is_ok_and(|o| o.len() > xml.len()));
            });
        });
        group.bench_function(BenchmarkId::new("parse", n), |b| {
            b.iter(|| {
                let r = pciplan::libvirt::parse_domain(black_box(xml), &caps, &host);
                assert!(r.is_ok());
                r
            });
        });
        let Ok((doc, mut plan)) = pciplan::libvirt::parse_domain(xml, &caps, &host) else {
            std::process::exit(1);
        };
        if plan.assign().is_err() {
            std::process::exit(1);
        }
        group.bench_function(BenchmarkId::new("write", n), |b| {
            b.iter(|| {
                let out = pciplan::libvirt::write_domain(black_box(&doc), &plan);
                assert!(out.as_ref().is_ok_and(|o| o.len() == expected.len()));
                out
            });
        });
        group.bench_function(BenchmarkId::new("assign", n), |b| {
            b.iter(|| {
                let out = pciplan::libvirt::assign_xml(black_box(xml), &caps, &host);
                assert!(out.as_ref().is_ok_and(|o| o.len() == expected.len()));
                out
            });
        });
        group.bench_function(BenchmarkId::new("assign-json", n), |b| {
            b.iter(|| {
                let out = json(black_box(xml), &caps, &host);
                assert!(out.as_ref().is_some_and(|o| !o.is_empty()));
                out
            });
        });
    }
    group.finish();
}

fn main() -> ExitCode {
    if let Some(path) = std::env::var_os(FLOOR_ENV) {
        return floor_main(Path::new(&path));
    }
    let mut c = config();
    process(&mut c);
    inprocess(&mut c);
    c.final_summary();
    ExitCode::SUCCESS
}
