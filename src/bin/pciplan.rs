//! `pciplan`: assign PCI addresses to a libvirt domain XML, libvirt-exact.
//!
//! A thin layer over the library: it parses arguments, reads files, calls
//! [`pciplan::libvirt`] and prints. Exit status: 0 on success, 1 when the
//! configuration is rejected (one `error: <message>` line on stderr), 2 for
//! usage and I/O errors.

use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};
use pciplan::libvirt::{domain_text, parse_caps_xml};
use pciplan::machine::HostPci;
use pciplan::qemu::{self, QemuError};
use pciplan::{Capabilities, LibvirtVersion, Plan, Topology};
use serde::Serialize;

#[path = "pciplan/live.rs"]
mod live;

/// PCI address assignment for libvirt domain XML, with libvirt 9.0's answers.
#[derive(Debug, Parser)]
#[command(name = "pciplan", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Assign PCI addresses and add the controllers libvirt would add.
    Assign {
        #[command(flatten)]
        input: InputArgs,
        #[command(flatten)]
        policy: PolicyArg,
        /// Write the result here instead of standard output (`-` = stdout).
        #[arg(short = 'o', long = "output", value_name = "OUT")]
        output: Option<PathBuf>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Xml)]
        format: Format,
    },
    /// Assign, then print the PCI controller tree with its devices.
    Tree {
        #[command(flatten)]
        input: InputArgs,
        #[command(flatten)]
        policy: PolicyArg,
        /// Output format: text, json (docs/json-schema.md) or dot (Graphviz).
        #[arg(long, value_enum, default_value_t = TreeFormat::Text)]
        format: TreeFormat,
    },
    /// Explain every address (or the selected devices'), or why the
    /// definition is refused (exit 1).
    Explain {
        #[command(flatten)]
        input: InputArgs,
        /// Only these devices: ELEMENT[N] (1-based), alias:NAME, mac:ADDR,
        /// target:DEV, host:ADDR, or a bare MAC, host address, alias or
        /// disk target. May be repeated.
        #[arg(long = "device", value_name = "SELECTOR")]
        device: Vec<pciplan::explain::Selector>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = TextFormat::Text)]
        format: TextFormat,
    },
    /// Compare the assignment of two definitions: devices moved, added,
    /// removed; controllers changed. Exit 0 when the guest ABI is
    /// unchanged, 1 when it changed, 2 on usage errors.
    Diff {
        /// A QEMU capabilities file for OLD (default: built-in).
        #[arg(long = "old-caps", value_name = "QEMU_CAPS.xml")]
        old_caps: Option<PathBuf>,
        /// A QEMU capabilities file for NEW (default: built-in).
        #[arg(long = "new-caps", value_name = "QEMU_CAPS.xml")]
        new_caps: Option<PathBuf>,
        /// Host PCI devices (as for assign), for both.
        #[arg(long = "host-pci", value_name = "FILE.tsv")]
        host_pci: Option<PathBuf>,
        /// libvirt version for OLD: `9.0` (default) or `11.3`.
        #[arg(long = "old-libvirt", value_name = "VERSION", default_value = "9.0", value_parser = parse_libvirt)]
        old_libvirt: LibvirtVersion,
        /// libvirt version for NEW: `9.0` (default) or `11.3`.
        #[arg(long = "new-libvirt", value_name = "VERSION", default_value = "9.0", value_parser = parse_libvirt)]
        new_libvirt: LibvirtVersion,
        /// The old domain XML.
        #[arg(value_name = "OLD.xml")]
        old: PathBuf,
        /// The new domain XML.
        #[arg(value_name = "NEW.xml")]
        new: PathBuf,
        /// Output format.
        #[arg(long, value_enum, default_value_t = TextFormat::Text)]
        format: TextFormat,
    },
    /// How many more devices of each class fit: hot-plugged now, and
    /// cold after a re-plan; and the budgets (bus numbers, free ports).
    Capacity {
        #[command(flatten)]
        input: InputArgs,
        #[command(flatten)]
        policy: PolicyArg,
        /// Skip the cold (re-plan) counts.
        #[arg(long = "hot-only")]
        hot_only: bool,
        /// Output format.
        #[arg(long, value_enum, default_value_t = TextFormat::Text)]
        format: TextFormat,
    },
    /// Assign, then print a QEMU command line for the result: `-machine`,
    /// null back ends and one `-device` per PCI controller and device.
    QemuArgs {
        #[command(flatten)]
        input: InputArgs,
        #[command(flatten)]
        policy: PolicyArg,
        /// Print one shell-quoted command line (starting with the
        /// `qemu-system-<arch>` binary) instead of one argument per line.
        #[arg(long)]
        shell: bool,
    },
    /// Attach device elements to a running guest as `virsh attach-device
    /// --live` does: print each element with the address libvirt gives it
    /// (exit 0), or libvirt's refusal, or QEMU's refusal of the
    /// `device_add` libvirt sends (one `error:` line, exit 1).
    Attach {
        /// The guest's live XML (`virsh dumpxml NAME`) and its inputs.
        #[command(flatten)]
        input: InputArgs,
        /// With a policy, an attach must land where a cold plan of the
        /// definition plus the device puts it (a spare port), so that
        /// `--live` and `--config` agree; otherwise it is refused.
        #[command(flatten)]
        policy: PolicyArg,
        /// The device element file(s): one, or several with --sequence.
        #[arg(value_name = "DEVICE.xml", required = true)]
        devices: Vec<PathBuf>,
        /// Apply several device files in order, each seeing the previous
        /// attaches; stop at the first refusal.
        #[arg(long)]
        sequence: bool,
        /// Output format: the elements (text) or one JSON record per step.
        #[arg(long, value_enum, default_value_t = TextFormat::Text)]
        format: TextFormat,
    },
    /// Detach a device from a running guest as `virsh detach-device --live`
    /// (or `detach-device-alias`) does: print the live XML without it
    /// (exit 0) or libvirt's refusal (one `error:` line, exit 1).
    Detach {
        /// The guest's live XML (`virsh dumpxml NAME`) and its inputs.
        #[command(flatten)]
        input: InputArgs,
        /// The device element naming the device.
        #[arg(
            value_name = "DEVICE.xml",
            required_unless_present = "alias",
            conflicts_with = "alias"
        )]
        device: Option<PathBuf>,
        /// Name the device by its `<alias name>` instead.
        #[arg(long, value_name = "NAME")]
        alias: Option<String>,
        /// Output format: the live XML without the device (text) or a JSON
        /// record.
        #[arg(long, value_enum, default_value_t = TextFormat::Text)]
        format: TextFormat,
    },
    /// The built-in QEMU capability sets used without `--caps` (`--list`,
    /// the default), or `probe`: the capabilities of a QEMU binary.
    Caps {
        #[command(subcommand)]
        action: Option<CapsAction>,
        /// List the built-in sets: name and the guest architectures each serves.
        #[arg(long)]
        list: bool,
    },
}

