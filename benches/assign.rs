//! Address assignment on large topologies: the whole libvirt pipeline
//! (`Plan::assign`), validation of a fully addressed plan, one live attach,
//! XML in → XML out, and placement policies past libvirt's ceilings
//! (`Plan::assign_with`).
//!
//! Run with `cargo bench --bench assign`. Every iteration checks its result,
//! so a bench that measures a failure fails instead.
//!
//! `PCIPLAN_BENCH_WRITE_DATA=1 cargo bench --bench assign -- libvirt` rewrites
//! `benches/data/pc-bridges-7679.xml` from the factory before checking it.

mod common;

use std::hint::black_box;
use std::time::Duration;

use criterion::{BatchSize, BenchmarkId, Criterion, criterion_group, criterion_main};
use pciplan::machine::HostPci;
use pciplan::policy::Policy;
use pciplan::{Capabilities, Error, Machine, Plan};

/// The 7,679-NIC domain as XML, for `pciplan assign` and its memory figure.
const PC_BRIDGES_XML: &str = "benches/data/pc-bridges-7679.xml";

/// Short runs: the whole `cargo bench` stays well under five minutes on two
/// cores.
fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(30)
}

/// Runs a bench group whose setup can fail; a setup failure ends the run.
fn run(c: &mut Criterion, group: fn(&mut Criterion) -> Result<(), Error>) {
    if let Err(e) = group(c) {
        eprintln!("bench setup failed: {e}");
        std::process::exit(1);
    }
}

/// Benches `plan.assign()` on clones of `plan`, checking that the last NIC
/// gets the address of a first run.
fn bench_assign(
    c: &mut Criterion,
    group: &str,
    case: &str,
    size: usize,
    plan: &Plan,
) -> Result<(), Error> {
    let mut expected = plan.clone();
    expected.assign()?;
    let Some((nic, addr)) = common::last_nic(&expected) else {
        eprintln!("{group}/{case}/{size}: no NIC was placed");
        std::process::exit(1);
    };
    let devices = expected.devices().len();
    c.benchmark_group(group)
        .bench_function(BenchmarkId::new(case, size), |b| {
            b.iter_batched(
                || plan.clone(),
                |mut p| {
                    let r = black_box(&mut p).assign();
                    assert!(r.is_ok(), "{r:?}");
                    assert_eq!(p.devices().len(), devices);
                    assert!(common::has_address(&p, nic, addr));
                    p
                },
                BatchSize::LargeInput,
            );
        });
    Ok(())
}

/// Measures `Plan::assign` with N virtio NICs on q35 (237 is libvirt's
/// ceiling: 238 fails) and on pc (928 is the ceiling: 929 fails), and with
/// 7,679 NICs behind 255 given pci-bridges.
fn plan(c: &mut Criterion) -> Result<(), Error> {
    for n in [10, 100, 237] {
        bench_assign(c, "plan", "q35", n, &common::nics(Machine::q35(), n))?;
    }
    for n in [100, 500, 928] {
        bench_assign(c, "plan", "pc", n, &common::nics(Machine::pc(), n))?;
    }
    let n = common::PC_BRIDGES_NICS;
    bench_assign(c, "plan", "pc-bridges", n, &common::pc_bridges(n)?)
}

/// Measures `Plan::assign` on the `pc-bridges` topology with every address
/// already given (the output of a first assignment): validation only.
fn validate(c: &mut Criterion) -> Result<(), Error> {
    let n = common::PC_BRIDGES_NICS;
    let mut given = common::pc_bridges(n)?;
    given.assign()?;
    bench_assign(c, "validate", "pc-bridges", n, &given)
}

/// Measures one `Plan::hotplug_add` into an assigned q35 plan with 237 NICs,
/// which has exactly one free hot-pluggable port (the spare root port).
fn hotplug(c: &mut Criterion) -> Result<(), Error> {
    let mut full = common::nics(Machine::q35(), 237);
    full.assign()?;
    let mut once = full.clone();
    let i = once.hotplug_add(common::virtio_nic())?;
    let Some(addr) = once.devices().get(i).and_then(|d| d.address.present()) else {
        eprintln!("hotplug/q35/near-full: the attached NIC has no address");
        std::process::exit(1);
    };
    if once.hotplug_add(common::virtio_nic()).is_ok() {
        eprintln!("hotplug/q35/near-full: more than one port was free");
        std::process::exit(1);
    }
    c.benchmark_group("hotplug")
        .bench_function(BenchmarkId::new("q35", "near-full"), |b| {
            b.iter_batched(
                || full.clone(),
                |mut p| {
                    let r = p.hotplug_add(black_box(common::virtio_nic()));
                    assert!(
                        r.as_ref().is_ok_and(|&j| common::has_address(&p, j, addr)),
                        "{r:?}"
                    );
                    p
                },
                BatchSize::LargeInput,
            );
        });
    Ok(())
}

