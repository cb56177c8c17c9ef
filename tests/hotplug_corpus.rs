//! Replays the live hot-plug corpus `tests/data/hotplug/corpus.txt`: running
//! TCG guests of a live libvirt 9.0 + QEMU 7.2 (Debian bookworm), each with
//! a sequence of live attaches (`virsh attach-device --live`) and detaches,
//! and libvirt's answer to every step (see `tests/data/hotplug/README.md`).
//! The oracle itself is never needed here.
//!
//! Each case starts from the guest's live XML right after start
//! ([`LiveDomain::parse`] with the QEMU 7.2 capabilities libvirt probed) and
//! applies the steps in order, each seeing the previous one's result:
//!
//! * an attach libvirt accepted must give libvirt's address (and the SCSI
//!   controller index or virtio-serial port libvirt gave), no QEMU refusal,
//!   and write the element back as the input plus one `<address>` line
//!   (plus the `index` libvirt gives a SCSI controller);
//! * an attach libvirt refused must fail with libvirt's exact message,
//!   class prefix included, and change nothing;
//! * an attach QEMU refused (libvirt sent `device_add`, QEMU said no) must be
//!   predicted: the QEMU refusal with libvirt's whole message, at the bus
//!   and slot of the `device_add` libvirt sent, and the guest unchanged;
//! * a detach libvirt refused must fail with its exact message; one it
//!   sent must succeed.
//!
//! Prints the counts. Every step must agree.

use std::collections::BTreeMap;
use std::fs;
use std::path::PathBuf;

use pciplan::libvirt::{DetachTarget, LiveDomain, libvirt_message, parse_caps_xml, parse_device};
use pciplan::machine::HostPci;
use pciplan::{Capabilities, DeviceKind, PciAddress};

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

#[allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing)]
fn caps() -> Capabilities {
    let text = fs::read_to_string(data("oracle/caps-qemu-7.2.xml")).unwrap();
    parse_caps_xml(&text).unwrap()
}

/// One recorded step.
#[derive(Debug)]
struct Step<'a> {
    number: u32,
    op: &'a str,
    ok: bool,
    /// libvirt's address (`-` when none).
    addr: &'a str,
    /// The `device_add` libvirt sent (`driver@bus/0xSLOT`, `-`, `?`).
    device_add: &'a str,
    /// `index=N` / `port=C:B:P`.
    extra: BTreeMap<&'a str, &'a str>,
    error: Option<&'a str>,
    body: &'a str,
}

/// One recorded case.
#[derive(Debug)]
struct Case<'a> {
    id: &'a str,
    family: &'a str,
    live: &'a str,
    steps: Vec<Step<'a>>,
}

/// Splits the corpus into its cases: `@@ ` lines are headers, the text
/// up to the next header is the body of the one before.
#[allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing)]
fn cases(text: &str) -> Vec<Case<'_>> {
    let mut out = Vec::new();
    let mut parts = Vec::new();
    let mut at = 0;
    while let Some(off) = text[at..].find("@@ ") {
        let start = at + off;
        if start == 0 || text.as_bytes()[start - 1] == b'\n' {
            let end = text[start..].find('\n').map_or(text.len(), |e| start + e);
            parts.push((start, end));
            at = end;
        } else {
            at = start + 3;
        }
    }
    let body = |i: usize| -> &str {
        let from = (parts[i].1 + 1).min(text.len());
        let to = parts.get(i + 1).map_or(text.len(), |p| p.0);
        &text[from..to]
    };
    let mut i = 0;
    while i < parts.len() {
        let head: Vec<&str> = text[parts[i].0 + 3..parts[i].1].split(' ').collect();
        match head[0] {
            "case" => out.push(Case {
                id: head[1],
                family: head[2],
                live: "",
                steps: Vec::new(),
            }),
            "live" => out.last_mut().unwrap().live = body(i),
            "step" => {
                let extra = head[6..]
                    .iter()
                    .filter_map(|kv| kv.split_once('='))
                    .collect();
                let mut step = Step {
                    number: head[1].parse().unwrap(),
                    op: head[2],
                    ok: head[3] == "ok",
                    addr: head[4],
                    device_add: head[5],
                    extra,
                    error: None,
                    body: body(i),
                };
                if !step.ok {
                    let (s, e) = parts[i + 1];
                    step.error = Some(text[s..e].strip_prefix("@@ error ").unwrap());
                    step.body = body(i + 1);
                    i += 1;
                }
                out.last_mut().unwrap().steps.push(step);
            }
            "end" => {}
            other => panic!("unknown corpus header {other}"),
        }
        i += 1;
    }
    out
}

