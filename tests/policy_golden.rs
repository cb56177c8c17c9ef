//! Policy version 1 is a promise: a plan made under it re-plans identically
//! under every later pciplan. Each case of `tests/data/policy-golden/`
//! (`input.xml`, `policy.toml`, optional `host-pci.tsv`) must give
//! `output.xml` byte for byte, and `output.xml` planned again must give
//! itself. A change that alters a case changes version 1: it needs a new
//! policy version instead. `PCIPLAN_UPDATE_GOLDEN=1` rewrites the outputs
//! (only for new cases).

use std::fs;
use std::path::Path;

use pciplan::libvirt::Inputs;
use pciplan::machine::HostPci;
use pciplan::policy::Policy;

#[allow(clippy::unwrap_used, clippy::panic)]
fn plan(dir: &Path, xml: &str) -> String {
    let policy = Policy::from_toml(&fs::read_to_string(dir.join("policy.toml")).unwrap()).unwrap();
    let host = match fs::read_to_string(dir.join("host-pci.tsv")) {
        Ok(t) => HostPci::from_tsv(&t).unwrap(),
        Err(_) => HostPci::default(),
    };
    let inputs = Inputs {
        host,
        ..Inputs::default()
    };
    inputs
        .assign_with(xml, &policy)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
}

#[test]
#[allow(clippy::unwrap_used)]
fn policy_version_1_plans_are_byte_for_byte_what_they_were() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/policy-golden");
    let mut dirs: Vec<_> = fs::read_dir(&root)
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    assert!(dirs.len() >= 7);
    for dir in dirs {
        let input = fs::read_to_string(dir.join("input.xml")).unwrap();
        let out = plan(&dir, &input);
        if std::env::var_os("PCIPLAN_UPDATE_GOLDEN").is_some() && !dir.join("output.xml").exists() {
            fs::write(dir.join("output.xml"), &out).unwrap();
        }
        let golden = fs::read_to_string(dir.join("output.xml")).unwrap();
        assert_eq!(out, golden, "{}: version 1 output changed", dir.display());
        assert_eq!(
            plan(&dir, &golden),
            golden,
            "{}: not a fixed point",
            dir.display()
        );
    }
}
