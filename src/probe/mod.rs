//! QEMU capabilities probed from the QEMU binary itself (feature `probe`).
//!
//! [`probe`] starts a `qemu-system-<arch>` binary the way libvirt 9.0 does
//! for its capability probe (`-S -no-user-config -nodefaults -nographic
//! -machine none`, QMP on standard input/output, `-accel tcg -accel kvm`:
//! TCG, so no `/dev/kvm` is needed, and KVM for KVM-only builds), asks it over QMP what libvirt asks for the capabilities pciplan
//! uses — `qom-list-types` (device types), `query-machines` (machine types and
//! aliases), `device-list-properties` where a capability is a property
//! (`pcie-root-port.hotplug`, `piix4.acpi-root-pci-hotplug`) — and returns
//! them as a [`Probed`], whose [`Probed::to_xml`] is the capabilities format
//! `--caps` and [`crate::libvirt::parse_caps_xml`] read.
//!
//! The probe is bounded in time ([`ProbeOptions::timeout`]): a QEMU that
//! does not answer gives [`ProbeError::Timeout`], and the child is killed
//! and reaped on every path.
//!
//! [`cached`] keeps one file per binary in a cache directory
//! ([`default_cache_dir`]: `$XDG_CACHE_HOME/pciplan/qemu-caps`, else
//! `~/.cache/pciplan/qemu-caps`), valid while the binary's path, size and
//! modification time and pciplan's version are unchanged.
//!
//! This is the only part of the crate that starts processes; it is behind
//! the `probe` feature (on with `cli`), and the planner never calls it.

mod qmp;
mod table;

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, UNIX_EPOCH};

use serde_json::{Value, json};

use crate::caps::{Capabilities, MachineType};

/// Why a probe failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProbeError {
    /// The binary could not be started.
    #[error("cannot start {binary}: {message}")]
    Spawn {
        /// The binary.
        binary: String,
        /// The operating system's reason.
        message: String,
    },
    /// QEMU did not answer in time.
    #[error("{binary} did not answer QMP within {seconds} s (killed)")]
    Timeout {
        /// The binary.
        binary: String,
        /// The time limit.
        seconds: u64,
    },
    /// QEMU exited or closed QMP before the probe was done.
    #[error("{binary} exited during the probe: {message}")]
    Exited {
        /// The binary.
        binary: String,
        /// What happened, with QEMU's standard error.
        message: String,
    },
    /// QEMU said something that is not QMP.
    #[error("{binary}: QMP protocol error: {message}")]
    Protocol {
        /// The binary.
        binary: String,
        /// What was wrong.
        message: String,
    },
    /// A QMP command failed.
    #[error("{binary}: QMP command {command} failed: {message}")]
    Command {
        /// The binary.
        binary: String,
        /// The command.
        command: String,
        /// QEMU's description.
        message: String,
    },
    /// The cache could not be read or written.
    #[error("capabilities cache {path}: {message}")]
    Cache {
        /// The cache file or directory.
        path: String,
        /// The operating system's reason.
        message: String,
    },
}

/// How to probe.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProbeOptions {
    /// The whole probe's time limit, start-up included. Default: 30 s
    /// (QEMU 7.2 answers in about 0.2 s).
    pub timeout: Duration,
}

impl Default for ProbeOptions {
    fn default() -> ProbeOptions {
        ProbeOptions {
            timeout: Duration::from_secs(30),
        }
    }
}

/// What a probe learnt about one QEMU binary.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Probed {
    /// The binary as given.
    pub emulator: String,
    /// libvirt's name of the guest architecture (`x86_64`, `aarch64`,
    /// `ppc64`, `s390x`, …).
    pub arch: String,
    /// QEMU's version as libvirt writes it (major × 1,000,000 + minor ×
    /// 1,000 + micro: 7.2.22 is 7002022).
    pub version: u64,
    /// QEMU's package string (`Debian 1:7.2+dfsg-7+deb12u18+b3`).
    pub package: String,
    /// The capabilities and machine types.
    pub caps: Capabilities,
}

