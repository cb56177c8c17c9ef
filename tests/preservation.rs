//! Output = input + what assignment adds (issue 13, classes 2 and 3).
//!
//! Domains with comments, unknown attributes and namespaced elements and
//! attributes in every place (on devices, inside addresses, around the
//! devices block, a second `<devices>`) go through `assign_xml`. For every
//! one pciplan accepts: the output is well-formed XML, every comment,
//! unknown attribute and namespaced node of the input is still there with
//! its value, and assigning the output gives the output again.

use proptest::prelude::*;

use pciplan::Capabilities;
use pciplan::libvirt::assign_xml;
use pciplan::machine::HostPci;

/// What a device may carry besides its own content.
#[derive(Clone, Debug)]
struct Extras {
    comment: bool,
    unknown_attr: bool,
    ns_child: bool,
}

#[derive(Clone, Debug)]
enum Addr {
    None,
    /// `<address type='pci'/>` with extras inside.
    Empty {
        comment: bool,
        unknown: bool,
        ns_attr: bool,
    },
    /// A given slot on bus 0.
    Slot {
        slot: u8,
        ns_attr: bool,
    },
}

#[derive(Clone, Debug)]
struct Dev {
    kind: u8,
    addr: Addr,
    extras: Extras,
}

fn extras() -> impl Strategy<Value = Extras> {
    (any::<bool>(), any::<bool>(), any::<bool>()).prop_map(|(comment, unknown_attr, ns_child)| {
        Extras {
            comment,
            unknown_attr,
            ns_child,
        }
    })
}

fn addr() -> impl Strategy<Value = Addr> {
    prop_oneof![
        Just(Addr::None),
        (any::<bool>(), any::<bool>(), any::<bool>()).prop_map(|(comment, unknown, ns_attr)| {
            Addr::Empty {
                comment,
                unknown,
                ns_attr,
            }
        }),
        (3u8..24, any::<bool>()).prop_map(|(slot, ns_attr)| Addr::Slot { slot, ns_attr }),
    ]
}

fn dev() -> impl Strategy<Value = Dev> {
    (0u8..4, addr(), extras()).prop_map(|(kind, addr, extras)| Dev { kind, addr, extras })
}

fn render(machine: &str, devs: &[Dev], second_block: bool, top_ns: bool) -> String {
    let mut s = String::from("<domain type='kvm' xmlns:m='urn:meta'>\n  <name>p</name>\n");
    if top_ns {
        s.push_str("  <metadata><m:app m:id='top' plain='1'>kept</m:app></metadata>\n  <!-- before os -->\n");
    }
    s.push_str(&format!(
        "  <os>\n    <type arch='x86_64' machine='{machine}'>hvm</type>\n  </os>\n  <devices>\n"
    ));
    let split = if second_block {
        devs.len() / 2
    } else {
        usize::MAX
    };
    for (i, d) in devs.iter().enumerate() {
        if i == split {
            s.push_str("  </devices>\n  <!-- between blocks -->\n  <devices>\n");
        }
        let (open, close, inner) = match d.kind {
            0 => (
                "<rng model='virtio'",
                "</rng>",
                "<backend model='random'>/dev/urandom</backend>",
            ),
            1 => (
                "<interface type='user'",
                "</interface>",
                "<model type='virtio'/>",
            ),
            2 => (
                "<interface type='user'",
                "</interface>",
                "<model type='e1000'/>",
            ),
            _ => ("<memballoon model='virtio'", "</memballoon>", ""),
        };
        s.push_str("    ");
        s.push_str(open);
        if d.extras.unknown_attr {
            s.push_str(&format!(" u_dev{i}='v{i}'"));
        }
        s.push_str(">\n      ");
        s.push_str(inner);
        if d.extras.comment {
            s.push_str(&format!("\n      <!-- device {i} -->"));
        }
        if d.extras.ns_child {
            s.push_str(&format!("\n      <m:note m:k='n{i}'>text {i}</m:note>"));
        }
        match &d.addr {
            Addr::None => {}
            Addr::Empty {
                comment,
                unknown,
                ns_attr,
            } => {
                s.push_str("\n      <address type='pci'");
                if *unknown {
                    s.push_str(&format!(" u_addr{i}='a{i}'"));
                }
                if *ns_attr {
                    s.push_str(&format!(" xmlns:o='urn:o{i}' o:tag='t{i}'"));
                }
                if *comment {
                    s.push_str(&format!("><!-- address {i} --></address>"));
                } else {
                    s.push_str("/>");
                }
            }
            Addr::Slot { slot, ns_attr } => {
                s.push_str(&format!(
                    "\n      <address type='pci' domain='0x0000' bus='0x00' slot='{slot:#04x}' function='0x0'"
                ));
                if *ns_attr {
                    s.push_str(&format!(" m:why='w{i}'"));
                }
                s.push_str("/>");
            }
        }
        s.push_str("\n    ");
        s.push_str(close);
        s.push('\n');
    }
    s.push_str("  </devices>\n</domain>\n");
    s
}

