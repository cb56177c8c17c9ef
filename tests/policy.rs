//! Placement policies (`pciplan::policy`, docs/policy.md): one behaviour
//! per test, through the libvirt front end as a VM manager uses them.

use pciplan::machine::HostPci;
use pciplan::policy::Policy;

fn domain(machine: &str, extra: &str, devices: &str) -> String {
    format!(
        "<domain type='kvm'>\n  <name>p</name>\n  <memory>2097152</memory>\n  <vcpu>2</vcpu>\n  <os><type arch='x86_64' machine='{machine}'>hvm</type></os>\n{extra}  <devices>\n{devices}  </devices>\n</domain>\n"
    )
}

fn nics(n: usize) -> String {
    (0..n)
        .map(|i| {
            format!(
                "    <interface type='network'><mac address='52:54:00:00:{:02x}:{:02x}'/><source network='default'/><model type='virtio'/></interface>\n",
                i >> 8,
                i & 0xff
            )
        })
        .collect()
}

#[allow(clippy::unwrap_used)]
fn policy(text: &str) -> Policy {
    Policy::from_toml(text).unwrap()
}

fn plan(xml: &str, policy: Option<&Policy>, host: &HostPci) -> Result<String, pciplan::Error> {
    let (doc, mut plan) = pciplan::libvirt::parse_domain_builtin(xml, host, Default::default())?;
    match policy {
        Some(p) => {
            let ids = pciplan::libvirt::identities(&doc, &plan);
            plan.assign_with(p, &ids)?;
        }
        None => plan.assign()?,
    }
    pciplan::libvirt::write_domain(&doc, &plan)
}

#[allow(clippy::unwrap_used)]
fn assign(xml: &str, p: &Policy) -> String {
    plan(xml, Some(p), &HostPci::default()).unwrap()
}

fn count(text: &str, needle: &str) -> usize {
    text.matches(needle).count()
}

/// The output is a fixed point of the policy and of libvirt's algorithm.
#[allow(clippy::unwrap_used)]
fn assert_stable(out: &str, p: &Policy) {
    assert_eq!(assign(out, p), out, "not a fixed point of the policy");
    assert_eq!(
        plan(out, None, &HostPci::default()).unwrap(),
        out,
        "libvirt's algorithm changes the policy's output"
    );
}

#[test]
fn the_default_policy_is_libvirts_algorithm_byte_for_byte() {
    let xml = domain("q35", "", &nics(5));
    assert_eq!(
        assign(&xml, &policy("version = 1\n")),
        plan(&xml, None, &HostPci::default()).unwrap()
    );
}

#[test]
fn spare_ports_on_q35_are_empty_root_ports_after_the_devices() {
    let p = policy("version = 1\nspare_ports = 6\n");
    let out = assign(&domain("q35", "", &nics(3)), &p);
    let (doc, mut plan) =
        pciplan::libvirt::parse_domain_builtin(&out, &HostPci::default(), Default::default())
            .unwrap();
    plan.assign().unwrap();
    drop(doc);
    assert_eq!(pciplan::capacity::budgets(&plan).free_hotplug_ports, 6);
    assert_stable(&out, &p);
}

#[test]
fn spare_ports_on_pc_add_a_bridge_when_the_root_bus_is_nearly_full() {
    let p = policy("version = 1\nspare_ports = 4\n");
    let out = assign(&domain("pc", "", &nics(27)), &p);
    assert_eq!(count(&out, "model='pci-bridge'"), 1);
    assert_stable(&out, &p);
}

#[test]
fn spare_ports_are_topped_up_after_a_device_takes_one() {
    let p = policy("version = 1\nspare_ports = 2\n");
    let first = assign(&domain("q35", "", &nics(1)), &p);
    let ports_before = count(&first, "model='pcie-root-port'");
    let more = first.replace(
        "  </devices>",
        "    <interface type='network'><source network='default'/><model type='virtio'/></interface>\n  </devices>",
    );
    let second = assign(&more, &p);
    assert_eq!(count(&second, "model='pcie-root-port'"), ports_before + 1);
    assert_stable(&second, &p);
}

