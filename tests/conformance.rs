//! Replays the libvirt 9.0 conformance corpus (`tests/data/libvirt-9.0`)
//! on every architecture it holds.
//!
//! * `ok` cases: `assign_xml(input.xml)` must succeed, its PCI view must equal
//!   the view of `expected.xml` (see `common/pci_view.rs`), and assigning the
//!   output again must return it byte for byte.
//! * `error` cases: `assign_xml` must fail with a message that contains
//!   `expected-error.txt`.
//!
//! Every case runs in this one test, each under `catch_unwind`, so a panic
//! counts as a failure of that case only. The test fails when a case listed
//! in `tests/data/expected-pass.txt` fails; `PCIPLAN_UPDATE_EXPECTED_PASS=1`
//! adds the cases that pass now to that list (it never removes entries).
//! A per-case report goes to `target/conformance-report.txt`.

mod common;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use common::harness::{
    Outcome, assign, check_fixed_point, finish, guarded, quiet_panics, read, read_expected_pass,
};
use common::pci_view;
use pciplan::Capabilities;
use pciplan::LibvirtVersion::V9_0;
use pciplan::libvirt::parse_caps_xml;
use pciplan::machine::HostPci;

/// The architectures this harness replays (and reports on, in this order).
const ARCHES: [&str; 8] = [
    "x86_64", "i686", "aarch64", "riscv64", "ppc64", "ppc64le", "s390x", "armv7l",
];

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data")
}

fn corpus_dir() -> PathBuf {
    data_dir().join("libvirt-9.0")
}

/// One row of `MANIFEST.tsv`.
struct Case {
    dir: String,
    kind: String,
    arch: String,
}

fn manifest() -> Result<Vec<Case>, String> {
    let text = read(&corpus_dir().join("MANIFEST.tsv"))?;
    let mut lines = text.lines();
    let header: Vec<&str> = lines
        .next()
        .ok_or("empty MANIFEST.tsv")?
        .split('\t')
        .collect();
    let col = |name: &str| {
        header
            .iter()
            .position(|h| *h == name)
            .ok_or(format!("MANIFEST.tsv has no column {name}"))
    };
    let (c_dir, c_kind, c_arch) = (col("dir")?, col("kind")?, col("arch")?);
    let mut out = Vec::new();
    for line in lines.filter(|l| !l.trim().is_empty()) {
        let cells: Vec<&str> = line.split('\t').collect();
        let cell = |i: usize| {
            cells
                .get(i)
                .map(|s| s.to_string())
                .ok_or(format!("short MANIFEST.tsv row: {line}"))
        };
        out.push(Case {
            dir: cell(c_dir)?,
            kind: cell(c_kind)?,
            arch: cell(c_arch)?,
        });
    }
    Ok(out)
}

/// Parsed capability files, by path (the 8.0.0 file serves 150 cases).
type CapsCache = HashMap<PathBuf, Capabilities>;

fn meta_str<'a>(meta: &'a toml::Table, key: &str) -> Result<&'a str, String> {
    meta.get(key)
        .and_then(toml::Value::as_str)
        .ok_or(format!("meta.toml: missing string key {key}"))
}

/// The capability set libvirt's test harness hands the parser for this case
/// (README.md "Capability modes").
fn capabilities(meta: &toml::Table, cache: &mut CapsCache) -> Result<Capabilities, String> {
    let mode = meta_str(meta, "caps_mode")?;
    let mut file_caps = |meta: &toml::Table| -> Result<Capabilities, String> {
        let path = corpus_dir().join(meta_str(meta, "caps_file")?);
        if let Some(c) = cache.get(&path) {
            return Ok(c.clone());
        }
        let caps = parse_caps_xml(&read(&path)?)
            .map_err(|e| format!("parse_caps_xml({}): {e}", path.display()))?;
        cache.insert(path, caps.clone());
        Ok(caps)
    };
    match mode {
        // The harness strips machine aliases for "latest": keep the flags only.
        "latest" => Ok(Capabilities::from_names(file_caps(meta)?.names())),
        "version" => file_caps(meta),
        "explicit" => {
            let names = meta
                .get("qemu_caps_flag_names")
                .and_then(toml::Value::as_array)
                .ok_or("meta.toml: missing qemu_caps_flag_names")?;
            let names: Option<Vec<&str>> = names.iter().map(toml::Value::as_str).collect();
            Ok(Capabilities::from_names(names.ok_or(
                "meta.toml: qemu_caps_flag_names holds a non-string",
            )?))
        }
        "none" => Ok(Capabilities::empty()),
        other => Err(format!("meta.toml: unknown caps_mode {other:?}")),
    }
}