/// Probes the QEMU binary at `binary`.
///
/// # Errors
/// [`ProbeError::Spawn`] when it cannot be started, [`ProbeError::Timeout`]
/// past [`ProbeOptions::timeout`], [`ProbeError::Exited`],
/// [`ProbeError::Protocol`] or [`ProbeError::Command`] when QMP fails.
pub fn probe(binary: &Path, options: &ProbeOptions) -> Result<Probed, ProbeError> {
    let deadline = Instant::now()
        .checked_add(options.timeout)
        .unwrap_or_else(|| Instant::now() + Duration::from_secs(86_400));
    let (mut qmp, greeting) = qmp::Session::start(binary, deadline, options.timeout.as_secs())?;
    qmp.execute("qmp_capabilities", None)?;
    let target = qmp.execute("query-target", None)?;
    let types = qmp.execute("qom-list-types", None)?;
    let machines = qmp.execute("query-machines", None)?;
    let type_names: BTreeSet<&str> = types
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t.get("name").and_then(Value::as_str))
        .collect();
    let mut caps = Capabilities::empty();
    for (qom, flag) in table::OBJECT_TYPES {
        if type_names.contains(qom) {
            caps.insert(*flag);
        }
    }
    for (device, property, flag) in table::DEVICE_PROPS {
        if !type_names.contains(device) {
            continue;
        }
        let props = qmp.execute(
            "device-list-properties",
            Some(json!({ "typename": device })),
        )?;
        let has = props
            .as_array()
            .into_iter()
            .flatten()
            .any(|p| p.get("name").and_then(Value::as_str) == Some(property));
        if has {
            caps.insert(*flag);
        }
    }
    qmp.quit();

    let suffix = binary
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.strip_prefix("qemu-system-"));
    let arch = table::libvirt_arch(
        target
            .get("arch")
            .and_then(Value::as_str)
            .unwrap_or("unknown"),
        suffix,
    );
    for m in machine_types(&machines, &arch) {
        caps.add_machine(m);
    }
    let qemu = greeting.pointer("/QMP/version/qemu");
    let part = |k: &str| {
        qemu.and_then(|v| v.get(k))
            .and_then(Value::as_u64)
            .unwrap_or(0)
    };
    let version = part("major")
        .saturating_mul(1_000_000)
        .saturating_add(part("minor").saturating_mul(1000))
        .saturating_add(part("micro"));
    let package = greeting
        .pointer("/QMP/version/package")
        .and_then(Value::as_str)
        .unwrap_or("")
        .trim()
        .to_string();
    Ok(Probed {
        emulator: binary.display().to_string(),
        arch,
        version,
        package,
        caps,
    })
}

/// Every capability name a probe can set (the flags it writes come from
/// this set; libvirt's own probe writes many more, about QMP commands,
/// events and schema, which decide nothing pciplan computes).
///
/// ```
/// assert!(pciplan::probe::probed_capabilities().any(|c| c == "pcie-root-port.hotplug"));
/// ```
pub fn probed_capabilities() -> impl Iterator<Item = &'static str> {
    let names: BTreeSet<&'static str> = table::OBJECT_TYPES
        .iter()
        .map(|(_, flag)| *flag)
        .chain(table::DEVICE_PROPS.iter().map(|(_, _, flag)| *flag))
        .collect();
    names.into_iter()
}

/// The machine types of a `query-machines` answer, as libvirt keeps them:
/// `none` dropped, QEMU's order and default (`default='yes'`) kept, and the
/// machine libvirt prefers for the architecture (or else QEMU's default)
/// moved first, as libvirt's `virQEMUCapsSetDefaultMachine` does.
fn machine_types(machines: &Value, arch: &str) -> Vec<MachineType> {
    let mut out: Vec<MachineType> = Vec::new();
    for m in machines.as_array().into_iter().flatten() {
        let Some(name) = m.get("name").and_then(Value::as_str) else {
            continue;
        };
        if name == "none" {
            continue;
        }
        out.push(MachineType {
            name: name.to_string(),
            alias: m.get("alias").and_then(Value::as_str).map(str::to_string),
            default: m.get("is-default").and_then(Value::as_bool) == Some(true),
        });
    }
    let preferred = table::preferred_machine(arch).and_then(|p| {
        out.iter()
            .position(|m| m.alias.as_deref() == Some(p) || m.name == p)
    });
    if let Some(i) = preferred.or_else(|| out.iter().position(|m| m.default))
        && i < out.len()
    {
        let m = out.remove(i);
        out.insert(0, m);
    }
    out
}