#[test]
fn expand_places_a_thousand_virtio_nics_on_q35() {
    let p = policy("version = 1\nexpand = true\n");
    let xml = domain("q35", "", &nics(1000));
    assert!(plan(&xml, None, &HostPci::default()).is_err());
    let out = assign(&xml, &p);
    assert_eq!(count(&out, "<interface"), 1000);
    assert!(count(&out, "multifunction='on'") >= 125);
    assert_stable(&out, &p);
}

#[test]
fn expand_places_more_devices_than_libvirts_pc_ceiling() {
    let p = policy("version = 1\nexpand = true\n");
    let xml = domain("pc", "", &nics(7900));
    assert!(plan(&xml, None, &HostPci::default()).is_err());
    let out = assign(&xml, &p);
    assert_eq!(count(&out, "<interface"), 7900);
    assert_eq!(
        count(&out, "/><address type='pci'").max(count(&out, "'virtio'/>\n<address type='pci'")),
        7900
    );
    assert_stable(&out, &p);
}

#[test]
fn expand_fills_libvirts_pc_failure_holes_with_a_bridge_not_functions() {
    let p = policy("version = 1\nexpand = true\n");
    let xml = domain("pc", "", &nics(59));
    assert!(plan(&xml, None, &HostPci::default()).is_err());
    let out = assign(&xml, &p);
    assert_eq!(count(&out, "multifunction"), 0);
    assert_stable(&out, &p);
}

#[test]
fn expand_names_the_ceiling_and_how_many_devices_fit() {
    let p = policy("version = 1\nexpand = true\n");
    let e = plan(
        &domain("q35", "", &nics(2500)),
        Some(&p),
        &HostPci::default(),
    )
    .unwrap_err();
    let msg = e.to_string();
    assert!(msg.contains("exhausted"), "{msg}");
    assert!(
        msg.contains("of the 2500 devices to place would fit"),
        "{msg}"
    );
    assert_eq!(e.class(), pciplan::ErrorClass::Unsupported);
}

#[test]
fn expand_counts_exactly_how_many_devices_fit() {
    let p = policy("version = 1\nexpand = true\n");
    let e = plan(
        &domain("q35", "", &nics(1897)),
        Some(&p),
        &HostPci::default(),
    )
    .unwrap_err();
    assert!(
        e.to_string()
            .contains("; 1896 of the 1897 devices to place would fit"),
        "{e}"
    );
    assert!(
        plan(
            &domain("q35", "", &nics(1896)),
            Some(&p),
            &HostPci::default()
        )
        .is_ok()
    );
}

#[test]
fn expand_does_nothing_while_libvirts_algorithm_has_room() {
    let xml = domain("q35", "", &nics(20));
    assert_eq!(
        assign(&xml, &policy("version = 1\nexpand = true\n")),
        plan(&xml, None, &HostPci::default()).unwrap()
    );
}

const NUMA: &str = "  <cpu><numa><cell id='0' cpus='0-1' memory='1048576'/><cell id='1' memory='1048576'/></numa></cpu>\n";

#[test]
fn a_group_goes_behind_one_expander_bus_on_its_numa_node() {
    let p = policy(
        "version = 1\n[[group]]\nkey = 'n1'\nnode = 1\ndevices = ['mac:52:54:00:00:00:01', 'interface[3]']\n",
    );
    let out = assign(&domain("q35", NUMA, &nics(3)), &p);
    assert_eq!(count(&out, "model='pcie-expander-bus'"), 1);
    assert!(out.contains("<node>1</node>"));
    assert_stable(&out, &p);
}

#[test]
fn a_new_group_member_joins_the_groups_expander_bus_on_re_plan() {
    let p = policy(
        "version = 1\n[[group]]\nkey = 'n1'\nnode = 1\ndevices = ['interface[1]', 'interface[2]']\n",
    );
    let first = assign(&domain("q35", NUMA, &nics(1)), &p);
    let more = first.replace(
        "  </devices>",
        "    <interface type='network'><source network='default'/><model type='virtio'/></interface>\n  </devices>",
    );
    let second = assign(&more, &p);
    assert_eq!(count(&second, "model='pcie-expander-bus'"), 1);
    assert_stable(&second, &p);
}