/// The counts printed at the end.
#[derive(Debug, Default)]
struct Counts {
    cases: usize,
    pc: usize,
    q35: usize,
    steps: usize,
    attached: usize,
    addresses: usize,
    bookkeeping: usize,
    aliases: usize,
    byte_checks: usize,
    libvirt_refusals: usize,
    qemu_refusals: usize,
    detach_refusals: usize,
    qemu_detach_refusals: usize,
    detach_sent: usize,
}

/// QEMU's name of the bus of `a` on this machine family.
fn bus_name(family: &str, a: PciAddress) -> String {
    match (a.bus(), family) {
        (0, "q35") => "pcie.0".to_string(),
        (b, _) => format!("pci.{b}"),
    }
}

/// The byte-level check of a written-back element: an element without a
/// PCI address comes back as the input plus one `<address>` line (plus the
/// `index` given to a SCSI controller, and the end tag a self-closing
/// element grew); one with a PCI address comes back as it was, except that
/// an empty address (`0000:00:00.0`, "assign one") has its line replaced.
fn check_one_address_line(input: &str, output: &str, index: Option<&str>) -> Result<(), String> {
    let is_address = |l: &&str| l.trim_start().starts_with("<address type='pci'");
    let given: Vec<&str> = input.lines().filter(is_address).collect();
    let written: Vec<&str> = output.lines().filter(is_address).collect();
    let [written] = written.as_slice() else {
        return Err(format!("{} address lines in {output:?}", written.len()));
    };
    let line = format!("{written}\n");
    let mut back = match given.as_slice() {
        [] => output.replacen(&line, "", 1),
        [old] => output.replacen(&line, &format!("{old}\n"), 1),
        _ => return Err(format!("several address lines in {input:?}")),
    };
    if let Some(i) = index.filter(|_| !input.contains(" index='")) {
        back = back.replacen(&format!(" index='{i}'"), "", 1);
    }
    if back != input {
        // A self-closing element got an end tag.
        let root = input
            .trim_start()
            .split([' ', '>', '/'])
            .next()
            .unwrap_or("");
        let name = root.trim_start_matches('<');
        let closed = back.replacen(&format!(">\n</{name}>"), "/>", 1);
        if closed != input {
            return Err(format!(
                "written {output:?} is not input {input:?} plus one line"
            ));
        }
    }
    Ok(())
}

