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
use pciplan::libvirt::{parse_caps_xml, parse_domain, parse_domain_builtin, write_domain};
use pciplan::machine::HostPci;
use pciplan::qemu::{self, QemuError};
use pciplan::{Capabilities, LibvirtVersion, Plan, Topology};
use serde::Serialize;

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
    },
    /// Assign, then print a QEMU command line for the result: `-machine`,
    /// null back ends and one `-device` per PCI controller and device.
    QemuArgs {
        #[command(flatten)]
        input: InputArgs,
        /// Print one shell-quoted command line (starting with the
        /// `qemu-system-<arch>` binary) instead of one argument per line.
        #[arg(long)]
        shell: bool,
    },
    /// The built-in QEMU capability sets used without `--caps`.
    Caps {
        /// List them: name and the guest architectures each serves.
        #[arg(long)]
        list: bool,
    },
}

/// Arguments every command takes.
#[derive(Debug, Args)]
struct InputArgs {
    /// A QEMU capabilities file (libvirt's `caps_<ver>.<arch>.xml` format).
    /// Default: the built-in set for the domain's architecture
    /// (`pciplan caps --list`).
    #[arg(long, value_name = "QEMU_CAPS.xml")]
    caps: Option<PathBuf>,
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

/// One device in `--format json` output.
#[derive(Debug, Serialize)]
struct Record {
    /// The device's XML element name (`disk`, `controller`, ...).
    element: &'static str,
    /// Position among devices with the same element name.
    ordinal: usize,
    /// The PCI address in libvirt's text form, or null.
    address: Option<String>,
    /// The connect flags the device needs, in hex.
    connect_flags: String,
    /// `given` (address was in the input), `assigned` or `added` (the device
    /// itself was added).
    origin: &'static str,
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
            output,
            format,
        } => {
            let xml = read_text(&input.domain)?;
            let (doc, mut plan) = load(&input, &xml)?;
            let text = match format {
                Format::Xml => {
                    plan.assign()?;
                    write_domain(&doc, &plan)?
                }
                Format::Json => {
                    let before = plan.clone();
                    plan.assign()?;
                    json(&before, &plan)?
                }
            };
            emit(output.as_deref(), &text)
        }
        Command::Tree { input } => {
            let (_, _, plan) = load_and_assign(&input, &read_text(&input.domain)?)?;
            let topology = Topology::from_plan(&plan)?;
            emit(None, &topology.render_tree(&plan))
        }
        Command::QemuArgs { input, shell } => {
            let (_, _, plan) = load_and_assign(&input, &read_text(&input.domain)?)?;
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
        Command::Caps { list: _ } => {
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
    xml: &'a str,
) -> Result<(pciplan::libvirt::Document<'a>, Plan, Plan), Failure> {
    let (doc, mut plan) = load(input, xml)?;
    let before = plan.clone();
    plan.assign()?;
    Ok((doc, before, plan))
}

/// Reads the capabilities and host files and parses the domain.
fn load<'a>(
    input: &InputArgs,
    xml: &'a str,
) -> Result<(pciplan::libvirt::Document<'a>, Plan), Failure> {
    let caps = match &input.caps {
        Some(path) => Some(
            parse_caps_xml(&read_text(path)?)
                .map_err(|e| Failure::Io(format!("{}: {e}", path.display())))?,
        ),
        None => None,
    };
    let host = match &input.host_pci {
        Some(path) => HostPci::from_tsv(&read_text(path)?)
            .map_err(|e| Failure::Io(format!("{}: {e}", path.display())))?,
        None => HostPci::default(),
    };
    let (doc, mut plan) = match &caps {
        Some(caps) => parse_domain(xml, caps, &host)?,
        None => parse_domain_builtin(xml, &host, input.libvirt)?,
    };
    plan.set_libvirt(input.libvirt);
    Ok((doc, plan))
}

fn json(before: &Plan, after: &Plan) -> Result<String, Failure> {
    // PCI addresses the input gave, by front-end origin token.
    let given: Vec<(usize, pciplan::PciAddress)> = before
        .devices()
        .iter()
        .filter_map(|d| Some((d.origin?, d.address.present()?)))
        .collect();
    let mut seen: std::collections::HashMap<&'static str, usize> = Default::default();
    let mut records = Vec::with_capacity(after.devices().len());
    for (i, d) in after.devices().iter().enumerate() {
        let element = d.kind.element();
        let n = seen.entry(element).or_insert(0);
        let ordinal = *n;
        *n = ordinal.saturating_add(1);
        let address = d.address.present();
        let origin = match d.origin {
            None => "added",
            Some(o) if address.is_some_and(|a| given.contains(&(o, a))) => "given",
            Some(_) => "assigned",
        };
        records.push(Record {
            element,
            ordinal,
            address: address.map(|a| a.to_string()),
            connect_flags: format!("{:#x}", after.connect_flags_of(i).bits()),
            origin,
        });
    }
    let mut text = serde_json::to_string_pretty(&records)
        .map_err(|e| Failure::Io(format!("cannot format JSON: {e}")))?;
    text.push('\n');
    Ok(text)
}

fn read_text(path: &Path) -> Result<String, Failure> {
    let mut text = String::new();
    let result = if path == Path::new("-") {
        io::stdin().read_to_string(&mut text).map(|_| ())
    } else {
        fs::read_to_string(path).map(|t| text = t)
    };
    result.map_err(|e| Failure::Io(format!("cannot read {}: {e}", path.display())))?;
    Ok(text)
}

fn emit(output: Option<&Path>, text: &str) -> Result<(), Failure> {
    match output {
        Some(path) if path != Path::new("-") => fs::write(path, text)
            .map_err(|e| Failure::Io(format!("cannot write {}: {e}", path.display()))),
        _ => {
            let mut out = io::stdout().lock();
            match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
                Ok(()) => Ok(()),
                // A closed pipe (`pciplan ... | head`) is not an error.
                Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
                Err(e) => Err(Failure::Io(format!("cannot write standard output: {e}"))),
            }
        }
    }
}
