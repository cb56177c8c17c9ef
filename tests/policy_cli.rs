//! `--policy` on the command line: files, exit statuses, `attach`.

#![cfg(feature = "cli")]

use std::process::{Command, Output};

fn pciplan(args: &[&str]) -> Output {
    #[allow(clippy::expect_used)]
    Command::new(env!("CARGO_BIN_EXE_pciplan"))
        .args(args)
        .output()
        .expect("run pciplan")
}

fn temp(name: &str, text: &str) -> String {
    let dir = std::env::temp_dir().join(format!("pciplan-policy-cli-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join(name);
    let _ = std::fs::write(&path, text);
    path.display().to_string()
}

const DOMAIN: &str = "tests/data/policy-cli/pc-28-nics.xml";
const NIC: &str = "tests/data/policy-cli/nic.xml";

#[test]
fn a_policy_file_with_an_unknown_key_exits_2_naming_the_key() {
    let p = temp("bad.toml", "version = 1\nspares = 3\n");
    let out = pciplan(&["assign", "--policy", &p, DOMAIN]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("unknown key 'spares'"), "{err}");
}

#[test]
fn assign_under_a_policy_writes_a_definition_libvirts_algorithm_keeps() {
    let p = temp("spares.toml", "version = 1\nspare_ports = 3\n");
    let out = pciplan(&["assign", "--policy", &p, DOMAIN]);
    assert_eq!(out.status.code(), Some(0));
    let planned = temp("planned.xml", &String::from_utf8_lossy(&out.stdout));
    let again = pciplan(&["assign", &planned]);
    assert_eq!(again.stdout, out.stdout);
}

#[test]
fn attach_under_a_policy_refuses_a_device_a_cold_plan_puts_elsewhere() {
    // pc with pci-root's last slot free: libvirt's live attach takes it,
    // its cold plan keeps it for a pci-bridge (rule 58).
    let p = temp("strict.toml", "version = 1\nstrict = true\n");
    let planned = pciplan(&["assign", "--policy", &p, DOMAIN]);
    let live = temp("live.xml", &String::from_utf8_lossy(&planned.stdout));
    let out = pciplan(&["attach", "--policy", &p, &live, NIC]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no spare port is left"), "{err}");
    // Without the policy libvirt's attach is answered as always.
    assert_eq!(pciplan(&["attach", &live, NIC]).status.code(), Some(0));
}

#[test]
fn attach_into_a_spare_gives_the_cold_plans_address() {
    let p = temp("one.toml", "version = 1\nspare_ports = 1\n");
    let planned = pciplan(&["assign", "--policy", &p, DOMAIN]);
    let live = temp("live1.xml", &String::from_utf8_lossy(&planned.stdout));
    let out = pciplan(&["attach", "--policy", &p, &live, NIC]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("bus='0x01' slot='0x01'"));
}

#[test]
fn tree_and_qemu_args_take_a_policy() {
    let p = temp("expand.toml", "version = 1\nexpand = true\n");
    assert_eq!(
        pciplan(&["tree", "--policy", &p, DOMAIN]).status.code(),
        Some(0)
    );
    assert_eq!(
        pciplan(&["qemu-args", "--policy", &p, DOMAIN])
            .status
            .code(),
        Some(0)
    );
}
