//! Replays the differential-testing corpus `tests/data/oracle/cases`: domain
//! XMLs (random ones from `tests/data/oracle/gen/gen.py`, plus hand-minimised
//! `min-*` ones) with the answer a live libvirt 9.0 + QEMU 7.2 (Debian
//! bookworm) gave for each. The oracle itself is never needed here.
//!
//! Every case is assigned with the QEMU 7.2 capabilities libvirt probed for
//! the case's architecture (`tests/data/oracle/caps-qemu-7.2-<arch>.xml`, or
//! `caps-qemu-7.2.xml` for x86) and no host PCI devices.
//!
//! * `expected.xml` cases: `assign_xml(input.xml)` must succeed, its PCI view
//!   must equal the view of `expected.xml` (see `common/pci_view.rs`), every
//!   disk must get the PCI address libvirt gave the disk with the same
//!   `<target dev>` (libvirt reorders disks, which the positional view can
//!   miss), and assigning the output again must return it byte for byte.
//! * `expected-error.txt` cases: `assign_xml` must fail with a message that
//!   contains libvirt's message.
//!
//! Prints `oracle: <passed>/<total>`. The test fails only when a case listed
//! in `tests/data/oracle/expected-pass.txt` fails;
//! `PCIPLAN_UPDATE_EXPECTED_PASS=1` adds the cases that pass now to that list
//! (it never removes entries). A per-case report goes to
//! `target/oracle-report.txt`.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use common::harness::{
    Outcome, assign, case_names, check_fixed_point, finish, guarded, quiet_panics, read,
    read_expected_pass,
};
use common::pci_view;
use pciplan::Capabilities;
use pciplan::LibvirtVersion;
use pciplan::libvirt::parse_caps_xml;
use pciplan::machine::HostPci;

/// One differential corpus: where it lives, which libvirt answered it and
/// the capability file of each architecture.
#[derive(Copy, Clone)]
struct Corpus {
    dir: &'static str,
    libvirt: LibvirtVersion,
    /// `caps-<qemu>.xml` for x86, `caps-<qemu>-<arch>.xml` otherwise.
    qemu: &'static str,
    /// Where those files are, when not in `dir`.
    caps_dir: Option<&'static str>,
}

const LIBVIRT_9_0: Corpus = Corpus {
    dir: "tests/data/oracle",
    libvirt: LibvirtVersion::V9_0,
    qemu: "qemu-7.2",
    caps_dir: None,
};

/// The same corpus, planned with pciplan's own probe of the same QEMU 7.2
/// binaries (`pciplan caps probe`, `tests/data/probed/`) instead of
/// libvirt's: the probe must give libvirt's plans.
const LIBVIRT_9_0_PROBED: Corpus = Corpus {
    caps_dir: Some("tests/data/probed"),
    ..LIBVIRT_9_0
};

const LIBVIRT_11_3: Corpus = Corpus {
    dir: "tests/data/oracle11",
    libvirt: LibvirtVersion::V11_3,
    qemu: "qemu-10.0",
    caps_dir: None,
};

fn corpus_dir(c: Corpus) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(c.dir)
}

/// `<target dev>` → PCI address (as text) of every disk that has one.
fn disk_addresses(xml: &str) -> Result<BTreeMap<String, String>, String> {
    let opts = roxmltree::ParsingOptions {
        allow_dtd: true,
        ..roxmltree::ParsingOptions::default()
    };
    let doc = roxmltree::Document::parse_with_options(xml, opts).map_err(|e| e.to_string())?;
    let mut out = BTreeMap::new();
    let disks = doc.descendants().filter(|n| {
        n.has_tag_name("disk")
            && n.parent_element()
                .is_some_and(|p| p.has_tag_name("devices"))
    });
    for disk in disks {
        let child = |name: &str| {
            disk.children()
                .find(|c| c.is_element() && c.tag_name().name() == name)
        };
        let Some(dev) = child("target").and_then(|t| t.attribute("dev")) else {
            continue;
        };
        let Some(addr) = child("address").filter(|a| a.attribute("type") == Some("pci")) else {
            continue;
        };
        let num = |k: &str| {
            let v = addr.attribute(k).unwrap_or("0");
            v.strip_prefix("0x")
                .map_or_else(
                    || v.parse::<u32>().ok(),
                    |h| u32::from_str_radix(h, 16).ok(),
                )
                .map_or_else(|| v.to_string(), |n| n.to_string())
        };
        out.insert(
            dev.to_string(),
            format!(
                "{}:{}:{}.{}",
                num("domain"),
                num("bus"),
                num("slot"),
                num("function")
            ),
        );
    }
    Ok(out)
}