fn replay(case: &Case<'_>, caps: &Capabilities, n: &mut Counts) -> Result<(), String> {
    let mut live = LiveDomain::parse(case.live, caps, &HostPci::default())
        .map_err(|e| format!("live XML refused: {e}"))?;
    for step in &case.steps {
        n.steps += 1;
        let at = format!("step {} ({})", step.number, step.op);
        let before = live.plan().clone();
        match step.op {
            "attach" => {
                let dev = parse_device(step.body).map_err(|e| format!("{at}: {e}"))?;
                let result = live.attach(&dev);
                match (result, step.ok, step.error) {
                    (Ok(a), true, _) => {
                        if let Some(r) = &a.qemu_refusal {
                            return Err(format!("{at}: predicted QEMU refusal {r}, QEMU accepted"));
                        }
                        let ours = a.address().map_or("-".to_string(), |x| x.to_string());
                        if ours != step.addr {
                            return Err(format!("{at}: address {ours}, libvirt {}", step.addr));
                        }
                        n.attached += 1;
                        if a.address().is_some() {
                            n.addresses += 1;
                            let index = step.extra.get("index").copied();
                            check_one_address_line(step.body, &a.xml, index)
                                .map_err(|e| format!("{at}: {e}"))?;
                            n.byte_checks += 1;
                        } else if !step.extra.contains_key("port") && a.xml != step.body {
                            return Err(format!("{at}: element changed without an address"));
                        }
                        if let Some(want) = step.extra.get("alias") {
                            if a.alias.as_deref() != Some(*want) {
                                return Err(format!("{at}: alias {:?}, libvirt {want}", a.alias));
                            }
                            n.aliases += 1;
                        }
                        if let Some(i) = step.extra.get("index") {
                            let got = match &a.device.kind {
                                DeviceKind::Controller(c) => c.idx().to_string(),
                                _ => "-".into(),
                            };
                            if got != *i {
                                return Err(format!("{at}: SCSI index {got}, libvirt {i}"));
                            }
                            n.bookkeeping += 1;
                        }
                        if let Some(p) = step.extra.get("port") {
                            let mut it = p.split(':');
                            let want = format!(
                                "<address type='virtio-serial' controller='{}' bus='{}' port='{}'/>",
                                it.next().unwrap_or(""),
                                it.next().unwrap_or(""),
                                it.next().unwrap_or("")
                            );
                            if !a.xml.contains(&want) {
                                return Err(format!("{at}: no {want} in {:?}", a.xml));
                            }
                            n.bookkeeping += 1;
                        }
                    }
                    (Ok(a), false, Some(msg)) => {
                        let Some(r) = &a.qemu_refusal else {
                            return Err(format!("{at}: accepted, libvirt said {msg}"));
                        };
                        if r.libvirt_message() != msg {
                            return Err(format!(
                                "{at}: QEMU refusal {:?}, libvirt {msg:?}",
                                r.libvirt_message()
                            ));
                        }
                        let addr = a.address().ok_or(format!("{at}: no address tried"))?;
                        let sent = format!(
                            "{}/0x{:x}",
                            bus_name(case.family, addr),
                            addr.slot().as_u8()
                        );
                        if !step.device_add.contains(&format!("@{sent}")) {
                            return Err(format!(
                                "{at}: tried {sent}, libvirt sent {}",
                                step.device_add
                            ));
                        }
                        if live.plan() != &before {
                            return Err(format!("{at}: a QEMU refusal changed the guest"));
                        }
                        n.qemu_refusals += 1;
                    }
                    (Err(e), false, Some(msg)) => {
                        if libvirt_message(&e) != msg {
                            return Err(format!(
                                "{at}: refused with {:?}, libvirt {msg:?}",
                                libvirt_message(&e)
                            ));
                        }
                        if live.plan() != &before {
                            return Err(format!("{at}: a refusal changed the guest"));
                        }
                        n.libvirt_refusals += 1;
                    }
                    (Err(e), true, _) => {
                        return Err(format!(
                            "{at}: refused with {e}, libvirt accepted at {}",
                            step.addr
                        ));
                    }
                    (_, false, None) => return Err(format!("{at}: corpus step without error")),
                }
            }
            "detach" | "detach-alias" => {
                let dev;
                let target = if step.op == "detach" {
                    dev = parse_device(step.body).map_err(|e| format!("{at}: {e}"))?;
                    DetachTarget::Element(&dev)
                } else {
                    DetachTarget::Alias(step.body.trim())
                };
                // A detach libvirt sends waits for the guest OS, which
                // never answers: libvirt keeps the device, so the replay
                // only checks it (`check_detach`).
                let result = if step.error.is_none() {
                    live.check_detach(target)
                } else {
                    live.detach(target)
                };
                match (result, step.error) {
                    (Ok(d), None) if d.qemu_refusal.is_none() => n.detach_sent += 1,
                    (Ok(d), None) => {
                        return Err(format!(
                            "{at}: predicted {:?}, QEMU took the unplug",
                            d.qemu_refusal
                        ));
                    }
                    (Ok(d), Some(msg)) if d.qemu_refusal.is_some() => {
                        let ours = d.qemu_refusal.map(|r| r.libvirt_unplug_message());
                        if ours.as_deref() != Some(msg) {
                            return Err(format!(
                                "{at}: QEMU unplug refusal {ours:?}, libvirt {msg:?}"
                            ));
                        }
                        if live.plan() != &before {
                            return Err(format!("{at}: a QEMU refusal changed the guest"));
                        }
                        n.qemu_detach_refusals += 1;
                    }
                    (Err(e), Some(msg)) => {
                        if libvirt_message(&e) != msg {
                            return Err(format!(
                                "{at}: refused with {:?}, libvirt {msg:?}",
                                libvirt_message(&e)
                            ));
                        }
                        if live.plan() != &before {
                            return Err(format!("{at}: a refusal changed the guest"));
                        }
                        n.detach_refusals += 1;
                    }
                    (Ok(d), Some(msg)) => {
                        return Err(format!("{at}: detached {}, libvirt said {msg}", d.device));
                    }
                    (Err(e), None) => {
                        return Err(format!("{at}: refused with {e}, libvirt sent it"));
                    }
                }
            }
            other => return Err(format!("unknown op {other}")),
        }
    }
    Ok(())
}

#[test]
fn every_recorded_live_attach_and_detach_gives_libvirts_answer() {
    let text = fs::read_to_string(data("hotplug/corpus.txt")).unwrap();
    let caps = caps();
    let mut n = Counts::default();
    let mut failures = Vec::new();
    for case in cases(&text) {
        n.cases += 1;
        match case.family {
            "q35" => n.q35 += 1,
            _ => n.pc += 1,
        }
        if let Err(e) = replay(&case, &caps, &mut n) {
            failures.push(format!("{}: {e}", case.id));
        }
    }
    println!(
        "hotplug corpus: {} cases ({} pc, {} q35), {} steps: {} attaches accepted ({} PCI addresses \
         matched, {} written back as input + one <address> line, {} SCSI indexes / virtio-serial \
         ports matched, {} aliases matched), {} libvirt attach refusals matched, {} QEMU refusals predicted, {} detach \
         refusals matched, {} QEMU detach refusals predicted, {} detaches sent",
        n.cases,
        n.pc,
        n.q35,
        n.steps,
        n.attached,
        n.addresses,
        n.byte_checks,
        n.bookkeeping,
        n.aliases,
        n.libvirt_refusals,
        n.qemu_refusals,
        n.detach_refusals,
        n.qemu_detach_refusals,
        n.detach_sent
    );
    for f in failures.iter().take(40) {
        println!("FAIL {f}");
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases disagree",
        failures.len(),
        n.cases
    );
}

