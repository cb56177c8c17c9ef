//! The `explain`, `diff`, `capacity` and `tree --format` commands.

use std::path::PathBuf;
use std::process::{Command, Output};

#[allow(clippy::unwrap_used, clippy::panic)]
fn pciplan(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pciplan"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[allow(clippy::unwrap_used, clippy::panic)]
fn write(name: &str, text: &str) -> String {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

const DOMAIN: &str = "<domain type='kvm'><os><type arch='x86_64' machine='q35'>hvm</type></os><devices>\
    <disk type='file' device='disk'><source file='/a'/><target dev='vda' bus='virtio'/></disk>\
    <interface type='network'><mac address='52:54:00:00:00:01'/><model type='virtio'/><alias name='ua-net0'/></interface>\
    <interface type='network'><mac address='52:54:00:00:00:02'/><model type='e1000'/></interface>\
    </devices></domain>";

#[test]
fn explain_selects_a_device_by_mac() {
    let f = write("explain-mac.xml", DOMAIN);
    let o = pciplan(&["explain", &f, "--device", "52:54:00:00:00:02"]);
    let text = stdout(&o);
    assert!(
        text.starts_with("interface[2] interface: 0000:03:01.0"),
        "{text}"
    );
    assert_eq!(text.matches("origin:").count(), 1);
}

#[test]
fn explain_selects_by_alias_target_and_ordinal() {
    let f = write("explain-sel.xml", DOMAIN);
    for sel in ["alias:ua-net0", "vda", "interface[1]"] {
        let o = pciplan(&["explain", &f, "--device", sel]);
        assert_eq!(stdout(&o).matches("origin:").count(), 1, "{sel}");
    }
}

#[test]
fn explain_json_is_versioned() {
    let f = write("explain-json.xml", DOMAIN);
    let o = pciplan(&["explain", &f, "--format", "json", "--device", "vda"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["schema_version"], 1);
    assert_eq!(v["devices"][0]["identity"]["target"], "vda");
}

#[test]
fn explain_of_a_refused_definition_exits_1_with_rule_and_fix() {
    let bad = DOMAIN.replace(
        "<target dev='vda' bus='virtio'/>",
        "<target dev='vda' bus='virtio'/><address type='pci' domain='0x0000' bus='0x00' slot='0x1f' function='0x0'/>",
    );
    let f = write("explain-bad.xml", &bad);
    let o = pciplan(&["explain", &f]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).contains("rule: §5.4"), "{}", stdout(&o));
}

#[test]
fn diff_of_a_file_with_itself_exits_0() {
    let f = write("diff-same.xml", DOMAIN);
    assert_eq!(pciplan(&["diff", &f, &f]).status.code(), Some(0));
}

#[test]
fn diff_with_an_added_nic_exits_1() {
    let old = write("diff-old.xml", DOMAIN);
    let new = write(
        "diff-new.xml",
        &DOMAIN.replace(
            "</devices>",
            "<interface type='network'><model type='virtio'/></interface></devices>",
        ),
    );
    let o = pciplan(&["diff", &old, &new]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).contains("added    interface"), "{}", stdout(&o));
}

#[test]
fn diff_of_a_missing_file_exits_2() {
    let f = write("diff-one.xml", DOMAIN);
    assert_eq!(
        pciplan(&["diff", &f, "/nonexistent.xml"]).status.code(),
        Some(2)
    );
}

#[test]
fn capacity_json_lists_every_class() {
    let f = write("capacity.xml", DOMAIN);
    let o = pciplan(&["capacity", &f, "--format", "json", "--hot-only"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["classes"].as_array().map(Vec::len), Some(6));
}

#[test]
fn tree_dot_is_a_digraph_with_every_bus() {
    let f = write("tree.xml", DOMAIN);
    let text = stdout(&pciplan(&["tree", &f, "--format", "dot"]));
    assert!(text.starts_with("digraph pciplan {"));
    assert!(text.contains("bus0 [") && text.contains("bus1 ["));
}

#[test]
fn tree_json_has_the_root_bus_first() {
    let f = write("tree-json.xml", DOMAIN);
    let v: serde_json::Value =
        serde_json::from_slice(&pciplan(&["tree", &f, "--format", "json"]).stdout).unwrap();
    assert_eq!(v["buses"][0]["model"], "pcie-root");
}

#[test]
fn assign_json_keeps_the_unversioned_fields() {
    let f = write("assign-json.xml", DOMAIN);
    let v: serde_json::Value =
        serde_json::from_slice(&pciplan(&["assign", &f, "--format", "json"]).stdout).unwrap();
    let first = &v[0];
    for field in ["element", "ordinal", "address", "connect_flags", "origin"] {
        assert!(first.get(field).is_some(), "{field}");
    }
}
