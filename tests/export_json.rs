//! The CLI's JSON records (`DeviceRecord::write_json`) are byte for byte
//! what `serde_json` writes for the same records.

#[path = "common/strategies.rs"]
mod strategies;

use pciplan::diff::Identity;
use pciplan::export::{DeviceRecord, records};
use pciplan::machine::HostPci;
use proptest::prelude::*;
use strategies::{config, plan};

fn hand_written(r: &DeviceRecord) -> String {
    let mut s = String::new();
    r.write_json(&mut s);
    s
}

fn assert_same(records: &[DeviceRecord]) -> Result<(), String> {
    for r in records {
        let reference = serde_json::to_string(r).map_err(|e| e.to_string())?;
        let ours = hand_written(r);
        if ours != reference {
            return Err(format!("{ours}\n!=\n{reference}"));
        }
    }
    Ok(())
}

#[test]
fn records_of_every_conformance_input_are_written_as_serde_json_writes_them() {
    let cases =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/libvirt-9.0/cases");
    let mut checked = 0;
    for entry in std::fs::read_dir(cases).expect("corpus") {
        let Ok(xml) = std::fs::read_to_string(entry.expect("entry").path().join("input.xml"))
        else {
            continue;
        };
        let Ok((doc, mut plan)) =
            pciplan::libvirt::parse_domain_builtin(&xml, &HostPci::default(), Default::default())
        else {
            continue;
        };
        let before = plan.clone();
        if plan.assign().is_err() {
            continue;
        }
        let ids = pciplan::libvirt::identities(&doc, &plan);
        assert_same(&records(&before, &plan, &ids)).expect("same bytes");
        checked += 1;
    }
    assert!(checked > 300, "only {checked} cases assigned");
}

/// Identity strings with anything in them (quotes, backslashes, control
/// characters, non-ASCII).
fn identity() -> impl Strategy<Value = Identity> {
    let text = || proptest::option::of("\\PC{0,12}|[\"\\\\\\x00-\\x1f\\x7f]{0,6}");
    (
        text(),
        text(),
        text(),
        text(),
        proptest::option::of(("[a-z\"]{0,6}", any::<u32>())),
    )
        .prop_map(|(alias, mac, target, serial, controller)| Identity {
            alias,
            mac,
            target,
            serial,
            host_source: None,
            controller,
        })
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn prop_write_json_equals_serde_json(p in plan(), ids in proptest::collection::vec(identity(), 0..8)) {
        let before = p.clone();
        let mut after = p;
        if after.assign().is_err() {
            return Ok(());
        }
        let mut records = records(&before, &after, &ids);
        for (r, id) in records.iter_mut().zip(&ids) {
            r.name = format!("{} {:?}", r.name, id.alias);
        }
        assert_same(&records).map_err(TestCaseError::fail)?;
    }
}