#[derive(Debug, Subcommand)]
enum CapsAction {
    /// Start a QEMU binary (`-machine none -S`, QMP on stdio), ask it what
    /// libvirt asks, and print its capabilities in the format `--caps` reads.
    Probe {
        /// The QEMU binary, e.g. /usr/bin/qemu-system-x86_64.
        #[arg(value_name = "QEMU_BINARY")]
        binary: PathBuf,
        /// Write the capabilities here instead of standard output.
        #[arg(short = 'o', long = "output", value_name = "FILE")]
        output: Option<PathBuf>,
        /// Give up (and kill QEMU) after this many seconds.
        #[arg(long, value_name = "SECONDS", default_value_t = 30)]
        timeout: u64,
    },
}

/// Arguments every command takes.
#[derive(Debug, Args)]
struct InputArgs {
    /// A QEMU capabilities file (libvirt's `caps_<ver>.<arch>.xml` format).
    /// Default: the built-in set for the domain's architecture
    /// (`pciplan caps --list`).
    #[arg(long, value_name = "QEMU_CAPS.xml", conflicts_with = "caps_from_qemu")]
    caps: Option<PathBuf>,
    /// Probe this QEMU binary for the capabilities (as `pciplan caps
    /// probe`), cached per binary path, size and mtime in
    /// `$XDG_CACHE_HOME/pciplan/qemu-caps` (default `~/.cache/...`).
    #[arg(long = "caps-from-qemu", value_name = "QEMU_BINARY")]
    caps_from_qemu: Option<PathBuf>,
    /// Host PCI devices, tab-separated with the columns `address` and
    /// `is_pcie` (and optionally `iommu_group`), for `<hostdev>` placement.
    #[arg(long = "host-pci", value_name = "FILE.tsv")]
    host_pci: Option<PathBuf>,
    /// Answer as this libvirt does: `9.0` (default) or `11.3`.
    #[arg(long = "libvirt", value_name = "VERSION", default_value = "9.0", value_parser = parse_libvirt)]
    libvirt: LibvirtVersion,
    /// The domain XML (`-` = standard input).
    #[arg(value_name = "DOMAIN.xml")]
    domain: PathBuf,
}

