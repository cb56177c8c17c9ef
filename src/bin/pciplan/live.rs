//! `pciplan attach` and `pciplan detach`: live hot-plug on a running guest
//! (its `virsh dumpxml`), as `virsh attach-device --live` and
//! `virsh detach-device --live` / `detach-device-alias` answer.

use std::path::{Path, PathBuf};

use pciplan::libvirt::{Attached, DetachTarget, LiveDomain, libvirt_message, parse_device};
use serde::Serialize;

use super::{
    Failure, InputArgs, PolicyArg, TextFormat, emit, load, read_text, records_json, report, to_json,
};

/// One step of `attach --format json` (docs/json-schema.md, "attach").
#[derive(Debug, Serialize)]
struct AttachRecord {
    schema_version: u32,
    step: usize,
    file: String,
    element: String,
    /// `attached`, `refused` (by libvirt) or `qemu_refused`.
    outcome: &'static str,
    /// The PCI address libvirt chose (also when QEMU refuses it).
    address: Option<String>,
    /// A SCSI controller's index.
    index: Option<u32>,
    /// The `<alias name>` libvirt gives the device.
    alias: Option<String>,
    /// What QEMU answers the `device_add`: `null` when it accepts it.
    qemu_refusal: Option<QemuRefusalRecord>,
    /// The message the libvirt user sees when the attach fails.
    error: Option<String>,
    /// The element with what libvirt added (attached steps only).
    xml: Option<String>,
}

/// QEMU's refusal in a JSON record.
#[derive(Debug, Serialize)]
struct QemuRefusalRecord {
    /// QEMU's own message.
    qemu_message: String,
    /// The address libvirt tried.
    address: String,
}

/// `detach --format json`.
#[derive(Debug, Serialize)]
struct DetachRecord {
    schema_version: u32,
    /// `detached`, `refused` (by libvirt) or `qemu_refused` (libvirt sent
    /// `device_del`, QEMU refuses it; the guest is unchanged).
    outcome: &'static str,
    element: Option<String>,
    address: Option<String>,
    alias: Option<String>,
    /// What QEMU answers the `device_del`: `null` when it accepts it.
    qemu_refusal: Option<QemuRefusalRecord>,
    error: Option<String>,
}

/// `pciplan attach LIVE.xml DEVICE.xml [--sequence DEVICE.xml...]`.
pub(super) fn attach(
    input: &InputArgs,
    policy: &PolicyArg,
    devices: &[PathBuf],
    sequence: bool,
    format: TextFormat,
) -> Result<(), Failure> {
    if devices.len() > 1 && !sequence {
        return Err(Failure::Io(
            "several device files need --sequence (applied in order)".into(),
        ));
    }
    let policy = policy.load()?;
    let xml = read_text(&input.domain)?;
    let (doc, plan) = load(input, &xml)?;
    let mut live = LiveDomain::from_parsed(doc, plan)?;
    let mut text = String::new();
    let mut records = Vec::new();
    let mut failed = None;
    for (k, path) in devices.iter().enumerate() {
        let dev_text = read_text(path)?;
        let record = |outcome, a: Option<&Attached>| AttachRecord {
            schema_version: pciplan::export::SCHEMA_VERSION,
            step: k.saturating_add(1),
            file: path.display().to_string(),
            element: String::new(),
            outcome,
            address: a.and_then(Attached::address).map(|x| x.to_string()),
            index: a.and_then(|a| a.device.kind.controller().and_then(|c| c.index)),
            alias: a.and_then(|a| a.alias.clone()),
            qemu_refusal: None,
            error: None,
            xml: None,
        };
        let result = parse_device(&dev_text).and_then(|d| {
            let element = d.element().to_string();
            let cold = match &policy {
                Some(p) => Some(pciplan::policy::cold_address(live.plan(), d.device(), p)?),
                None => None,
            };
            let a = live.attach(&d)?;
            if let Some(cold) = cold
                && a.qemu_refusal.is_none()
                && cold != a.address()
            {
                let text = |x: Option<pciplan::PciAddress>| {
                    x.map_or("none".to_string(), |x| x.to_string())
                };
                return Err(pciplan::Error::Policy {
                    device: Some(a.device.to_string()),
                    reason: pciplan::policy::PolicyError::NotInSpare {
                        live: text(a.address()),
                        cold: text(cold),
                    },
                });
            }
            Ok((element, a))
        });
        match result {
            Ok((element, a)) => match &a.qemu_refusal {
                None => {
                    text.push_str(&a.xml);
                    records.push(AttachRecord {
                        element,
                        xml: Some(a.xml.clone()),
                        ..record("attached", Some(&a))
                    });
                }
                Some(r) => {
                    let message = r.libvirt_message();
                    records.push(AttachRecord {
                        element,
                        qemu_refusal: Some(QemuRefusalRecord {
                            qemu_message: r.to_string(),
                            address: r.addr().to_string(),
                        }),
                        error: Some(message.clone()),
                        ..record("qemu_refused", Some(&a))
                    });
                    failed = Some((
                        message,
                        Some(format!(
                            "libvirt chose {} for {} and sent device_add; QEMU refused it",
                            r.addr(),
                            path.display()
                        )),
                    ));
                    break;
                }
            },
            Err(e) => {
                let message = libvirt_message(&e);
                records.push(AttachRecord {
                    element: element_name(&dev_text),
                    error: Some(message.clone()),
                    ..record("refused", None)
                });
                failed = Some((message, None));
                break;
            }
        }
    }
    let out = match format {
        TextFormat::Text => text,
        TextFormat::Json => records_json(&records)?,
    };
    emit(None, &out)?;
    match failed {
        None => Ok(()),
        Some((message, note)) => {
            report(&message);
            if let Some(note) = note {
                eprintln!("note: {note}");
            }
            Err(Failure::Status(1))
        }
    }
}

