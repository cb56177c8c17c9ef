//! `pciplan caps probe` against libvirt's own probe of the same binaries.
//!
//! `tests/data/probed/` holds pciplan's probe of Debian bookworm's QEMU 7.2
//! binaries (`pciplan caps probe /usr/bin/qemu-system-<arch>`), and
//! `tests/data/oracle/caps-qemu-7.2*.xml` libvirt 9.0's probe of the same
//! binaries on the same host. The tests here need no QEMU: they compare the
//! two files of each architecture and the plans they give on every input of
//! the conformance corpus. (`tests/oracle.rs` replays the oracle corpus with
//! the probed files.) One test re-probes the installed binaries when they
//! exist and prints a skip line otherwise.

use std::collections::BTreeSet;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use pciplan::Capabilities;
use pciplan::LibvirtVersion::V9_0;
use pciplan::libvirt::{parse_caps_xml, parse_domain, write_domain};
use pciplan::machine::HostPci;
use pciplan::probe::{ProbeError, ProbeOptions, probe, probed_capabilities};

/// Architecture and file name of each probed binary.
const PROBED: [(&str, &str); 9] = [
    ("x86_64", "caps-qemu-7.2.xml"),
    ("aarch64", "caps-qemu-7.2-aarch64.xml"),
    ("armv7l", "caps-qemu-7.2-armv7l.xml"),
    ("ppc64", "caps-qemu-7.2-ppc64.xml"),
    ("s390x", "caps-qemu-7.2-s390x.xml"),
    ("riscv64", "caps-qemu-7.2-riscv64.xml"),
    ("ppc", "caps-qemu-7.2-ppc.xml"),
    ("alpha", "caps-qemu-7.2-alpha.xml"),
    ("sh4", "caps-qemu-7.2-sh4.xml"),
];

fn read(path: &Path) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))
}

/// Parses, assigns (as a new definition, libvirt 9.0) and writes a domain.
fn assign(xml: &str, caps: &Capabilities) -> Result<String, String> {
    let (doc, mut plan) =
        parse_domain(xml, caps, &HostPci::default()).map_err(|e| e.to_string())?;
    plan.set_new_definition(true);
    plan.set_libvirt(V9_0);
    plan.assign().map_err(|e| e.to_string())?;
    write_domain(&doc, &plan).map_err(|e| e.to_string())
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn caps_file(dir: &str, file: &str) -> Result<Capabilities, String> {
    let path = root().join(dir).join(file);
    parse_caps_xml(&read(&path)?).map_err(|e| format!("{}: {e}", path.display()))
}

/// libvirt's capabilities restricted to the names a probe can set.
fn probe_view(caps: &Capabilities) -> BTreeSet<String> {
    let known: BTreeSet<&str> = probed_capabilities().collect();
    caps.names()
        .filter(|n| known.contains(n))
        .map(str::to_string)
        .collect()
}

#[test]
fn probed_flags_and_machines_equal_libvirts_probe_of_the_same_binary() -> Result<(), String> {
    for (arch, file) in PROBED {
        let ours = caps_file("tests/data/probed", file)?;
        let libvirt = caps_file("tests/data/oracle", file)?;
        assert_eq!(
            ours.names().map(str::to_string).collect::<BTreeSet<_>>(),
            probe_view(&libvirt),
            "{arch}: flags"
        );
        assert_eq!(ours.machines(), libvirt.machines(), "{arch}: machines");
        assert_eq!(
            ours.default_machine(),
            libvirt.default_machine(),
            "{arch}: default"
        );
    }
    Ok(())
}

/// The libvirt file serving a conformance case's architecture.
fn file_for(arch: &str) -> Option<&'static str> {
    let arch = if arch == "i686" { "x86_64" } else { arch };
    PROBED.iter().find(|(a, _)| *a == arch).map(|(_, f)| *f)
}

#[test]
fn probed_caps_give_libvirts_plans_on_every_conformance_input() -> Result<(), String> {
    let corpus = root().join("tests/data/libvirt-9.0");
    let manifest = read(&corpus.join("MANIFEST.tsv"))?;
    let (mut same, mut skipped, mut differ) = (0usize, 0usize, Vec::new());
    for line in manifest.lines().skip(1).filter(|l| !l.trim().is_empty()) {
        let cells: Vec<&str> = line.split('\t').collect();
        let (Some(dir), Some(arch)) = (cells.first(), cells.get(2)) else {
            return Err(format!("short MANIFEST.tsv row: {line}"));
        };
        let Some(file) = file_for(arch) else {
            skipped += 1;
            continue;
        };
        let (ours, libvirt) = (
            caps_file("tests/data/probed", file)?,
            caps_file("tests/data/oracle", file)?,
        );
        let input = read(&corpus.join("cases").join(dir).join("input.xml"))?;
        let (a, b) = (assign(&input, &libvirt), assign(&input, &ours));
        if a == b {
            same += 1;
        } else {
            differ.push(dir.to_string());
        }
    }
    println!(
        "conformance inputs, QEMU 7.2 probed by pciplan vs by libvirt: {same} same plans, {} different, {skipped} skipped (no QEMU 7.2 file for the arch)",
        differ.len()
    );
    assert!(differ.is_empty(), "plans differ: {differ:?}");
    Ok(())
}