/// Runs one case; `Err` holds the reason it failed (first line: summary).
fn run_case(c: Corpus, name: &str, caps: &Capabilities, host: &HostPci) -> Result<(), String> {
    let dir = corpus_dir(c).join("cases").join(name);
    let input = read(&dir.join("input.xml"))?;
    let err_path = dir.join("expected-error.txt");
    if err_path.exists() {
        let want = read(&err_path)?;
        let want = want.trim();
        return match assign(&input, caps, host, true, c.libvirt) {
            Ok(_) => Err(format!("accepted; libvirt: {want}")),
            Err(e) if e.to_string().contains(want) => Ok(()),
            Err(e) => Err(format!("wrong error\n  libvirt: {want}\n  pciplan: {e}")),
        };
    }
    let expected_xml = read(&dir.join("expected.xml"))?;
    let out = assign(&input, caps, host, true, c.libvirt)
        .map_err(|e| format!("assign_xml failed: {e}"))?;
    let expected = pci_view::view(&expected_xml).map_err(|e| format!("expected.xml: {e}"))?;
    let actual = pci_view::view(&out).map_err(|e| format!("output is not well-formed: {e}"))?;
    let mut d = pci_view::diff(&expected, &actual);
    d.extend(pci_view::numbered_diff(&expected, &actual));
    let (want_disks, got_disks) = (disk_addresses(&expected_xml)?, disk_addresses(&out)?);
    for (dev, want) in &want_disks {
        let got = got_disks.get(dev).map_or("none", String::as_str);
        if got != want {
            d.push(format!("disk {dev}: expected {want}, got {got}"));
        }
    }
    for (dev, got) in &got_disks {
        if !want_disks.contains_key(dev) {
            d.push(format!("disk {dev}: expected none, got {got}"));
        }
    }
    if !d.is_empty() {
        return Err(format!(
            "{} PCI difference(s)\n  {}",
            d.len(),
            d.join("\n  ")
        ));
    }
    check_fixed_point(&out, assign(&out, caps, host, true, c.libvirt))
}

/// Runs a case with panics turned into failures.
fn run_guarded(c: Corpus, name: &str, caps: &Capabilities, host: &HostPci) -> Result<(), String> {
    guarded(|| run_case(c, name, caps, host))
}

/// Header of the expected-pass list.
const PASS_LIST_HEADER: &str = "# Oracle cases (directories under tests/data/oracle/cases/) that must pass.\n\
         # tests/oracle.rs fails when any of them fails. The list only grows:\n\
         # `PCIPLAN_UPDATE_EXPECTED_PASS=1 cargo test --release --test oracle`\n\
         # adds the cases that pass now and keeps the old entries.\n";

/// The `<os><type arch>` of a case's input (x86_64 when absent or unreadable).
fn case_arch(c: Corpus, name: &str) -> String {
    let path = corpus_dir(c).join("cases").join(name).join("input.xml");
    let text = read(&path).unwrap_or_default();
    roxmltree::Document::parse(&text)
        .ok()
        .and_then(|d| {
            d.descendants()
                .find(|n| {
                    n.has_tag_name("type")
                        && n.parent_element().is_some_and(|p| p.has_tag_name("os"))
                })
                .and_then(|t| t.attribute("arch").map(str::to_string))
        })
        .unwrap_or_else(|| "x86_64".to_string())
}