/// `--policy`: a placement policy beyond libvirt (docs/policy.md).
#[derive(Debug, Args, Default)]
struct PolicyArg {
    /// Plan under this policy file (TOML, docs/policy.md) instead of
    /// libvirt's algorithm alone; the output is still a plain libvirt
    /// definition, with every address and controller explicit.
    #[arg(long = "policy", value_name = "POLICY.toml")]
    policy: Option<PathBuf>,
}

impl PolicyArg {
    fn load(&self) -> Result<Option<pciplan::policy::Policy>, Failure> {
        let Some(path) = &self.policy else {
            return Ok(None);
        };
        pciplan::policy::Policy::from_toml(&read_side_file(path)?)
            .map(Some)
            .map_err(|e| Failure::Io(format!("{}: {e}", path.display())))
    }
}

/// Assigns under the policy, or with libvirt's algorithm alone.
fn assign_under(
    doc: &pciplan::libvirt::Document<'_>,
    plan: &mut Plan,
    policy: Option<&pciplan::policy::Policy>,
) -> Result<(), pciplan::Error> {
    match policy {
        None => plan.assign(),
        Some(p) => {
            let ids = pciplan::libvirt::identities(doc, plan);
            plan.assign_with(p, &ids)
        }
    }
}

fn parse_libvirt(s: &str) -> Result<LibvirtVersion, String> {
    s.parse()
        .map_err(|e: pciplan::version::UnknownVersion| e.to_string())
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Format {
    /// The domain XML with addresses filled in.
    Xml,
    /// One JSON record per device.
    Json,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum TreeFormat {
    /// Indented text, like `lspci -t`.
    Text,
    /// The tree export of docs/json-schema.md.
    Json,
    /// A Graphviz digraph (render with `dot -Tsvg`).
    Dot,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum TextFormat {
    /// Text for people.
    Text,
    /// JSON (docs/json-schema.md).
    Json,
}

/// One device of `explain --format json`.
#[derive(Debug, Serialize)]
struct ExplainRecord<'a> {
    #[serde(flatten)]
    explanation: &'a pciplan::explain::DeviceExplanation,
    identity: pciplan::diff::Identity,
}

/// A versioned JSON document.
#[derive(Debug, Serialize)]
struct Versioned<T: Serialize> {
    schema_version: u32,
    #[serde(flatten)]
    body: T,
}

/// Why the command failed.
enum Failure {
    /// The configuration was rejected (exit 1).
    Rejected(pciplan::Error),
    /// The plan has no QEMU command line (exit 1).
    NoQemu(QemuError),
    /// Reading or writing failed, or a capabilities or host file is
    /// malformed (exit 2).
    Io(String),
    /// Output is printed; exit with this status and no message.
    Status(u8),
}

impl From<pciplan::Error> for Failure {
    fn from(e: pciplan::Error) -> Failure {
        Failure::Rejected(e)
    }
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        // Prints help/version (exit 0) or the usage error (exit 2).
        Err(e) => e.exit(),
    };
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Rejected(e)) => {
            report(&e.to_string());
            ExitCode::from(1)
        }
        Err(Failure::NoQemu(e)) => {
            report(&e.to_string());
            ExitCode::from(1)
        }
        Err(Failure::Io(msg)) => {
            report(&msg);
            ExitCode::from(2)
        }
        Err(Failure::Status(code)) => ExitCode::from(code),
    }
}

