//! The replay machinery shared by the corpus tests (`conformance`, `oracle`):
//! reading files, running a case with panics turned into failures, and the
//! expected-pass lists that only grow.

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::fs;
use std::panic::{self, AssertUnwindSafe};
use std::path::Path;

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