#[test]
fn no_other_address_moves_after_a_detach_and_a_re_attach() {
    let text = fs::read_to_string(data("hotplug/corpus.txt")).unwrap();
    let caps = caps();
    let (mut checked, mut refused, mut reattached, mut not_back) = (0, 0, 0, 0);
    for case in cases(&text) {
        let Ok(mut live) = LiveDomain::parse(case.live, &caps, &HostPci::default()) else {
            continue;
        };
        // The first interface or disk with a PCI address libvirt can unplug
        // (not on a multifunction slot, not behind hotplug='off').
        let candidates: Vec<usize> = live
            .plan()
            .devices()
            .iter()
            .enumerate()
            .filter(|(_, d)| {
                d.address.present().is_some()
                    && matches!(
                        d.kind,
                        DeviceKind::Interface { .. } | DeviceKind::Disk { .. }
                    )
            })
            .map(|(i, _)| i)
            .collect();
        let others =
            |plan: &pciplan::Plan, skip: Option<PciAddress>| -> Vec<(String, Option<PciAddress>)> {
                plan.devices()
                    .iter()
                    .filter(|d| d.address.present() != skip)
                    .map(|d| (d.to_string(), d.address.present()))
                    .collect()
            };
        let mut done = None;
        for victim in candidates {
            let gone = live.plan().devices()[victim].address.present();
            let before = others(live.plan(), gone);
            let untouched = live.plan().clone();
            let element = victim_element(&live, victim);
            let dev = parse_device(&element).unwrap();
            match live.detach(DetachTarget::Element(&dev)) {
                // QEMU refuses the unplug (pci.0 without ACPI): nothing moved.
                Ok(removed) if removed.qemu_refusal.is_some() => {
                    refused += 1;
                    assert_eq!(
                        live.plan(),
                        &untouched,
                        "{}: a refused detach changed the guest",
                        case.id
                    );
                }
                Ok(removed) => {
                    assert_eq!(removed.device.address.present(), gone, "{}", case.id);
                    done = Some((element.clone(), gone, before));
                    break;
                }
                Err(_) => {
                    refused += 1;
                    assert_eq!(
                        live.plan(),
                        &untouched,
                        "{}: a refused detach changed the guest",
                        case.id
                    );
                }
            }
        }
        let Some((element, gone, before)) = done else {
            continue;
        };
        let dev = parse_device(&element).unwrap();
        assert_eq!(
            others(live.plan(), gone),
            before,
            "{}: detach moved an address",
            case.id
        );
        checked += 1;
        match live.attach(&dev) {
            Ok(again) => {
                assert_eq!(
                    again.address(),
                    gone,
                    "{}: re-attach took another slot",
                    case.id
                );
                reattached += 1;
            }
            // A device placed at start on a bus libvirt does not hot-plug
            // to (q35's pcie-root): it can leave but not come back.
            Err(e) => {
                assert!(
                    e.to_string().contains("requires hotplug capability"),
                    "{}: {e}",
                    case.id
                );
                not_back += 1;
            }
        }
        assert_eq!(
            others(live.plan(), gone),
            before,
            "{}: re-attach moved an address",
            case.id
        );
    }
    println!(
        "detach + re-attach: {checked} guests, no other address moved; {reattached} re-attached \
         at the freed slot, {not_back} refused (slot on a bus without hot-plug); {refused} \
         detaches refused on the way (multifunction slots, hotplug='off', QEMU: no hot-plug \
         handler)"
    );
    assert!(reattached > 100);
}

/// A device element naming the plan's device `i` by what the plan knows:
/// its PCI address (the element's own keys are in the live XML).
#[allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing)]
fn victim_element(live: &LiveDomain<'_>, i: usize) -> String {
    let d = &live.plan().devices()[i];
    let a = d.address.present().unwrap();
    let addr = format!(
        "<address type='pci' domain='0x{:04x}' bus='0x{:02x}' slot='0x{:02x}' function='0x{:x}'/>",
        a.domain(),
        a.bus(),
        a.slot().as_u8(),
        a.function().as_u8()
    );
    match &d.kind {
        DeviceKind::Interface { .. } => {
            format!("<interface type='user'>\n  <model type='virtio'/>\n  {addr}\n</interface>\n")
        }
        _ => format!(
            "<disk type='file' device='disk'>\n  <target dev='{}' bus='virtio'/>\n  {addr}\n</disk>\n",
            d.label
        ),
    }
}
