//! Replays the placement-policy corpus `tests/data/policy/cases`: random
//! domains (`tests/data/policy/gen/gen_policy.py`) planned by
//! `pciplan assign --policy tests/data/policy/policies/<policy>.toml`, and
//! what a live libvirt 9.0 + QEMU 7.2 (Debian bookworm) made of each plan
//! when it was defined. The live libvirt is never needed here.
//!
//! A case directory is `<policy>-<seed>`; the policy is the name without
//! the seed. Every case is planned through the CLI with the QEMU 7.2
//! capabilities libvirt probed for the input's architecture
//! (`tests/data/oracle/caps-qemu-7.2[-aarch64].xml`).
//!
//! * `expected.xml` cases (libvirt's `dumpxml --inactive` of pciplan's
//!   plan): the plan must have the same PCI view as `expected.xml` (every
//!   device address, every PCI controller with index, model, target and
//!   address; see `common/pci_view.rs`), that is libvirt kept every address
//!   and controller pciplan wrote and added none; and planning the plan
//!   again under the same policy must return it byte for byte.
//! * `pciplan-error.txt` cases: pciplan refused the input under the policy
//!   (exit 1) and must still refuse it with the same message. libvirt was
//!   not asked. Counted apart from the plans.
//! * `libvirt-error.txt` cases: libvirt refused pciplan's plan. They always
//!   fail (a finding).
//!
//! Prints `policy-oracle <policy>: <passed>/<total> (<refused> refused by
//! pciplan)` per policy. Like `tests/oracle.rs`, the test fails only when a
//! case listed in `tests/data/policy/expected-pass.txt` fails;
//! `PCIPLAN_UPDATE_EXPECTED_PASS=1` adds the cases that pass now. A
//! per-case report goes to `target/policy-oracle-report.txt`.

#![cfg(feature = "cli")]

// Shared with `tests/oracle.rs`; this test uses part of it.
#[path = "common/cli.rs"]
mod cli;
#[allow(dead_code)]
mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use common::harness::{
    Outcome, case_names, finish, first_text_difference, read, read_expected_pass,
};
use common::pci_view;

/// The corpus directory.
fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/policy")
}

/// `<policy>-<seed>` → `<policy>`.
fn policy_of(case: &str) -> &str {
    case.rsplit_once('-').map_or(case, |(p, _)| p)
}

/// The capability file of the input's architecture.
fn caps_file(input: &str) -> PathBuf {
    let aarch64 = input.contains("<type arch='aarch64'");
    let name = if aarch64 {
        "caps-qemu-7.2-aarch64.xml"
    } else {
        "caps-qemu-7.2.xml"
    };
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/oracle")
        .join(name)
}

/// What `pciplan assign --policy` answered.
enum Planned {
    /// Exit 0 with this plan.
    Plan(String),
    /// Exit 1 with this message.
    Refused(String),
}

/// Runs `pciplan assign --policy <policy> --caps <caps> -` on `xml`.
fn plan(policy: &str, caps: &Path, xml: &str) -> Result<Planned, String> {
    let policy_file = corpus().join("policies").join(format!("{policy}.toml"));
    let out = cli::assign_policy(&policy_file, caps, xml)?;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).trim().to_string();
    match out.status.code() {
        Some(0) => Ok(Planned::Plan(stdout)),
        Some(1) => Ok(Planned::Refused(stderr)),
        other => Err(format!("pciplan exited with {other:?}: {stderr}")),
    }
}

/// How a case ended.
enum Pass {
    /// libvirt kept the plan as it was, and the plan is a fixed point.
    Plan,
    /// pciplan refused the input, with the stored message.
    Refused,
}

