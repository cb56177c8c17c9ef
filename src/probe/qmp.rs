//! A QMP session with a QEMU child process, bounded in time.
//!
//! The child's standard output is read by a thread that hands complete
//! lines over a channel, so every wait has a deadline; the child is killed
//! and reaped when the session ends, whatever the outcome.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::thread::JoinHandle;
use std::time::Instant;

use serde_json::Value;

use super::ProbeError;

/// Longest QMP line accepted (QEMU's longest answer, `query-machines` of
/// qemu-system-aarch64, is about 60 KB).
const MAX_LINE: u64 = 16 * 1024 * 1024;

/// Most of QEMU's standard error kept for an error message.
const MAX_STDERR: u64 = 4096;

pub(super) struct Session {
    binary: String,
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<Result<String, String>>,
    stderr: Option<JoinHandle<String>>,
    deadline: Instant,
    seconds: u64,
    next_id: u64,
}

impl Session {
    /// Starts `binary` as libvirt does for its probe (`-S -no-user-config
    /// -nodefaults -nographic -machine none`), with QMP on standard
    /// input/output, TCG first (no `/dev/kvm` needed) and KVM for the
    /// KVM-only builds (`qemu-system-x86_64-microvm`), and reads the greeting.
    pub(super) fn start(
        binary: &Path,
        deadline: Instant,
        seconds: u64,
    ) -> Result<(Session, Value), ProbeError> {
        let name = binary.display().to_string();
        let mut child = Command::new(binary)
            .args([
                "-S",
                "-no-user-config",
                "-nodefaults",
                "-nographic",
                "-machine",
                "none",
                "-accel",
                "tcg",
                "-accel",
                "kvm",
                "-qmp",
                "stdio",
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| ProbeError::Spawn {
                binary: name.clone(),
                message: e.to_string(),
            })?;
        let stdin = child.stdin.take();
        let stdout = child.stdout.take();
        let stderr = child.stderr.take().map(|err| {
            std::thread::spawn(move || {
                let mut text = String::new();
                let _ = err.take(MAX_STDERR).read_to_string(&mut text);
                text
            })
        });
        let (tx, lines) = channel();
        if let Some(out) = stdout {
            std::thread::spawn(move || {
                let mut reader = BufReader::new(out);
                loop {
                    let mut line = Vec::new();
                    match (&mut reader).take(MAX_LINE).read_until(b'\n', &mut line) {
                        Ok(0) => break,
                        Ok(_) if !line.ends_with(b"\n") && line.len() as u64 >= MAX_LINE => {
                            let _ = tx.send(Err("a QMP line longer than 16 MiB".to_string()));
                            break;
                        }
                        Ok(_) => {
                            let text = String::from_utf8_lossy(&line).into_owned();
                            if tx.send(Ok(text)).is_err() {
                                break;
                            }
                        }
                        Err(e) => {
                            let _ = tx.send(Err(e.to_string()));
                            break;
                        }
                    }
                }
            });
        }
        let mut session = Session {
            binary: name,
            child,
            stdin,
            lines,
            stderr,
            deadline,
            seconds,
            next_id: 0,
        };
        let greeting = session.next_message()?;
        if greeting.get("QMP").is_none() {
            return Err(session.protocol("the first message is not a QMP greeting"));
        }
        Ok((session, greeting))
    }

    /// Sends one command and returns its `return` value.
    pub(super) fn execute(
        &mut self,
        command: &str,
        arguments: Option<Value>,
    ) -> Result<Value, ProbeError> {
        self.next_id = self.next_id.saturating_add(1);
        let id = format!("pciplan-{}", self.next_id);
        let mut request = serde_json::json!({ "execute": command, "id": id });
        if let (Some(args), Some(obj)) = (arguments, request.as_object_mut()) {
            obj.insert("arguments".to_string(), args);
        }
        let mut text = request.to_string();
        text.push('\n');
        let written = match self.stdin.as_mut() {
            Some(stdin) => stdin
                .write_all(text.as_bytes())
                .and_then(|()| stdin.flush()),
            None => Err(std::io::Error::other("no standard input")),
        };
        if let Err(e) = written {
            return Err(self.early_exit(&format!("cannot send {command}: {e}")));
        }
        loop {
            let mut message = self.next_message()?;
            if message.get("event").is_some()
                || message.get("id").and_then(Value::as_str) != Some(id.as_str())
            {
                continue;
            }
            if let Some(error) = message.get("error") {
                let desc = error
                    .get("desc")
                    .and_then(Value::as_str)
                    .unwrap_or("unknown error")
                    .to_string();
                return Err(ProbeError::Command {
                    binary: self.binary.clone(),
                    command: command.to_string(),
                    message: desc,
                });
            }
            return match message.get_mut("return") {
                Some(v) => Ok(v.take()),
                None => Err(self.protocol(&format!("the answer to {command} has no return value"))),
            };
        }
    }

    /// Asks QEMU to quit (best effort; the child is killed on drop anyway).
    pub(super) fn quit(mut self) {
        let _ = self.execute("quit", None);
    }

    fn next_message(&mut self) -> Result<Value, ProbeError> {
        let now = Instant::now();
        let wait = self.deadline.saturating_duration_since(now);
        match self.lines.recv_timeout(wait) {
            Ok(Ok(line)) => serde_json::from_str(line.trim())
                .map_err(|e| self.protocol(&format!("not JSON ({e}): {}", excerpt(&line)))),
            Ok(Err(e)) => Err(self.protocol(&e)),
            Err(RecvTimeoutError::Timeout) => Err(ProbeError::Timeout {
                binary: self.binary.clone(),
                seconds: self.seconds,
            }),
            Err(RecvTimeoutError::Disconnected) => {
                Err(self.early_exit("QEMU closed its QMP connection"))
            }
        }
    }

    fn protocol(&self, message: &str) -> ProbeError {
        ProbeError::Protocol {
            binary: self.binary.clone(),
            message: message.to_string(),
        }
    }

    /// The child went away: report its exit status and standard error.
    fn early_exit(&mut self, what: &str) -> ProbeError {
        let _ = self.child.kill();
        let status = self.child.wait().map(|s| s.to_string()).unwrap_or_default();
        let stderr = self
            .stderr
            .take()
            .and_then(|h| h.join().ok())
            .unwrap_or_default();
        let stderr = stderr.split_whitespace().collect::<Vec<_>>().join(" ");
        ProbeError::Exited {
            binary: self.binary.clone(),
            message: if stderr.is_empty() {
                format!("{what} ({status})")
            } else {
                format!("{what} ({status}): {stderr}")
            },
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        drop(self.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn excerpt(line: &str) -> String {
    line.trim().chars().take(80).collect()
}