/// Prints exactly one `error: ...` line.
fn report(msg: &str) {
    let one_line = msg.split_whitespace().collect::<Vec<_>>().join(" ");
    let _ = writeln!(io::stderr(), "error: {one_line}");
}

fn run(cli: Cli) -> Result<(), Failure> {
    match cli.command {
        Command::Assign {
            input,
            policy,
            output,
            format,
        } => {
            let policy = policy.load()?;
            let xml = read_text(&input.domain)?;
            let (doc, mut plan) = load(&input, &xml)?;
            // The process ends right after writing: the system takes the
            // memory back faster than freeing the tree, plan and output
            // piece by piece (about 0.4 ms on 7,679 devices), so they are
            // not freed.
            match format {
                Format::Xml => {
                    assign_under(&doc, &mut plan, policy.as_ref())?;
                    let text = domain_text(&doc, &plan)?;
                    let result = emit_with(output.as_deref(), |w| text.write_to(w));
                    std::mem::forget(text);
                    std::mem::forget((doc, plan));
                    result
                }
                Format::Json => {
                    let given = pciplan::export::Given::of(&plan);
                    assign_under(&doc, &mut plan, policy.as_ref())?;
                    let ids = pciplan::libvirt::identities(&doc, &plan);
                    let result = emit_with(output.as_deref(), |w| {
                        write_json_lines(w, |each| {
                            pciplan::export::try_for_each_record(&given, &plan, &ids, each)
                        })
                    });
                    std::mem::forget((doc, plan, given, ids));
                    result
                }
            }
        }
        Command::Tree {
            input,
            policy,
            format,
        } => {
            let (_, _, plan) = load_and_assign(&input, &policy, &read_text(&input.domain)?)?;
            let text = match format {
                TreeFormat::Text => Topology::from_plan(&plan)?.render_tree(&plan),
                TreeFormat::Json => to_json(&pciplan::export::tree(&plan))?,
                TreeFormat::Dot => pciplan::export::tree_dot(&plan),
            };
            emit(None, &text)
        }
        Command::Explain {
            input,
            device,
            format,
        } => explain(&input, &device, format),
        Command::Diff {
            old_caps,
            new_caps,
            host_pci,
            old_libvirt,
            new_libvirt,
            old,
            new,
            format,
        } => {
            let side = |caps: Option<PathBuf>, libvirt, domain: PathBuf| InputArgs {
                caps,
                caps_from_qemu: None,
                host_pci: host_pci.clone(),
                libvirt,
                domain,
            };
            let old_in = side(old_caps, old_libvirt, old);
            let new_in = side(new_caps, new_libvirt, new);
            let load = |i: &InputArgs, xml| {
                load_and_assign(i, &PolicyArg::default(), xml).map_err(|f| match f {
                    Failure::Rejected(e) => Failure::Io(format!("{}: {e}", i.domain.display())),
                    other => other,
                })
            };
            let (old_xml, new_xml) = (read_text(&old_in.domain)?, read_text(&new_in.domain)?);
            let (old_doc, _, old_plan) = load(&old_in, &old_xml)?;
            let (new_doc, _, new_plan) = load(&new_in, &new_xml)?;
            let d = pciplan::diff::diff(
                &old_plan,
                &pciplan::libvirt::identities(&old_doc, &old_plan),
                &new_plan,
                &pciplan::libvirt::identities(&new_doc, &new_plan),
            );
            let text = match format {
                TextFormat::Text => d.render(),
                TextFormat::Json => to_json(&Versioned {
                    schema_version: pciplan::export::SCHEMA_VERSION,
                    body: AbiDiff {
                        abi_unchanged: d.abi_unchanged(),
                        diff: &d,
                    },
                })?,
            };
            emit(None, &text)?;
            if d.abi_unchanged() {
                Ok(())
            } else {
                Err(Failure::Status(1))
            }
        }
        Command::Capacity {
            input,
            policy,
            hot_only,
            format,
        } => {
            let (_, before, plan) = load_and_assign(&input, &policy, &read_text(&input.domain)?)?;
            let c = pciplan::capacity::capacity(&plan, (!hot_only).then_some(&before));
            let text = match format {
                TextFormat::Text => c.render(),
                TextFormat::Json => to_json(&Versioned {
                    schema_version: pciplan::export::SCHEMA_VERSION,
                    body: &c,
                })?,
            };
            emit(None, &text)
        }
        Command::QemuArgs {
            input,
            policy,
            shell,
        } => {
            let (_, _, plan) = load_and_assign(&input, &policy, &read_text(&input.domain)?)?;
            let args = qemu::command_line(&plan).map_err(Failure::NoQemu)?;
            let text = if shell {
                let program = qemu::emulator(&plan).map_err(Failure::NoQemu)?;
                let mut words = vec![program.to_string()];
                words.extend(args.iter().map(|a| shell_quote(a)));
                words.join(" ") + "\n"
            } else {
                args.iter().map(|a| format!("{a}\n")).collect()
            };
            emit(None, &text)
        }
        Command::Attach {
            input,
            policy,
            devices,
            sequence,
            format,
        } => live::attach(&input, &policy, &devices, sequence, format),
        Command::Detach {
            input,
            device,
            alias,
            format,
        } => live::detach(&input, device.as_deref(), alias.as_deref(), format),
        Command::Caps {
            action:
                Some(CapsAction::Probe {
                    binary,
                    output,
                    timeout,
                }),
            list: _,
        } => {
            let options = pciplan::probe::ProbeOptions {
                timeout: std::time::Duration::from_secs(timeout),
            };
            let probed =
                pciplan::probe::probe(&binary, &options).map_err(|e| Failure::Io(e.to_string()))?;
            emit(output.as_deref(), &probed.to_xml())
        }
        Command::Caps {
            action: None,
            list: _,
        } => {
            let mut text = String::new();
            for (name, arches) in Capabilities::builtin_sets() {
                text.push_str(&format!("{name}\t{}\n", arches.join(",")));
            }
            emit(None, &text)
        }
    }
}