/// Runs one case; `Err` holds why it failed (first line: summary).
fn run_case(name: &str) -> Result<Pass, String> {
    let dir = corpus().join("cases").join(name);
    let policy = policy_of(name);
    let input = read(&dir.join("input.xml"))?;
    let caps = caps_file(&input);
    let refusal = dir.join("pciplan-error.txt");
    if refusal.exists() {
        let want = read(&refusal)?;
        return match plan(policy, &caps, &input)? {
            Planned::Refused(got) if got == want.trim() => Ok(Pass::Refused),
            Planned::Refused(got) => Err(format!(
                "refused with another message\n  stored: {}\n  now: {got}",
                want.trim()
            )),
            Planned::Plan(_) => Err(format!("planned; stored refusal: {}", want.trim())),
        };
    }
    let libvirt_refusal = dir.join("libvirt-error.txt");
    if libvirt_refusal.exists() {
        return Err(format!(
            "libvirt refused the plan\n  {}",
            read(&libvirt_refusal)?.trim()
        ));
    }
    let expected_xml = read(&dir.join("expected.xml"))?;
    let out = match plan(policy, &caps, &input)? {
        Planned::Plan(out) => out,
        Planned::Refused(e) => return Err(format!("refused: {e}")),
    };
    let expected = pci_view::view(&expected_xml).map_err(|e| format!("expected.xml: {e}"))?;
    let actual = pci_view::view(&out).map_err(|e| format!("plan is not well-formed: {e}"))?;
    let d = pci_view::diff(&expected, &actual);
    if !d.is_empty() {
        return Err(format!(
            "{} PCI difference(s) between libvirt's definition and the plan\n  {}",
            d.len(),
            d.join("\n  ")
        ));
    }
    match plan(policy, &caps, &out)? {
        Planned::Plan(again) if again == out => Ok(Pass::Plan),
        Planned::Plan(again) => Err(format!(
            "not idempotent: planning the plan again changed it\n  {}",
            first_text_difference(&out, &again)
        )),
        Planned::Refused(e) => Err(format!(
            "not idempotent: planning the plan again was refused: {e}"
        )),
    }
}

/// Header of the expected-pass list.
const PASS_LIST_HEADER: &str = "# Policy cases (directories under tests/data/policy/cases/) that must pass.\n\
         # tests/policy_oracle.rs fails when any of them fails. The list only grows:\n\
         # `PCIPLAN_UPDATE_EXPECTED_PASS=1 cargo test --release --test policy_oracle`\n\
         # adds the cases that pass now and keeps the old entries.\n";

/// Per policy: planned and kept, refused, total.
#[derive(Default)]
struct Tally {
    planned: usize,
    refused: usize,
    total: usize,
}

#[test]
fn libvirt_9_0_keeps_every_policy_plan() -> Result<(), String> {
    let names = case_names(&corpus().join("cases"))?;
    let pass_list = corpus().join("expected-pass.txt");
    let must_pass = read_expected_pass(&pass_list)?;
    let mut tallies: BTreeMap<&str, Tally> = BTreeMap::new();
    let mut passing = BTreeSet::new();
    let mut report = String::new();
    let mut regressions = Vec::new();
    for case in &names {
        let tally = tallies.entry(policy_of(case)).or_default();
        tally.total = tally.total.saturating_add(1);
        match run_case(case) {
            Ok(pass) => {
                match pass {
                    Pass::Plan => tally.planned = tally.planned.saturating_add(1),
                    Pass::Refused => tally.refused = tally.refused.saturating_add(1),
                }
                passing.insert(case.clone());
                let _ = writeln!(report, "PASS {case}");
            }
            Err(why) => {
                let first = why.lines().next().unwrap_or("");
                let _ = writeln!(report, "FAIL {case}: {first}");
                for line in why.lines().skip(1) {
                    let _ = writeln!(report, "    {}", line.trim());
                }
                if must_pass.contains(case) {
                    let detail = why.lines().nth(1).map(str::trim).unwrap_or("");
                    regressions.push(format!("{case}: {first} {detail}").trim_end().to_string());
                }
            }
        }
    }
    let mut summary = String::new();
    for (policy, t) in &tallies {
        let _ = writeln!(
            summary,
            "policy-oracle {policy}: {}/{} ({} refused by pciplan)",
            t.planned.saturating_add(t.refused),
            t.total,
            t.refused
        );
    }
    let _ = writeln!(summary, "policy-oracle: {}/{}", passing.len(), names.len());
    print!("{summary}");
    eprint!("{summary}");
    finish(Outcome {
        summary,
        report,
        report_file: "policy-oracle-report.txt",
        known: names.iter().map(String::as_str).collect(),
        must_pass,
        passing,
        regressions,
        pass_list: &pass_list,
        pass_list_header: PASS_LIST_HEADER,
    })
}
