//! A QEMU process with a QMP channel on its standard input and output.
//!
//! Every read has a deadline (a reader thread feeds a channel), and the
//! process is killed and reaped when the [`Vm`] is dropped, whatever happens.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// Why a QEMU session failed.
#[derive(Debug)]
pub enum VmError {
    /// QEMU exited (or closed QMP) before answering: it rejected the command
    /// line. Holds its standard error.
    Rejected(String),
    /// QEMU did not answer in time, or answered with an error.
    Protocol(String),
}

/// A running QEMU.
pub struct Vm {
    child: Child,
    stdin: ChildStdin,
    lines: Receiver<String>,
    stderr: Arc<Mutex<String>>,
}

impl Vm {
    /// Starts the QEMU `program` with these arguments plus `-qmp stdio`,
    /// and negotiates QMP capabilities.
    pub fn start(program: &str, args: &[String], timeout: Duration) -> Result<Vm, VmError> {
        let mut child = Command::new(program)
            .args(args)
            .args(["-qmp", "stdio"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| VmError::Rejected(format!("cannot start {program}: {e}")))?;
        let (Some(stdin), Some(stdout), Some(mut err)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(VmError::Protocol("no pipes".into()));
        };
        let (tx, lines) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let stderr = Arc::new(Mutex::new(String::new()));
        let sink = Arc::clone(&stderr);
        thread::spawn(move || {
            let mut text = String::new();
            let _ = err.read_to_string(&mut text);
            if let Ok(mut s) = sink.lock() {
                s.push_str(&text);
            }
        });
        let mut vm = Vm {
            child,
            stdin,
            lines,
            stderr,
        };
        vm.read_message(timeout)?; // greeting
        vm.execute("qmp_capabilities", json!({}), timeout)?;
        Ok(vm)
    }

    /// QEMU's standard error so far (waits a moment for the process to end).
    fn stderr_text(&mut self) -> String {
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                break;
            }
            thread::sleep(Duration::from_millis(20));
        }
        // Let the reader thread drain the pipe.
        thread::sleep(Duration::from_millis(50));
        self.stderr
            .lock()
            .map(|s| s.trim().to_string())
            .unwrap_or_default()
    }

    /// The next non-event message.
    fn read_message(&mut self, timeout: Duration) -> Result<Value, VmError> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    let v: Value = serde_json::from_str(&line)
                        .map_err(|e| VmError::Protocol(format!("bad QMP line {line:?}: {e}")))?;
                    if v.get("event").is_none() {
                        return Ok(v);
                    }
                }
                Err(RecvTimeoutError::Disconnected) => {
                    return Err(VmError::Rejected(self.stderr_text()));
                }
                Err(RecvTimeoutError::Timeout) => {
                    return Err(VmError::Protocol(format!(
                        "no QMP answer within {timeout:?}; stderr: {}",
                        self.stderr.lock().map(|s| s.clone()).unwrap_or_default()
                    )));
                }
            }
        }
    }

    /// Runs a QMP command and returns its `return` value.
    pub fn execute(
        &mut self,
        command: &str,
        arguments: Value,
        timeout: Duration,
    ) -> Result<Value, VmError> {
        let msg = json!({ "execute": command, "arguments": arguments });
        writeln!(self.stdin, "{msg}")
            .and_then(|()| self.stdin.flush())
            .map_err(|_| VmError::Rejected(self.stderr_text()))?;
        let reply = self.read_message(timeout)?;
        match reply.get("return") {
            Some(r) => Ok(r.clone()),
            None => Err(VmError::Protocol(format!("{command}: {reply}"))),
        }
    }
}

impl Drop for Vm {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `<program> --version`'s first line, or `None` when that QEMU is missing.
pub fn version(program: &str) -> Option<String> {
    let out = Command::new(program).arg("--version").output().ok()?;
    if !out.status.success() {
        return None;
    }
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .next()
        .map(str::to_string)
}