/// Quotes a word for a POSIX shell when it needs it.
fn shell_quote(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.,=:/+@%".contains(c));
    if plain {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', "'\\''"))
    }
}

/// Reads the inputs, parses the domain and assigns. Returns the document,
/// the plan before assignment and the plan after.
fn load_and_assign<'a>(
    input: &InputArgs,
    policy: &PolicyArg,
    xml: &'a str,
) -> Result<(pciplan::libvirt::Document<'a>, Plan, Plan), Failure> {
    let policy = policy.load()?;
    let (doc, mut plan) = load(input, xml)?;
    let before = plan.clone();
    assign_under(&doc, &mut plan, policy.as_ref())?;
    Ok((doc, before, plan))
}

/// Reads the capabilities and host files and parses the domain.
fn load<'a>(
    input: &InputArgs,
    xml: &'a str,
) -> Result<(pciplan::libvirt::Document<'a>, Plan), Failure> {
    let caps = match (&input.caps, &input.caps_from_qemu) {
        (Some(path), _) => Some(
            parse_caps_xml(&read_side_file(path)?)
                .map_err(|e| Failure::Io(format!("{}: {e}", path.display())))?,
        ),
        (None, Some(binary)) => Some(caps_from_qemu(binary)?),
        (None, None) => None,
    };
    let host = match &input.host_pci {
        Some(path) => HostPci::from_tsv(&read_side_file(path)?)
            .map_err(|e| Failure::Io(format!("{}: {e}", path.display())))?,
        None => HostPci::default(),
    };
    let inputs = pciplan::libvirt::Inputs {
        caps,
        host,
        libvirt: input.libvirt,
    };
    Ok(inputs.load(xml)?)
}

/// `--caps-from-qemu`: the binary's capabilities, from the user's cache
/// when it holds a probe of this binary, else probed (and cached).
fn caps_from_qemu(binary: &Path) -> Result<Capabilities, Failure> {
    let options = pciplan::probe::ProbeOptions::default();
    let xml = match pciplan::probe::default_cache_dir() {
        Some(dir) => pciplan::probe::cached(binary, &dir, &options),
        None => pciplan::probe::probe(binary, &options).map(|p| p.to_xml()),
    }
    .map_err(|e| Failure::Io(e.to_string()))?;
    parse_caps_xml(&xml).map_err(|e| Failure::Io(format!("{}: {e}", binary.display())))
}