/// libvirt's test harness parses as an existing definition unless the case
/// asks for `VIR_DOMAIN_DEF_PARSE_ABI_UPDATE`.
fn new_definition(meta: &toml::Table) -> bool {
    meta.get("parse_flags")
        .and_then(toml::Value::as_array)
        .is_some_and(|f| {
            f.iter()
                .any(|v| v.as_str() == Some("VIR_DOMAIN_DEF_PARSE_ABI_UPDATE"))
        })
}

/// Runs one case; `Err` holds the reason it failed (first line: summary).
fn run_case(case: &Case, host: &HostPci, cache: &mut CapsCache) -> Result<(), String> {
    let dir = corpus_dir().join("cases").join(&case.dir);
    let meta: toml::Table = read(&dir.join("meta.toml"))?
        .parse()
        .map_err(|e| format!("meta.toml: {e}"))?;
    let caps = capabilities(&meta, cache)?;
    let input = read(&dir.join("input.xml"))?;
    match case.kind.as_str() {
        "ok" => {
            let out = assign(&input, &caps, host, new_definition(&meta), V9_0)
                .map_err(|e| format!("assign_xml failed: {e}"))?;
            let expected = pci_view::view(&read(&dir.join("expected.xml"))?)
                .map_err(|e| format!("expected.xml: {e}"))?;
            let actual =
                pci_view::view(&out).map_err(|e| format!("output is not well-formed: {e}"))?;
            let d = pci_view::diff(&expected, &actual);
            let mut d = d;
            d.extend(pci_view::numbered_diff(&expected, &actual));
            if !d.is_empty() {
                return Err(format!(
                    "{} PCI difference(s)\n  {}",
                    d.len(),
                    d.join("\n  ")
                ));
            }
            check_fixed_point(&out, assign(&out, &caps, host, new_definition(&meta), V9_0))
        }
        "error" => {
            let want = read(&dir.join("expected-error.txt"))?;
            let want = want.trim();
            match assign(&input, &caps, host, new_definition(&meta), V9_0) {
                Ok(_) => Err(format!("accepted; expected error: {want}")),
                Err(e) if e.to_string().contains(want) => Ok(()),
                Err(e) => Err(format!("wrong error\n  expected: {want}\n  got:      {e}")),
            }
        }
        other => Err(format!("unknown case kind {other:?}")),
    }
}

/// Runs a case with panics turned into failures.
fn run_guarded(case: &Case, host: &HostPci, cache: &mut CapsCache) -> Result<(), String> {
    guarded(|| run_case(case, host, cache))
}

/// Header of the expected-pass list.
const PASS_LIST_HEADER: &str = "# Conformance cases (directories under libvirt-9.0/cases/) that must pass.\n\
         # tests/conformance.rs fails when any of them fails. The list only grows:\n\
         # `PCIPLAN_UPDATE_EXPECTED_PASS=1 cargo test --release --test conformance`\n\
         # adds the cases that pass now and keeps the old entries.\n";

#[derive(Default)]
struct Tally {
    ok_pass: usize,
    ok_total: usize,
    err_pass: usize,
    err_total: usize,
}

