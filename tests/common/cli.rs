//! `pciplan assign --policy POLICY --caps CAPS -` with the domain on
//! standard input, for the tests that plan through the CLI.

use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Output, Stdio};

/// Runs the CLI on `xml`; `Err` when it cannot be run at all.
pub fn assign_policy(policy: &Path, caps: &Path, xml: &str) -> Result<Output, String> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_pciplan"))
        .arg("assign")
        .arg("--policy")
        .arg(policy)
        .arg("--caps")
        .arg(caps)
        .arg("-")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start pciplan: {e}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(xml.as_bytes())
            .map_err(|e| format!("cannot write to pciplan: {e}"))?;
    }
    child
        .wait_with_output()
        .map_err(|e| format!("pciplan: {e}"))
}