/// The diff body of `diff --format json`.
#[derive(Debug, Serialize)]
struct AbiDiff<'a> {
    abi_unchanged: bool,
    #[serde(flatten)]
    diff: &'a pciplan::diff::PlanDiff,
}

/// `pciplan explain`: the explanation of every (selected) device, or the
/// refusal (exit 1).
fn explain(
    input: &InputArgs,
    selectors: &[pciplan::explain::Selector],
    format: TextFormat,
) -> Result<(), Failure> {
    let xml = read_text(&input.domain)?;
    let (doc, before, plan) = match load_and_assign(input, &PolicyArg::default(), &xml) {
        Ok(loaded) => loaded,
        Err(Failure::Rejected(e)) => {
            let (_, before) = load(input, &xml)?;
            let refusal = pciplan::explain::Refusal::new(e, &before);
            let text = match format {
                TextFormat::Text => refusal.to_string(),
                TextFormat::Json => to_json(&Versioned {
                    schema_version: pciplan::export::SCHEMA_VERSION,
                    body: Refused { refusal: &refusal },
                })?,
            };
            emit(None, &text)?;
            return Err(Failure::Status(1));
        }
        Err(other) => return Err(other),
    };
    let e = pciplan::explain::explain(&before).map_err(|r| Failure::Rejected(*r.error))?;
    let ids = pciplan::libvirt::identities(&doc, &plan);
    let empty = pciplan::diff::Identity::default();
    let id_of = |i: usize| ids.get(i).unwrap_or(&empty);
    let picked: Vec<usize> = e
        .devices
        .iter()
        .filter(|d| selectors.is_empty() || selectors.iter().any(|s| s.matches(d, id_of(d.index))))
        .map(|d| d.index)
        .collect();
    if picked.is_empty() {
        return Err(Failure::Io("no device matches the selector".to_string()));
    }
    let text = match format {
        TextFormat::Text => e.render(Some(&picked)),
        TextFormat::Json => {
            let devices: Vec<ExplainRecord<'_>> = e
                .devices
                .iter()
                .filter(|d| picked.contains(&d.index))
                .map(|d| ExplainRecord {
                    explanation: d,
                    identity: id_of(d.index).clone(),
                })
                .collect();
            to_json(&Versioned {
                schema_version: pciplan::export::SCHEMA_VERSION,
                body: Explained { devices },
            })?
        }
    };
    emit(None, &text)
}

#[derive(Debug, Serialize)]
struct Explained<'a> {
    devices: Vec<ExplainRecord<'a>>,
}

#[derive(Debug, Serialize)]
struct Refused<'a> {
    refusal: &'a pciplan::explain::Refusal,
}

/// Records as a JSON array with one compact record per line: large plans
/// stay small and line-oriented tools can read them.
fn records_json<T: Serialize>(records: &[T]) -> Result<String, Failure> {
    let mut out: Vec<u8> = Vec::with_capacity(records.len().saturating_mul(400).saturating_add(4));
    out.push(b'[');
    for (i, r) in records.iter().enumerate() {
        out.extend_from_slice(if i == 0 { b"\n" } else { b",\n" });
        serde_json::to_writer(&mut out, r)
            .map_err(|e| Failure::Io(format!("cannot format JSON: {e}")))?;
    }
    out.extend_from_slice(b"\n]\n");
    String::from_utf8(out).map_err(|e| Failure::Io(format!("cannot format JSON: {e}")))
}