/// The capabilities for an architecture, parsed once.
fn caps_for(
    c: Corpus,
    arch: &str,
    cache: &mut BTreeMap<String, Capabilities>,
) -> Result<Capabilities, String> {
    let file = match arch {
        "x86_64" | "i686" => format!("caps-{}.xml", c.qemu),
        other => format!("caps-{}-{other}.xml", c.qemu),
    };
    if let Some(c) = cache.get(&file) {
        return Ok(c.clone());
    }
    let dir = match c.caps_dir {
        Some(d) => Path::new(env!("CARGO_MANIFEST_DIR")).join(d),
        None => corpus_dir(c),
    };
    let path = dir.join(&file);
    let caps = parse_caps_xml(&read(&path)?)
        .map_err(|e| format!("parse_caps_xml({}): {e}", path.display()))?;
    cache.insert(file, caps.clone());
    Ok(caps)
}

#[test]
fn libvirt_9_0_qemu_7_2_oracle() -> Result<(), String> {
    replay(LIBVIRT_9_0, "oracle")
}

/// The libvirt 9.0 corpus with probed capabilities: the same cases must
/// pass as with libvirt's.
#[test]
fn libvirt_9_0_qemu_7_2_oracle_with_probed_caps() -> Result<(), String> {
    replay(LIBVIRT_9_0_PROBED, "oracle-probed")
}

/// The libvirt 11.3 + QEMU 10.0 corpus, planned with the 11.3 profile.
#[test]
fn libvirt_11_3_qemu_10_0_oracle() -> Result<(), String> {
    replay(LIBVIRT_11_3, "oracle11")
}

/// Replays one corpus; `name` prefixes the summary lines and names the
/// report (`target/<name>-report.txt`).
fn replay(c: Corpus, name: &'static str) -> Result<(), String> {
    let names = case_names(&corpus_dir(c).join("cases"))?;
    let mut caps_cache = BTreeMap::new();
    let mut per_arch: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let host = HostPci::default();
    let pass_list_path = corpus_dir(c).join("expected-pass.txt");
    let must_pass = read_expected_pass(&pass_list_path)?;

    // Quiet panic hook: remember where the panic happened, print nothing.
    let _hooks = quiet_panics();

    let mut passing = BTreeSet::new();
    let mut report = String::new();
    let mut regressions = Vec::new();
    for case in &names {
        let arch = case_arch(c, case);
        let tally = per_arch.entry(arch.clone()).or_default();
        tally.1 = tally.1.saturating_add(1);
        let result =
            caps_for(c, &arch, &mut caps_cache).and_then(|caps| run_guarded(c, case, &caps, &host));
        match result {
            Ok(()) => {
                tally.0 = tally.0.saturating_add(1);
                passing.insert(case.clone());
                let _ = writeln!(report, "PASS {case}");
            }
            Err(why) => {
                let first = why.lines().next().unwrap_or("");
                let detail = why.lines().nth(1).map(str::trim).unwrap_or("");
                let _ = writeln!(report, "FAIL {case}: {first}");
                for line in why.lines().skip(1) {
                    let _ = writeln!(report, "    {}", line.trim());
                }
                if must_pass.contains(case) {
                    regressions.push(format!("{case}: {first} {detail}").trim_end().to_string());
                }
            }
        }
    }

    let mut summary = format!("{name}: {}/{}\n", passing.len(), names.len());
    for (arch, (pass, total)) in &per_arch {
        let _ = writeln!(summary, "{name} {arch}: {pass}/{total}");
    }
    print!("{summary}");
    eprint!("{summary}");

    finish(Outcome {
        summary,
        report,
        report_file: match (c.libvirt, c.caps_dir) {
            (LibvirtVersion::V9_0, None) => "oracle-report.txt",
            (LibvirtVersion::V9_0, Some(_)) => "oracle-probed-report.txt",
            _ => "oracle11-report.txt",
        },
        known: names.iter().map(String::as_str).collect(),
        must_pass,
        passing,
        regressions,
        pass_list: &pass_list_path,
        pass_list_header: PASS_LIST_HEADER,
    })
}
