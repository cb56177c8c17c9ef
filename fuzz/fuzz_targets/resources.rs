//! Bounded time and memory on every input (issue 13).
//!
//! A small `arbitrary` description is expanded into a large document (up
//! to a little over the 4 MiB input limit): repeated text, PCI controllers
//! with any index, elements with many attributes, deep nesting, many
//! namespace declarations, SCSI drives naming any controller, virtio
//! channels, and a capabilities file with many machines. Everything must be
//! answered, accepted or refused, within 2 s of CPU time and 100 MB of peak
//! heap, both measured here for each input: CPU time from
//! `/proc/thread-self/schedstat` (a busy shared machine makes wall-clock
//! timeouts false), the heap by a counting allocator (the process RSS that
//! `-rss_limit_mb` watches keeps what earlier inputs freed, so it creeps up
//! to any limit). Run without a sanitizer: `cargo +nightly fuzz run
//! --sanitizer none resources -- -timeout=20 -rss_limit_mb=1024`, where the
//! two flags are only safety nets.
#![no_main]

use std::alloc::{GlobalAlloc, Layout, System};
use std::fmt::Write;
use std::sync::atomic::{AtomicUsize, Ordering};

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use pciplan::Capabilities;
use pciplan::libvirt::{MAX_INPUT_BYTES, assign_xml, parse_caps_xml};
use pciplan::machine::HostPci;

#[derive(Arbitrary, Debug)]
enum Part {
    /// Short text repeated.
    Repeat { text: String, times: u32 },
    /// A PCI controller with any index.
    Controller { index: u64, model: u8 },
    /// One element with this many attributes.
    Attributes { count: u32, namespaced: bool },
    /// Elements nested this deep.
    Nest { depth: u32 },
    /// This many namespace declarations.
    Namespaces { count: u32 },
    /// A SCSI disk on any controller.
    ScsiDrive { controller: u64 },
    /// This many virtio channels.
    Channels { count: u16 },
    /// This many devices with an address.
    Devices { count: u32, slot: u8 },
    /// Text as is.
    Raw(String),
}

#[derive(Arbitrary, Debug)]
struct Spec {
    q35: bool,
    parts: Vec<Part>,
    caps_machines: Option<u32>,
}

const MODELS: [&str; 6] = [
    "pci-bridge",
    "pcie-root-port",
    "pcie-to-pci-bridge",
    "pci-expander-bus",
    "dmi-to-pci-bridge",
    "pcie-switch-upstream-port",
];

/// Room for the limit to be exceeded, but not by much.
const CAP: usize = MAX_INPUT_BYTES + 4096;

fn expand(spec: &Spec) -> String {
    let machine = if spec.q35 { "q35" } else { "pc" };
    let mut s = format!(
        "<domain type='kvm'><name>r</name><os><type arch='x86_64' machine='{machine}'>hvm</type></os><devices>\n"
    );
    for part in &spec.parts {
        if s.len() > CAP {
            break;
        }
        let room = CAP.saturating_sub(s.len());
        match part {
            Part::Repeat { text, times } => {
                if !text.is_empty() {
                    let n = (*times as usize).min(room / text.len() + 1);
                    s.push_str(&text.repeat(n));
                }
            }
            Part::Controller { index, model } => {
                let model = MODELS[usize::from(*model) % MODELS.len()];
                let _ = writeln!(s, "<controller type='pci' index='{index}' model='{model}'/>");
            }
            Part::Attributes { count, namespaced } => {
                let n = (*count as usize).min(room / 8);
                s.push_str(if *namespaced { "<rng xmlns:x='urn:x' model='virtio'" } else { "<rng model='virtio'" });
                for i in 0..n {
                    let _ = write!(s, " {}a{i:x}=''", if *namespaced { "x:" } else { "" });
                }
                s.push_str("/>\n");
            }
            Part::Nest { depth } => {
                let n = (*depth as usize).min(room / 8);
                s.push_str(&"<x>".repeat(n));
                s.push_str(&"</x>".repeat(n));
            }
            Part::Namespaces { count } => {
                let n = (*count as usize).min(room / 24);
                for i in 0..n {
                    let _ = write!(s, "<n:e xmlns:n='urn:{i}'/>");
                }
            }
            Part::ScsiDrive { controller } => {
                let _ = writeln!(
                    s,
                    "<disk type='file' device='disk'><target dev='sda' bus='scsi'/><address type='drive' controller='{controller}' bus='0' target='0' unit='0'/></disk>"
                );
            }
            Part::Channels { count } => {
                for i in 0..usize::from(*count).min(room / 64) {
                    let _ = writeln!(s, "<channel type='pty'><target type='virtio' name='c{i}'/></channel>");
                }
            }
            Part::Devices { count, slot } => {
                for _ in 0..(*count as usize).min(room / 96) {
                    let _ = writeln!(
                        s,
                        "<rng model='virtio'><address type='pci' slot='{}'/></rng>",
                        slot % 32
                    );
                }
            }
            Part::Raw(text) => s.push_str(text),
        }
    }
    s.push_str("</devices></domain>\n");
    s
}

/// The system allocator, counting the bytes in use and their peak.
struct Counting;

static IN_USE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is forwarded to `System` unchanged; only counters are
// kept beside it.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract is `System`'s.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let now = IN_USE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract is `System`'s.
        unsafe { System.dealloc(ptr, layout) };
        IN_USE.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller's contract is `System`'s.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            IN_USE.fetch_sub(layout.size(), Ordering::Relaxed);
            let now = IN_USE.fetch_add(new_size, Ordering::Relaxed) + new_size;
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// The peak heap every input must stay under.
const HEAP_BOUND: usize = 100 * 1024 * 1024;

/// Nanoseconds this thread has run on a CPU (Linux `schedstat`).
fn cpu_ns() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    s.split_whitespace().next()?.parse().ok()
}

/// The CPU time every input must stay under.
const CPU_BOUND_NS: u64 = 2_000_000_000;

fuzz_target!(|spec: Spec| {
    let start = cpu_ns();
    PEAK.store(IN_USE.load(Ordering::Relaxed), Ordering::Relaxed);
    let base = IN_USE.load(Ordering::Relaxed);
    check(&spec);
    let heap = PEAK.load(Ordering::Relaxed).saturating_sub(base);
    assert!(heap <= HEAP_BOUND, "peak heap {heap} bytes for {spec:?}");
    if let (Some(a), Some(b)) = (start, cpu_ns()) {
        let used = b.saturating_sub(a);
        assert!(used <= CPU_BOUND_NS, "took {used} ns of CPU for {spec:?}");
    }
});

fn check(spec: &Spec) {
    let xml = expand(spec);
    let caps = Capabilities::qemu_8_0_x86_64();
    let host = HostPci::default();
    if let Ok(out) = assign_xml(&xml, &caps, &host) {
        let _ = assign_xml(&out, &caps, &host);
    }
    if let Some(n) = spec.caps_machines {
        let mut c = String::from("<qemuCaps>\n");
        for i in 0..(n as usize).min(MAX_INPUT_BYTES / 24) {
            let _ = writeln!(c, "<machine name='m{}'/>", i % 50_000);
        }
        c.push_str("</qemuCaps>\n");
        let _ = parse_caps_xml(&c);
    }
}