/// Measures `libvirt::assign_xml` (parse, assign, write) on pc domains with
/// 100 and 928 virtio NICs, and on the `pc-bridges` domain of
/// `benches/data/pc-bridges-7679.xml`.
fn libvirt(c: &mut Criterion) -> Result<(), Error> {
    let caps = Capabilities::qemu_8_0_x86_64();
    let host = HostPci::default();
    let n = common::PC_BRIDGES_NICS;
    let generated = common::pc_bridges_xml(n);
    if std::env::var_os("PCIPLAN_BENCH_WRITE_DATA").is_some()
        && let Err(e) = std::fs::write(PC_BRIDGES_XML, &generated)
    {
        eprintln!("cannot write {PC_BRIDGES_XML}: {e}");
        std::process::exit(1);
    }
    match std::fs::read_to_string(PC_BRIDGES_XML) {
        Ok(text) if text == generated => {}
        _ => {
            eprintln!(
                "{PC_BRIDGES_XML} is missing or stale; rerun with PCIPLAN_BENCH_WRITE_DATA=1"
            );
            std::process::exit(1);
        }
    }
    let cases = [
        ("assign", 100, common::nics_xml("pc", 100)),
        ("assign", 928, common::nics_xml("pc", 928)),
        ("assign-pc-bridges", n, generated),
    ];
    let mut group = c.benchmark_group("libvirt");
    for (case, size, xml) in &cases {
        let expected = pciplan::libvirt::assign_xml(xml, &caps, &host)?;
        group.bench_function(BenchmarkId::new(*case, size), |b| {
            b.iter(|| {
                let out = pciplan::libvirt::assign_xml(black_box(xml), &caps, &host);
                assert!(out.as_ref().is_ok_and(|o| *o == expected));
                out
            });
        });
    }
    group.finish();
    Ok(())
}

/// Benches `plan.assign_with(policy)` on clones of `plan`, checking that
/// every NIC gets an address.
fn bench_policy(
    c: &mut Criterion,
    case: &str,
    size: usize,
    plan: &Plan,
    policy: &Policy,
) -> Result<(), Error> {
    let mut expected = plan.clone();
    expected.assign_with(policy, &[])?;
    let placed = |p: &Plan| {
        p.devices()
            .iter()
            .filter(|d| d.address.present().is_some())
            .count()
    };
    let want = placed(&expected);
    c.benchmark_group("policy")
        .bench_function(BenchmarkId::new(case, size), |b| {
            b.iter_batched(
                || plan.clone(),
                |mut p| {
                    let r = black_box(&mut p).assign_with(policy, &[]);
                    assert!(r.is_ok(), "{r:?}");
                    assert_eq!(placed(&p), want);
                    p
                },
                BatchSize::LargeInput,
            );
        });
    Ok(())
}

/// Measures `Plan::assign_with` under `expand` past libvirt's ceilings:
/// q35 with 1,000 and 1,800 virtio NICs (libvirt fails from 238), pc with
/// 1,000 and 7,900 (libvirt's own limit is 7,679 behind bridges); and
/// `spare_ports = 8` on q35 with 100 NICs. Linear: compare per-device times.
fn policy(c: &mut Criterion) -> Result<(), Error> {
    let expand = Policy {
        expand: true,
        ..Policy::default()
    };
    for n in [1000, 1800] {
        bench_policy(
            c,
            "expand-q35",
            n,
            &common::nics(Machine::q35(), n),
            &expand,
        )?;
    }
    for n in [1000, 7900] {
        bench_policy(c, "expand-pc", n, &common::nics(Machine::pc(), n), &expand)?;
    }
    let spares = Policy {
        spare_ports: 8,
        ..Policy::default()
    };
    bench_policy(
        c,
        "spares-q35",
        100,
        &common::nics(Machine::q35(), 100),
        &spares,
    )
}

fn benches(c: &mut Criterion) {
    run(c, policy);
    run(c, plan);
    run(c, validate);
    run(c, hotplug);
    run(c, libvirt);
}

criterion_group! {
    name = assign;
    config = config();
    targets = benches
}
criterion_main!(assign);