#[test]
fn a_group_selector_that_matches_nothing_yet_changes_nothing() {
    let p = policy("version = 1\n[[group]]\nkey = 'g'\ndevices = ['mac:52:54:00:ff:ff:ff']\n");
    let xml = domain("q35", "", &nics(1));
    assert_eq!(
        assign(&xml, &p),
        plan(&xml, None, &HostPci::default()).unwrap()
    );
}

#[test]
fn host_functions_of_one_host_slot_share_one_guest_slot() {
    let host =
        HostPci::from_tsv("address\tis_pcie\n0000:3b:00.0\ttrue\n0000:3b:00.1\ttrue\n").unwrap();
    let hd = |f: u8| {
        format!(
            "    <hostdev mode='subsystem' type='pci' managed='yes'><source><address domain='0x0000' bus='0x3b' slot='0x00' function='0x{f}'/></source></hostdev>\n"
        )
    };
    let xml = domain("q35", "", &format!("{}{}", hd(1), hd(0)));
    let p = policy("version = 1\nhost_multifunction = true\n");
    let out = plan(&xml, Some(&p), &host).unwrap();
    assert!(
        out.contains("slot='0x00' function='0x0' multifunction='on'/></source>")
            || out.contains("function='0x0' multifunction='on'/>")
    );
    assert!(out.contains("function='0x1'/></hostdev>"));
}

#[test]
fn hotplug_off_is_set_on_the_ports_of_the_chosen_devices() {
    let p = policy("version = 1\nhotplug_off = ['disk']\n");
    let out = assign(
        &domain(
            "q35",
            "",
            "    <disk type='file' device='disk'><source file='/a'/><target dev='vda' bus='virtio'/></disk>\n",
        ),
        &p,
    );
    assert_eq!(count(&out, "hotplug='off'"), 1);
    assert_stable(&out, &p);
}

#[test]
fn strict_rejects_switch_ports_that_hang_off_each_other() {
    let xml = domain(
        "q35",
        "",
        "    <controller type='pci' index='2' model='pcie-switch-upstream-port'/>\n    <controller type='pci' index='1' model='pcie-switch-downstream-port'/>\n",
    );
    assert!(plan(&xml, None, &HostPci::default()).is_ok());
    let e = plan(
        &xml,
        Some(&policy("version = 1\nstrict = true\n")),
        &HostPci::default(),
    )
    .unwrap_err();
    assert!(e.to_string().contains("strict"), "{e}");
}

#[test]
fn io_windows_refuse_names_the_budget() {
    let p = policy("version = 1\nio_windows = 'refuse'\n");
    let e = plan(&domain("q35", "", &nics(20)), Some(&p), &HostPci::default()).unwrap_err();
    assert!(e.to_string().contains("I/O windows budget exceeded"), "{e}");
}

#[test]
fn a_policy_on_pseries_is_refused_with_the_machine_named() {
    let xml = "<domain type='kvm'><name>p</name><memory>1048576</memory><os><type arch='ppc64' machine='pseries'>hvm</type></os><devices/></domain>";
    let e = plan(
        xml,
        Some(&policy("version = 1\nspare_ports = 1\n")),
        &HostPci::default(),
    )
    .unwrap_err();
    assert!(e.to_string().contains("not available on machine"), "{e}");
}

#[test]
fn a_failed_policy_plan_leaves_the_plan_unchanged() {
    let xml = domain("q35", "", &nics(2500));
    let (_doc, mut p) =
        pciplan::libvirt::parse_domain_builtin(&xml, &HostPci::default(), Default::default())
            .unwrap();
    let before = p.clone();
    assert!(
        p.assign_with(&policy("version = 1\nexpand = true\n"), &[])
            .is_err()
    );
    assert_eq!(p, before);
}