#[test]
fn reprobing_installed_qemu_gives_the_stored_files() -> Result<(), String> {
    for (arch, file) in PROBED {
        let bin_arch = if arch == "armv7l" { "arm" } else { arch };
        let binary = PathBuf::from(format!("/usr/bin/qemu-system-{bin_arch}"));
        if !binary.exists() {
            println!("skip: {} not installed", binary.display());
            continue;
        }
        let probed = probe(&binary, &ProbeOptions::default()).map_err(|e| e.to_string())?;
        let stored = caps_file("tests/data/probed", file)?;
        if probed.version != 7_002_022 {
            println!(
                "skip: {} is QEMU {}, the stored files are 7.2.22",
                binary.display(),
                probed.version
            );
            continue;
        }
        assert_eq!(probed.caps, stored, "{arch}");
        assert_eq!(probed.arch, arch);
    }
    Ok(())
}

/// A fake QEMU: a shell script with this body.
fn fake_qemu(name: &str, body: &str) -> Result<PathBuf, String> {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("probe-fakes");
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let path = dir.join(name);
    let mut f = std::fs::File::create(&path).map_err(|e| e.to_string())?;
    writeln!(f, "#!/bin/sh\n{body}").map_err(|e| e.to_string())?;
    drop(f);
    let status = std::process::Command::new("chmod")
        .arg("+x")
        .arg(&path)
        .status()
        .map_err(|e| e.to_string())?;
    assert!(status.success());
    Ok(path)
}

#[test]
fn a_hung_qemu_times_out_with_a_clear_error() -> Result<(), String> {
    let binary = fake_qemu("qemu-system-hung", "exec sleep 600")?;
    let start = Instant::now();
    let r = probe(
        &binary,
        &ProbeOptions {
            timeout: Duration::from_secs(1),
        },
    );
    assert_eq!(
        r,
        Err(ProbeError::Timeout {
            binary: binary.display().to_string(),
            seconds: 1
        })
    );
    assert!(start.elapsed() < Duration::from_secs(10));
    Ok(())
}

#[test]
fn a_qemu_that_exits_reports_its_standard_error() -> Result<(), String> {
    let binary = fake_qemu(
        "qemu-system-broken",
        "echo 'qemu: no such machine' >&2; exit 1",
    )?;
    let r = probe(&binary, &ProbeOptions::default());
    let Err(ProbeError::Exited { message, .. }) = r else {
        return Err(format!("expected Exited, got {r:?}"));
    };
    assert!(message.contains("qemu: no such machine"), "{message}");
    Ok(())
}

#[test]
fn a_binary_that_speaks_no_qmp_is_a_protocol_error() -> Result<(), String> {
    let binary = fake_qemu("qemu-system-chatty", "echo hello; sleep 600")?;
    let r = probe(&binary, &ProbeOptions::default());
    assert!(matches!(r, Err(ProbeError::Protocol { .. })), "{r:?}");
    Ok(())
}

#[test]
fn a_missing_binary_cannot_be_started() {
    let r = probe(
        Path::new("/nonexistent/qemu-system-x86_64"),
        &ProbeOptions::default(),
    );
    assert!(matches!(r, Err(ProbeError::Spawn { .. })), "{r:?}");
}

#[test]
fn caps_from_qemu_is_cached_per_binary() -> Result<(), String> {
    let binary = Path::new("/usr/bin/qemu-system-x86_64");
    if !binary.exists() {
        println!("skip: {} not installed", binary.display());
        return Ok(());
    }
    let cache = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("probe-cache");
    let _ = std::fs::remove_dir_all(&cache);
    let run = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_pciplan"))
            .args(["assign", "--caps-from-qemu"])
            .arg(binary)
            .arg(root().join("examples/q35-virtio.xml"))
            .env("XDG_CACHE_HOME", &cache)
            .output()
            .map_err(|e| e.to_string())
    };
    let first = run()?;
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let file = cache.join("pciplan/qemu-caps/usr_bin_qemu-system-x86_64.xml");
    let stored = read(&file)?;
    let second = run()?;
    assert_eq!(first.stdout, second.stdout);
    assert_eq!(read(&file)?, stored, "the second run reads the cache");
    let with_file = std::process::Command::new(env!("CARGO_BIN_EXE_pciplan"))
        .args(["assign", "--caps"])
        .arg(root().join("tests/data/probed/caps-qemu-7.2.xml"))
        .arg(root().join("examples/q35-virtio.xml"))
        .output()
        .map_err(|e| e.to_string())?;
    assert_eq!(first.stdout, with_file.stdout);
    Ok(())
}

#[test]
fn caps_probe_of_a_hung_qemu_exits_2_with_one_error_line() -> Result<(), String> {
    let binary = fake_qemu("qemu-system-hung-cli", "exec sleep 600")?;
    let start = Instant::now();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_pciplan"))
        .args(["caps", "probe", "--timeout", "1"])
        .arg(&binary)
        .output()
        .map_err(|e| e.to_string())?;
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!(
            "error: {} did not answer QMP within 1 s (killed)\n",
            binary.display()
        )
    );
    assert!(start.elapsed() < Duration::from_secs(10));
    Ok(())
}

#[test]
fn caps_probe_writes_the_file_caps_reads() -> Result<(), String> {
    let binary = Path::new("/usr/bin/qemu-system-x86_64");
    if !binary.exists() {
        println!("skip: {} not installed", binary.display());
        return Ok(());
    }
    let file = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("probed-x86_64.xml");
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_pciplan"))
        .args(["caps", "probe", "-o"])
        .arg(&file)
        .arg(binary)
        .status()
        .map_err(|e| e.to_string())?;
    assert!(status.success());
    let caps = parse_caps_xml(&read(&file)?).map_err(|e| e.to_string())?;
    assert!(caps.has("pcie-root-port"));
    assert_eq!(caps.default_machine(), Some("pc"));
    Ok(())
}
