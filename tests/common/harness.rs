//! The replay machinery shared by the corpus tests (`conformance`, `oracle`):
//! reading files, running a case with panics turned into failures, and the
//! expected-pass lists that only grow.

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::fs;
use std::panic::{self, AssertUnwindSafe};
use std::path::Path;

use pciplan::libvirt::{parse_domain, write_domain};
use pciplan::machine::HostPci;
use pciplan::{Capabilities, ConfigError, LibvirtVersion};

use super::pci_view;

/// Environment variable that adds the passing cases to an expected-pass list.
pub const UPDATE_ENV: &str = "PCIPLAN_UPDATE_EXPECTED_PASS";

/// Reads a file, naming it in the error.
pub fn read(path: &Path) -> Result<String, String> {
    fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

/// The first line where two texts differ, for a short failure message.
pub fn first_text_difference(a: &str, b: &str) -> String {
    for (n, (la, lb)) in a.lines().zip(b.lines()).enumerate() {
        if la != lb {
            return format!(
                "line {}: first {:?}, then {:?}",
                n.saturating_add(1),
                la.trim(),
                lb.trim()
            );
        }
    }
    format!(
        "first has {} lines, then {} lines",
        a.lines().count(),
        b.lines().count()
    )
}

thread_local! {
    static LAST_PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Installs a quiet panic hook that only remembers where a panic happened;
/// returns a guard that puts the previous hook back when dropped.
pub fn quiet_panics() -> HookGuard {
    let previous = panic::take_hook();
    panic::set_hook(Box::new(|info| {
        let at = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        LAST_PANIC.with(|p| *p.borrow_mut() = Some(at));
    }));
    HookGuard(Some(previous))
}

/// A panic hook, as `std::panic::take_hook` returns it.
type Hook = Box<dyn Fn(&panic::PanicHookInfo<'_>) + Sync + Send + 'static>;

/// Restores the panic hook that [`quiet_panics`] replaced.
pub struct HookGuard(Option<Hook>);

impl Drop for HookGuard {
    fn drop(&mut self) {
        if let Some(h) = self.0.take() {
            panic::set_hook(h);
        }
    }
}

/// Runs one case under `catch_unwind`; a panic becomes a failure message.
pub fn guarded(case: impl FnOnce() -> Result<(), String>) -> Result<(), String> {
    LAST_PANIC.with(|p| p.borrow_mut().take());
    match panic::catch_unwind(AssertUnwindSafe(case)) {
        Ok(r) => r,
        Err(payload) => {
            let msg = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "non-string payload".into());
            let at = LAST_PANIC
                .with(|p| p.borrow_mut().take())
                .unwrap_or_default();
            Err(format!("PANIC: {msg}{at}"))
        }
    }
}

/// Reads an expected-pass list: one case per line, `#` starts a comment.
/// The case directories under `dir` (those with an `input.xml`), sorted
/// by name. Not every test binary that has `common` lists cases.
#[allow(dead_code)]
pub fn case_names(dir: &Path) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).map_err(|e| format!("cannot list {}: {e}", dir.display()))? {
        let entry = entry.map_err(|e| format!("cannot list {}: {e}", dir.display()))?;
        if entry.path().join("input.xml").is_file() {
            out.push(entry.file_name().to_string_lossy().into_owned());
        }
    }
    out.sort();
    Ok(out)
}

pub fn read_expected_pass(path: &Path) -> Result<BTreeSet<String>, String> {
    if !path.exists() {
        return Ok(BTreeSet::new());
    }
    Ok(read(path)?
        .lines()
        .map(|l| l.split('#').next().unwrap_or("").trim())
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect())
}

/// Writes an expected-pass list under a comment header.
pub fn write_expected_pass(
    path: &Path,
    header: &str,
    cases: &BTreeSet<String>,
) -> Result<(), String> {
    let mut text = String::from(header);
    for c in cases {
        text.push_str(c);
        text.push('\n');
    }
    fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// What one corpus run found, for [`finish`].
pub struct Outcome<'a> {
    /// Summary lines (already printed).
    pub summary: String,
    /// Per-case report lines.
    pub report: String,
    /// File name of the report under `target/`.
    pub report_file: &'a str,
    /// Every case of the corpus.
    pub known: BTreeSet<&'a str>,
    /// The expected-pass list as read.
    pub must_pass: BTreeSet<String>,
    /// Cases that passed in this run.
    pub passing: BTreeSet<String>,
    /// Failures of listed cases, one line each.
    pub regressions: Vec<String>,
    /// The expected-pass list's path.
    pub pass_list: &'a Path,
    /// The list's comment header (used when it is rewritten).
    pub pass_list_header: &'a str,
}