#[test]
fn libvirt_9_0_conformance() -> Result<(), String> {
    let cases = manifest()?;
    let host = HostPci::from_tsv(&read(&corpus_dir().join("env/virpcimock-devices.tsv"))?)
        .map_err(|e| format!("virpcimock-devices.tsv: {e}"))?;
    let pass_list_path = data_dir().join("expected-pass.txt");
    let must_pass = read_expected_pass(&pass_list_path)?;

    // Quiet panic hook: remember where the panic happened, print nothing.
    let _hooks = quiet_panics();

    let mut cache = CapsCache::new();
    let mut tallies: BTreeMap<&str, Tally> = BTreeMap::new();
    let mut passing = BTreeSet::new();
    let mut report = String::new();
    let mut regressions = Vec::new();
    for case in cases.iter().filter(|c| ARCHES.contains(&c.arch.as_str())) {
        let result = run_guarded(case, &host, &mut cache);
        let t = tallies.entry(
            ARCHES
                .iter()
                .copied()
                .find(|a| *a == case.arch)
                .unwrap_or("?"),
        );
        let t = t.or_default();
        let is_ok = case.kind == "ok";
        if is_ok {
            t.ok_total = t.ok_total.saturating_add(1);
        } else {
            t.err_total = t.err_total.saturating_add(1);
        }
        match result {
            Ok(()) => {
                if is_ok {
                    t.ok_pass = t.ok_pass.saturating_add(1);
                } else {
                    t.err_pass = t.err_pass.saturating_add(1);
                }
                passing.insert(case.dir.clone());
                let _ = writeln!(report, "PASS {} ({})", case.dir, case.kind);
            }
            Err(why) => {
                let first = why.lines().next().unwrap_or("");
                let detail = why.lines().nth(1).map(str::trim).unwrap_or("");
                let _ = writeln!(report, "FAIL {} ({}): {first}", case.dir, case.kind);
                for line in why.lines().skip(1) {
                    let _ = writeln!(report, "    {}", line.trim());
                }
                if must_pass.contains(&case.dir) {
                    regressions.push(
                        format!("{}: {first} {detail}", case.dir)
                            .trim_end()
                            .to_string(),
                    );
                }
            }
        }
    }

    let mut summary = String::new();
    for arch in ARCHES {
        let t = tallies.get(arch).map_or((0, 0, 0, 0), |t| {
            (t.ok_pass, t.ok_total, t.err_pass, t.err_total)
        });
        let _ = writeln!(
            summary,
            "{arch}: {}/{} ok, {}/{} errors",
            t.0, t.1, t.2, t.3
        );
    }
    print!("{summary}");
    eprint!("{summary}");

    finish(Outcome {
        summary,
        report,
        report_file: "conformance-report.txt",
        known: cases.iter().map(|c| c.dir.as_str()).collect(),
        must_pass,
        passing,
        regressions,
        pass_list: &pass_list_path,
        pass_list_header: PASS_LIST_HEADER,
    })
}

/// How many elements of each device kind carry a model (`model='…'` or a
/// `<model>` child) in a domain XML.
fn models_by_tag(xml: &str) -> Result<BTreeMap<String, usize>, String> {
    const TAGS: [&str; 10] = [
        "disk",
        "interface",
        "rng",
        "input",
        "filesystem",
        "vsock",
        "memory",
        "serial",
        "channel",
        "console",
    ];
    let opts = roxmltree::ParsingOptions {
        allow_dtd: true,
        ..roxmltree::ParsingOptions::default()
    };
    let doc = roxmltree::Document::parse_with_options(xml, opts).map_err(|e| e.to_string())?;
    let mut out = BTreeMap::new();
    let devices = doc.descendants().filter(|n| n.has_tag_name("devices"));
    for el in devices.flat_map(|d| d.children().filter(roxmltree::Node::is_element)) {
        let tag = el.tag_name().name();
        if !TAGS.contains(&tag) {
            continue;
        }
        let has_model = el.attribute("model").is_some()
            || el
                .children()
                .any(|c| c.is_element() && c.tag_name().name() == "model");
        if has_model {
            *out.entry(tag.to_string()).or_insert(0usize) += 1;
        }
    }
    Ok(out)
}

/// The seed rule on every architecture: pciplan writes no default model
/// into a device the input has (libvirt's own output does, for example
/// `<model type='virtio'/>` on interfaces; that is not new information).
#[test]
fn no_default_model_is_written_on_any_arch() -> Result<(), String> {
    let cases = manifest()?;
    let host = HostPci::from_tsv(&read(&corpus_dir().join("env/virpcimock-devices.tsv"))?)
        .map_err(|e| format!("virpcimock-devices.tsv: {e}"))?;
    let mut cache = CapsCache::new();
    let mut checked: BTreeMap<String, usize> = BTreeMap::new();
    let mut bad = Vec::new();
    for case in cases.iter().filter(|c| c.kind == "ok") {
        let dir = corpus_dir().join("cases").join(&case.dir);
        let meta: toml::Table = read(&dir.join("meta.toml"))?
            .parse()
            .map_err(|e| format!("meta.toml: {e}"))?;
        let caps = capabilities(&meta, &mut cache)?;
        let input = read(&dir.join("input.xml"))?;
        let Ok(out) = assign(&input, &caps, &host, new_definition(&meta), V9_0) else {
            continue;
        };
        if models_by_tag(&out)? != models_by_tag(&input)? {
            bad.push(case.dir.clone());
        }
        *checked.entry(case.arch.clone()).or_insert(0) += 1;
    }
    println!("seed rule checked per arch: {checked:?}");
    if bad.is_empty() {
        Ok(())
    } else {
        Err(format!("models added to devices in: {}", bad.join(", ")))
    }
}