/// `pciplan detach LIVE.xml DEVICE.xml | --alias NAME`.
pub(super) fn detach(
    input: &InputArgs,
    device: Option<&Path>,
    alias: Option<&str>,
    format: TextFormat,
) -> Result<(), Failure> {
    let xml = read_text(&input.domain)?;
    let (doc, plan) = load(input, &xml)?;
    let mut live = LiveDomain::from_parsed(doc, plan)?;
    let dev_text = match device {
        Some(p) => Some(read_text(p)?),
        None => None,
    };
    let result = match (&dev_text, alias) {
        (Some(t), _) => parse_device(t).and_then(|d| live.detach(DetachTarget::Element(&d))),
        (None, Some(a)) => live.detach(DetachTarget::Alias(a)),
        (None, None) => return Err(Failure::Io("give DEVICE.xml or --alias NAME".into())),
    };
    if let Ok(d) = &result
        && let Some(r) = &d.qemu_refusal
    {
        let message = r.libvirt_unplug_message();
        if format == TextFormat::Json {
            emit(
                None,
                &to_json(&DetachRecord {
                    schema_version: pciplan::export::SCHEMA_VERSION,
                    outcome: "qemu_refused",
                    element: Some(d.device.kind.element().to_string()),
                    address: d.device.address.present().map(|a| a.to_string()),
                    alias: d.alias.clone(),
                    qemu_refusal: Some(QemuRefusalRecord {
                        qemu_message: r.to_string(),
                        address: r.addr().to_string(),
                    }),
                    error: Some(message.clone()),
                })?,
            )?;
        }
        report(&message);
        eprintln!(
            "note: libvirt sent device_del for the device at {}; QEMU refused it",
            r.addr()
        );
        return Err(Failure::Status(1));
    }
    match (result, format) {
        (Ok(_), TextFormat::Text) => emit(None, &live.write()?),
        (Ok(d), TextFormat::Json) => emit(
            None,
            &to_json(&DetachRecord {
                schema_version: pciplan::export::SCHEMA_VERSION,
                outcome: "detached",
                element: Some(d.device.kind.element().to_string()),
                address: d.device.address.present().map(|a| a.to_string()),
                alias: d.alias,
                qemu_refusal: None,
                error: None,
            })?,
        ),
        (Err(e), TextFormat::Text) => {
            report(&libvirt_message(&e));
            Err(Failure::Status(1))
        }
        (Err(e), TextFormat::Json) => {
            emit(
                None,
                &to_json(&DetachRecord {
                    schema_version: pciplan::export::SCHEMA_VERSION,
                    outcome: "refused",
                    element: dev_text.as_deref().map(element_name),
                    address: None,
                    alias: alias.map(str::to_string),
                    qemu_refusal: None,
                    error: Some(libvirt_message(&e)),
                })?,
            )?;
            report(&libvirt_message(&e));
            Err(Failure::Status(1))
        }
    }
}

/// The root element's name of a device file, as far as it can be seen.
fn element_name(text: &str) -> String {
    let start = text
        .match_indices('<')
        .map(|(i, _)| i.saturating_add(1))
        .find(|&i| {
            text.get(i..)
                .is_some_and(|r| r.starts_with(|c: char| c.is_ascii_alphabetic()))
        })
        .unwrap_or(text.len());
    let rest = text.get(start..).unwrap_or_default();
    rest.chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == ':' || *c == '_')
        .collect()
}