/// Writes the report, grows the expected-pass list when asked
/// ([`UPDATE_ENV`]), and fails when the list names unknown cases or a listed
/// case failed.
pub fn finish(o: Outcome<'_>) -> Result<(), String> {
    let target = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .map_or_else(|| std::path::PathBuf::from("target"), Path::to_path_buf);
    let report_path = target.join(o.report_file);
    if let Err(e) = fs::write(&report_path, format!("{}\n{}", o.summary, o.report)) {
        eprintln!("cannot write {}: {e}", report_path.display());
    } else {
        eprintln!("per-case report: {}", report_path.display());
    }
    let stale: Vec<&String> = o
        .must_pass
        .iter()
        .filter(|c| !o.known.contains(c.as_str()))
        .collect();
    if std::env::var_os(UPDATE_ENV).is_some_and(|v| v == "1") {
        let mut grown = o.must_pass.clone();
        grown.extend(o.passing.iter().cloned());
        write_expected_pass(o.pass_list, o.pass_list_header, &grown)?;
        eprintln!(
            "{UPDATE_ENV}: {} now lists {} cases ({} new)",
            o.pass_list.display(),
            grown.len(),
            grown.len().saturating_sub(o.must_pass.len())
        );
    }
    let list = o.pass_list.display();
    if !stale.is_empty() {
        return Err(format!(
            "{list} names cases that are not in the corpus: {stale:?}"
        ));
    }
    if !o.regressions.is_empty() {
        eprintln!("cases listed in {list} that failed:");
        for r in &o.regressions {
            eprintln!("  {r}");
        }
        return Err(format!(
            "{} case(s) listed in {list} failed (see above and {})",
            o.regressions.len(),
            report_path.display()
        ));
    }
    Ok(())
}

/// Parse, assign and write a domain as a new or a stored definition, with
/// the answers of one libvirt version.
pub fn assign(
    xml: &str,
    caps: &Capabilities,
    host: &HostPci,
    new_definition: bool,
    libvirt: LibvirtVersion,
) -> Result<String, pciplan::Error> {
    let (doc, mut plan) = parse_domain(xml, caps, host)?;
    plan.set_new_definition(new_definition);
    plan.set_libvirt(libvirt);
    let before = plan.clone();
    if let Err(e) = plan.assign() {
        // Every refusal of the corpus also checks that a failed assignment
        // takes back all it changed.
        assert!(
            plan == before,
            "the failed assignment ({e}) changed the plan"
        );
        return Err(e);
    }
    write_domain(&doc, &plan)
}

/// The idempotence check: assigning the output `out` again (`again`) gives
/// it back. Two exceptions are libvirt's own (its output is not a fixed
/// point there either): PCI controllers may gain zPCI ids (rule 25), and a
/// `model='none'` USB controller beside the default one is refused (rule 28).
pub fn check_fixed_point(out: &str, again: Result<String, pciplan::Error>) -> Result<(), String> {
    let again = match again {
        Ok(again) => again,
        Err(pciplan::Error::Config {
            reason: ConfigError::UsbDisabledController,
            ..
        }) => return Ok(()),
        Err(e) => {
            return Err(format!(
                "not idempotent: re-assigning the output failed: {e}"
            ));
        }
    };
    if again == out {
        return Ok(());
    }
    let only_controller_zpci = match (pci_view::view(out), pci_view::view(&again)) {
        (Ok(a), Ok(b)) => pci_view::same_but_controller_zpci(&a, &b),
        _ => false,
    };
    if only_controller_zpci {
        return Ok(());
    }
    Err(format!(
        "not idempotent: re-assigning the output changed it\n  {}",
        first_text_difference(out, &again)
    ))
}