/// Everything of the input that pciplan must keep: comments, elements in a
/// namespace (with their attributes and text), and attributes that are
/// namespaced or unknown to libvirt (`u_*`), with their values.
fn keepers(xml: &str) -> Option<Vec<String>> {
    let doc = roxmltree::Document::parse(xml).ok()?;
    let mut out = Vec::new();
    for n in doc.descendants() {
        if n.is_comment() {
            out.push(format!("comment:{}", n.text().unwrap_or_default()));
        }
        if !n.is_element() {
            continue;
        }
        let name = n.tag_name();
        if let Some(ns) = name.namespace() {
            let attrs: Vec<String> = n
                .attributes()
                .map(|a| format!("{:?}:{}={}", a.namespace(), a.name(), a.value()))
                .collect();
            out.push(format!(
                "element:{ns}:{}:{}:{}",
                name.name(),
                attrs.join(","),
                n.text().unwrap_or_default()
            ));
        }
        for a in n.attributes() {
            if a.namespace().is_some() || a.name().starts_with("u_") {
                out.push(format!(
                    "attr:{}:{:?}:{}={}",
                    name.name(),
                    a.namespace(),
                    a.name(),
                    a.value()
                ));
            }
        }
    }
    out.sort();
    Some(out)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(192))]

    #[test]
    fn prop_accepted_output_keeps_every_foreign_node_and_is_a_fixed_point(
        q35 in any::<bool>(),
        devs in prop::collection::vec(dev(), 0..8),
        second_block in any::<bool>(),
        top_ns in any::<bool>(),
    ) {
        let xml = render(if q35 { "q35" } else { "pc" }, &devs, second_block, top_ns);
        let caps = Capabilities::qemu_8_0_x86_64();
        let host = HostPci::default();
        let r = assign_xml(&xml, &caps, &host);
        if std::env::var_os("PRESERVATION_DEBUG").is_some() {
            eprintln!("ACC {} {:?}", r.is_ok(), r.as_ref().err().map(ToString::to_string));
        }
        if let Ok(out) = r {
            prop_assert!(roxmltree::Document::parse(&out).is_ok(), "not well-formed:\n{}", out);
            let before = keepers(&xml).unwrap_or_default();
            let after = keepers(&out).unwrap_or_default();
            prop_assert!(!before.is_empty() || keepers(&xml).is_some(), "input not well-formed");
            for k in &before {
                prop_assert!(after.contains(k), "lost {}\ninput:\n{}\noutput:\n{}", k, xml, out);
            }
            let again = assign_xml(&out, &caps, &host);
            prop_assert_eq!(again.as_ref().ok(), Some(&out), "not a fixed point\ninput:\n{}", xml);
        }
    }
}