/// Writes the export records as a JSON array, one compact record per line
/// (each by [`pciplan::export::DeviceRecord::write_json`]), in pieces of
/// about 64 KiB: neither the records nor the whole text are held at once.
/// `records` hands each record to the function it is given, in order.
fn write_json_lines(
    w: &mut dyn Write,
    records: impl FnOnce(
        &mut dyn FnMut(pciplan::export::DeviceRecord) -> io::Result<()>,
    ) -> io::Result<()>,
) -> io::Result<()> {
    const PIECE: usize = 64 * 1024;
    let mut out = String::with_capacity(PIECE + 4096);
    out.push('[');
    let mut first = true;
    records(&mut |r| {
        out.push_str(if first { "\n" } else { ",\n" });
        first = false;
        r.write_json(&mut out);
        if out.len() >= PIECE {
            w.write_all(out.as_bytes())?;
            out.clear();
        }
        Ok(())
    })?;
    out.push_str("\n]\n");
    w.write_all(out.as_bytes())
}

fn to_json<T: Serialize>(value: &T) -> Result<String, Failure> {
    let mut text = serde_json::to_string_pretty(value)
        .map_err(|e| Failure::Io(format!("cannot format JSON: {e}")))?;
    text.push('\n');
    Ok(text)
}

/// Reads a domain (`-` = standard input) with the library's size limit,
/// enforced while reading: a larger or endless input is refused after
/// [`pciplan::libvirt::MAX_INPUT_BYTES`] + 1 bytes, never read whole first.
fn read_text(path: &Path) -> Result<String, Failure> {
    read_bounded(path).map_err(|e| match e {
        ReadError::TooLarge => Failure::Rejected(size_limit()),
        ReadError::Io(msg) => Failure::Io(msg),
    })
}

/// [`read_text`] for a capabilities or host file: over the limit is an
/// I/O-class failure naming the file (exit 2).
fn read_side_file(path: &Path) -> Result<String, Failure> {
    read_bounded(path).map_err(|e| match e {
        ReadError::TooLarge => Failure::Io(format!("{}: {}", path.display(), size_limit())),
        ReadError::Io(msg) => Failure::Io(msg),
    })
}

fn size_limit() -> pciplan::Error {
    pciplan::ConfigError::Limit {
        what: "input size in bytes",
        limit: pciplan::libvirt::MAX_INPUT_BYTES,
    }
    .into()
}

enum ReadError {
    TooLarge,
    Io(String),
}

/// Reads at most the limit + 1 bytes of `path` (or standard input).
fn read_bounded(path: &Path) -> Result<String, ReadError> {
    let io_error = |e: io::Error| ReadError::Io(format!("cannot read {}: {e}", path.display()));
    let reader: Box<dyn Read> = if path == Path::new("-") {
        Box::new(io::stdin().lock())
    } else {
        Box::new(fs::File::open(path).map_err(io_error)?)
    };
    let limit = pciplan::libvirt::MAX_INPUT_BYTES;
    let mut bytes = Vec::new();
    reader
        .take(u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(io_error)?;
    if bytes.len() > limit {
        return Err(ReadError::TooLarge);
    }
    String::from_utf8(bytes).map_err(|_| {
        io_error(io::Error::new(
            io::ErrorKind::InvalidData,
            "stream did not contain valid UTF-8",
        ))
    })
}

fn emit(output: Option<&Path>, text: &str) -> Result<(), Failure> {
    emit_with(output, |w| w.write_all(text.as_bytes()))
}

/// [`emit`] for output written in pieces by `write` (into a file or
/// standard output, unbuffered: `write` hands over large pieces).
fn emit_with(
    output: Option<&Path>,
    write: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> Result<(), Failure> {
    match output {
        Some(path) if path != Path::new("-") => fs::File::create(path)
            .and_then(|mut f| write(&mut f))
            .map_err(|e| Failure::Io(format!("cannot write {}: {e}", path.display()))),
        _ => {
            // Any write failure but a closed pipe is an error (exit 2). A
            // standard output closed before start cannot be seen: Rust's
            // runtime reopens it on /dev/null before `main` (README).
            let fail = |e: io::Error| Failure::Io(format!("cannot write standard output: {e}"));
            let mut out = io::stdout().lock();
            match write(&mut out).and_then(|()| out.flush()) {
                Ok(()) => Ok(()),
                // A reader that stopped reading (`pciplan ... | head`) is not
                // an error: exit 0 with no message (README, "Exit status").
                Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
                Err(e) => Err(fail(e)),
            }
        }
    }
}