impl Probed {
    /// The capabilities in libvirt's capabilities XML format (the subset
    /// [`crate::libvirt::parse_caps_xml`] reads: emulator, version, package,
    /// architecture, flags, machines), with a `<pciplanProbe>` stamp.
    ///
    /// ```
    /// use pciplan::probe::Probed;
    /// let probed = Probed {
    ///     emulator: "/usr/bin/qemu-system-x86_64".into(),
    ///     arch: "x86_64".into(),
    ///     version: 7_002_022,
    ///     package: String::new(),
    ///     caps: pciplan::Capabilities::from_names(["pcie-root-port"]),
    /// };
    /// let caps = pciplan::libvirt::parse_caps_xml(&probed.to_xml())?;
    /// assert!(caps.has("pcie-root-port"));
    /// # Ok::<(), pciplan::Error>(())
    /// ```
    pub fn to_xml(&self) -> String {
        self.to_xml_stamped(None)
    }

    fn to_xml_stamped(&self, stamp: Option<&str>) -> String {
        let mut x = String::from("<qemuCaps>\n");
        let _ = writeln!(x, "  <emulator>{}</emulator>", escape(&self.emulator));
        let _ = writeln!(x, "  <version>{}</version>", self.version);
        let _ = writeln!(x, "  <package>{}</package>", escape(&self.package));
        let _ = writeln!(x, "  <arch>{}</arch>", escape(&self.arch));
        let _ = writeln!(
            x,
            "  <pciplanProbe version='{}'{}/>",
            env!("CARGO_PKG_VERSION"),
            stamp
                .map(|s| format!(" binary='{}'", escape(s)))
                .unwrap_or_default()
        );
        for flag in self.caps.names() {
            let _ = writeln!(x, "  <flag name='{}'/>", escape(flag));
        }
        for m in self.caps.machines() {
            let _ = write!(x, "  <machine type='tcg' name='{}'", escape(&m.name));
            if let Some(a) = &m.alias {
                let _ = write!(x, " alias='{}'", escape(a));
            }
            x.push_str(if m.default {
                " default='yes'/>\n"
            } else {
                "/>\n"
            });
        }
        x.push_str("</qemuCaps>\n");
        x
    }
}

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\'' => out.push_str("&apos;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
    out
}

/// The user's cache directory for probed capabilities:
/// `$XDG_CACHE_HOME/pciplan/qemu-caps`, or `$HOME/.cache/pciplan/qemu-caps`
/// (`None` when neither variable is set to an absolute path).
pub fn default_cache_dir() -> Option<PathBuf> {
    let absolute = |v: std::ffi::OsString| Some(PathBuf::from(v)).filter(|p| p.is_absolute());
    std::env::var_os("XDG_CACHE_HOME")
        .and_then(absolute)
        .or_else(|| {
            std::env::var_os("HOME")
                .and_then(absolute)
                .map(|h| h.join(".cache"))
        })
        .map(|d| d.join("pciplan").join("qemu-caps"))
}

/// The capabilities XML of `binary`, from `cache_dir` when a probe of the
/// same binary (path, size, modification time) by the same pciplan version
/// is there, else probed now and stored (written to a temporary file and
/// renamed, so concurrent runs never see half a file).
///
/// # Errors
/// As [`probe`]; [`ProbeError::Cache`] when the binary's metadata cannot be
/// read or the cache cannot be written.
pub fn cached(
    binary: &Path,
    cache_dir: &Path,
    options: &ProbeOptions,
) -> Result<String, ProbeError> {
    let stamp = binary_stamp(binary)?;
    let file = cache_dir.join(cache_file_name(binary));
    if let Ok(text) = std::fs::read_to_string(&file)
        && stamp_of(&text).as_deref() == Some(stamp.as_str())
    {
        return Ok(text);
    }
    let xml = probe(binary, options)?.to_xml_stamped(Some(&stamp));
    let cache_err = |path: &Path, e: std::io::Error| ProbeError::Cache {
        path: path.display().to_string(),
        message: e.to_string(),
    };
    std::fs::create_dir_all(cache_dir).map_err(|e| cache_err(cache_dir, e))?;
    let tmp = cache_dir.join(format!(
        ".{}.{}.tmp",
        cache_file_name(binary),
        std::process::id()
    ));
    std::fs::write(&tmp, &xml).map_err(|e| cache_err(&tmp, e))?;
    std::fs::rename(&tmp, &file).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        cache_err(&file, e)
    })?;
    Ok(xml)
}

/// `path|size|mtime` of the binary (symlinks followed).
fn binary_stamp(binary: &Path) -> Result<String, ProbeError> {
    let meta = std::fs::metadata(binary).map_err(|e| ProbeError::Cache {
        path: binary.display().to_string(),
        message: e.to_string(),
    })?;
    let mtime = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map(|d| format!("{}.{:09}", d.as_secs(), d.subsec_nanos()))
        .unwrap_or_default();
    let path = std::fs::canonicalize(binary).unwrap_or_else(|_| binary.to_path_buf());
    Ok(format!("{}|{}|{mtime}", path.display(), meta.len()))
}

/// The `binary` stamp of a cache file written by this pciplan version.
fn stamp_of(xml: &str) -> Option<String> {
    let doc = roxmltree::Document::parse(xml).ok()?;
    let node = doc.descendants().find(|n| n.has_tag_name("pciplanProbe"))?;
    if node.attribute("version") != Some(env!("CARGO_PKG_VERSION")) {
        return None;
    }
    node.attribute("binary").map(str::to_string)
}

/// One file per binary path: the path with `/` as `_` (`usr_bin_qemu-system-x86_64.xml`).
fn cache_file_name(binary: &Path) -> String {
    let path = std::fs::canonicalize(binary).unwrap_or_else(|_| binary.to_path_buf());
    let name: String = path
        .display()
        .to_string()
        .trim_start_matches('/')
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{name}.xml")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preferred_machine_moves_first() {
        let answer = json!([
            {"name": "pc-q35-7.2", "alias": "q35"},
            {"name": "pc-i440fx-7.2", "alias": "pc", "is-default": true},
            {"name": "none"}
        ]);
        let m = machine_types(&answer, "x86_64");
        assert_eq!(m.len(), 2);
        assert_eq!((m[0].name.as_str(), m[0].default), ("pc-i440fx-7.2", true));
    }

    #[test]
    fn preferred_machine_without_qemu_default_moves_first_unflagged() {
        let answer = json!([{"name": "virt-7.2", "alias": "virt"}, {"name": "integratorcp"}]);
        let m = machine_types(&answer, "aarch64");
        assert_eq!((m[0].name.as_str(), m[0].default), ("integratorcp", false));
    }

    #[test]
    fn xml_round_trips_through_parse_caps_xml() {
        let mut caps = Capabilities::from_names(["pcie-root-port", "pci-bridge"]);
        caps.add_machine(MachineType {
            name: "pc-q35-7.2".into(),
            alias: Some("q35".into()),
            default: true,
        });
        let p = Probed {
            emulator: "/usr/bin/qemu-system-x86_64".into(),
            arch: "x86_64".into(),
            version: 7_002_022,
            package: "Debian <1>".into(),
            caps: caps.clone(),
        };
        assert_eq!(crate::libvirt::parse_caps_xml(&p.to_xml()).unwrap(), caps);
    }

    #[test]
    fn cache_file_name_is_one_path_component() {
        let name = cache_file_name(Path::new("/nonexistent/qemu system"));
        assert_eq!(name, "nonexistent_qemu_system.xml");
    }
}
