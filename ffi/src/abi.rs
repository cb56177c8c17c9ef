//! The `extern "C"` functions: the only `unsafe` code of pciplan.
//!
//! Each function checks its pointers, turns C strings into `&str` (UTF-8
//! checked), runs the safe code of `context.rs` under `catch_unwind`, and
//! writes its answers through the out-pointers. Strings handed out are
//! `CString`s given up with `into_raw` and taken back by
//! [`pciplan_string_free`]; a context is a `Box` given up with `into_raw`
//! and taken back by [`pciplan_context_free`].
#![allow(unsafe_code)]

use std::ffi::{CStr, CString, c_char, c_int};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::ptr;

use crate::context::{Context, Failure, PciplanStatus};

/// The inputs besides the domain: capabilities, host PCI devices, libvirt
/// version. Opaque; made by [`pciplan_context_new`], freed by
/// [`pciplan_context_free`]. A `NULL` context means the defaults.
pub struct PciplanContext {
    inner: Context,
}

/// pciplan's version, a static NUL-terminated string (never free it).
#[unsafe(no_mangle)]
pub extern "C" fn pciplan_version() -> *const c_char {
    const VERSION: &CStr =
        match CStr::from_bytes_with_nul(concat!(env!("CARGO_PKG_VERSION"), "\0").as_bytes()) {
            Ok(v) => v,
            Err(_) => c"unknown",
        };
    VERSION.as_ptr()
}

/// Makes a context.
///
/// `caps_xml`: the text of a QEMU capabilities file (`--caps`), or `NULL`
/// for the built-in set of each domain's architecture. `host_pci_tsv`: the
/// text of a `--host-pci` table, or `NULL`. `libvirt_version`: `"9.0"`,
/// `"11.3"`, or `NULL` for 9.0. On success `*out` is the new context; on
/// failure `*error` (when `error` is not `NULL`) is the message, to free
/// with [`pciplan_string_free`].
///
/// # Safety
/// Every non-`NULL` string must be NUL-terminated and valid for reads;
/// `out` and `error` must be `NULL` or valid for writes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pciplan_context_new(
    caps_xml: *const c_char,
    host_pci_tsv: *const c_char,
    libvirt_version: *const c_char,
    out: *mut *mut PciplanContext,
    error: *mut *mut c_char,
) -> PciplanStatus {
    // SAFETY: the caller promises `error` is NULL or writable.
    unsafe { clear(error) };
    if out.is_null() {
        // SAFETY: as above.
        return unsafe { fail(error, Failure::invalid("out is NULL")) };
    }
    // SAFETY: the caller promises `out` is writable; it is not NULL.
    unsafe { out.write(ptr::null_mut()) };
    let result = guard(|| {
        // SAFETY: the caller promises these are NULL or C strings.
        let caps = unsafe { optional_str(caps_xml, "caps_xml") }?;
        // SAFETY: as above.
        let host = unsafe { optional_str(host_pci_tsv, "host_pci_tsv") }?;
        // SAFETY: as above.
        let libvirt = unsafe { optional_str(libvirt_version, "libvirt_version") }?;
        Context::new(caps, host, libvirt)
    });
    match result {
        Ok(inner) => {
            let boxed = Box::into_raw(Box::new(PciplanContext { inner }));
            // SAFETY: `out` is writable (checked non-NULL above).
            unsafe { out.write(boxed) };
            PciplanStatus::Ok
        }
        // SAFETY: the caller promises `error` is NULL or writable.
        Err(f) => unsafe { fail(error, f) },
    }
}

/// Frees a context (`NULL` is allowed and does nothing).
///
/// # Safety
/// `context` must be `NULL` or a context from [`pciplan_context_new`] not
/// freed yet.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pciplan_context_free(context: *mut PciplanContext) {
    if !context.is_null() {
        // SAFETY: it came from `Box::into_raw` in `pciplan_context_new`
        // and is freed once (the caller's promise).
        drop(unsafe { Box::from_raw(context) });
    }
}

/// `pciplan assign`: the domain XML with PCI addresses and the controllers
/// libvirt would add, byte for byte the CLI's output.
///
/// On success `*out` is the result; on a refusal the status is libvirt's
/// error class and `*error` libvirt's message. Free both with
/// [`pciplan_string_free`].
///
/// # Safety
/// `context` must be `NULL` or a live context; `domain_xml` a C string;
/// `out` and `error` `NULL` or valid for writes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pciplan_assign(
    context: *const PciplanContext,
    domain_xml: *const c_char,
    out: *mut *mut c_char,
    error: *mut *mut c_char,
) -> PciplanStatus {
    // SAFETY: forwarded caller promises.
    unsafe {
        run(out, error, || {
            let xml = required_str(domain_xml, "domain_xml")?;
            with_context(context, |c| c.assign(xml))
        })
    }
}

/// `pciplan explain` (text): why each device has its address. When the
/// definition is refused, the status is libvirt's error class, `*error` the
/// message and `*out` the explanation of the refusal (rule, devices, fix),
/// as the CLI prints it.
///
/// # Safety
/// As [`pciplan_assign`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pciplan_explain(
    context: *const PciplanContext,
    domain_xml: *const c_char,
    out: *mut *mut c_char,
    error: *mut *mut c_char,
) -> PciplanStatus {
    // SAFETY: forwarded caller promises.
    unsafe {
        run(out, error, || {
            let xml = required_str(domain_xml, "domain_xml")?;
            with_context(context, |c| c.explain(xml))
        })
    }
}

/// `pciplan diff` (text): the guest-ABI changes from `old_xml` (with
/// `old_context`) to `new_xml` (with `new_context`). `*abi_unchanged` (when
/// not `NULL`) is 1 when the guest ABI is unchanged, else 0.
///
/// # Safety
/// As [`pciplan_assign`]; `abi_unchanged` `NULL` or valid for writes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pciplan_diff(
    old_context: *const PciplanContext,
    old_xml: *const c_char,
    new_context: *const PciplanContext,
    new_xml: *const c_char,
    out: *mut *mut c_char,
    abi_unchanged: *mut c_int,
    error: *mut *mut c_char,
) -> PciplanStatus {
    // SAFETY: forwarded caller promises.
    unsafe {
        run(out, error, || {
            let old = required_str(old_xml, "old_xml")?;
            let new = required_str(new_xml, "new_xml")?;
            let (text, unchanged) = with_context(old_context, |o| {
                with_context(new_context, |n| o.diff(old, n, new))
            })?;
            if !abi_unchanged.is_null() {
                abi_unchanged.write(c_int::from(unchanged));
            }
            Ok(text)
        })
    }
}

/// Frees a string pciplan returned (`NULL` is allowed and does nothing).
///
/// # Safety
/// `s` must be `NULL` or a string from this library not freed yet.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pciplan_string_free(s: *mut c_char) {
    if !s.is_null() {
        // SAFETY: it came from `CString::into_raw` in this module and is
        // freed once (the caller's promise).
        drop(unsafe { CString::from_raw(s) });
    }
}

/// Runs `f` with the context (`NULL` = the defaults).
///
/// # Safety
/// `context` is `NULL` or a live context.
unsafe fn with_context<T>(context: *const PciplanContext, f: impl FnOnce(&Context) -> T) -> T {
    if context.is_null() {
        f(&Context::default())
    } else {
        // SAFETY: a live context (the caller's promise), only read.
        f(unsafe { &(*context).inner })
    }
}

/// The common shape of the string-returning calls.
///
/// # Safety
/// `out` and `error` are `NULL` or valid for writes; `f`'s own unsafe
/// operations are the caller's promises.
unsafe fn run(
    out: *mut *mut c_char,
    error: *mut *mut c_char,
    f: impl FnOnce() -> Result<String, Failure>,
) -> PciplanStatus {
    // SAFETY: the caller promises `out`/`error` are NULL or writable.
    unsafe {
        clear(error);
        if out.is_null() {
            return fail(error, Failure::invalid("out is NULL"));
        }
        out.write(ptr::null_mut());
    }
    match guard(f) {
        Ok(text) => match to_c(text) {
            Ok(s) => {
                // SAFETY: `out` is writable (checked above).
                unsafe { out.write(s) };
                PciplanStatus::Ok
            }
            // SAFETY: as above.
            Err(f) => unsafe { fail(error, f) },
        },
        Err(mut f) => {
            if let Some(text) = f.text.take()
                && let Ok(s) = to_c(text)
            {
                // SAFETY: `out` is writable (checked above).
                unsafe { out.write(s) };
            }
            // SAFETY: as above.
            unsafe { fail(error, f) }
        }
    }
}

/// Runs `f`, turning a panic into [`PciplanStatus::Panic`].
fn guard<T>(f: impl FnOnce() -> Result<T, Failure>) -> Result<T, Failure> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(payload) => {
            let what = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            Err(Failure {
                status: PciplanStatus::Panic,
                message: format!("internal error: pciplan panicked: {what}"),
                text: None,
            })
        }
    }
}

fn to_c(text: String) -> Result<*mut c_char, Failure> {
    CString::new(text)
        .map(CString::into_raw)
        .map_err(|_| Failure::invalid("the answer holds a NUL byte"))
}

/// Writes the message to `*error` (when not `NULL`) and returns the status.
///
/// # Safety
/// `error` is `NULL` or valid for writes.
unsafe fn fail(error: *mut *mut c_char, f: Failure) -> PciplanStatus {
    if !error.is_null() {
        let message = CString::new(f.message.replace('\0', " ")).unwrap_or_default();
        // SAFETY: writable (the caller's promise), not NULL.
        unsafe { error.write(message.into_raw()) };
    }
    f.status
}

/// Sets `*error` to `NULL` (when `error` is not `NULL`).
///
/// # Safety
/// `error` is `NULL` or valid for writes.
unsafe fn clear(error: *mut *mut c_char) {
    if !error.is_null() {
        // SAFETY: writable (the caller's promise), not NULL.
        unsafe { error.write(ptr::null_mut()) };
    }
}

/// A C string argument as UTF-8.
///
/// # Safety
/// `s` is `NULL` or a NUL-terminated string valid for reads.
unsafe fn required_str<'a>(s: *const c_char, name: &str) -> Result<&'a str, Failure> {
    // SAFETY: forwarded.
    unsafe { optional_str(s, name) }?.ok_or_else(|| Failure::invalid(format!("{name} is NULL")))
}

/// An optional C string argument as UTF-8 (`NULL` = `None`).
///
/// # Safety
/// `s` is `NULL` or a NUL-terminated string valid for reads.
unsafe fn optional_str<'a>(s: *const c_char, name: &str) -> Result<Option<&'a str>, Failure> {
    if s.is_null() {
        return Ok(None);
    }
    // SAFETY: a NUL-terminated string valid for reads (the caller's promise).
    let c = unsafe { CStr::from_ptr(s) };
    c.to_str()
        .map(Some)
        .map_err(|_| Failure::invalid(format!("{name} is not UTF-8")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assign_through_the_abi_round_trips_strings() {
        let xml = c"<domain type='kvm'><os><type arch='x86_64' machine='q35'>hvm</type></os><devices/></domain>";
        let (mut out, mut err) = (ptr::null_mut(), ptr::null_mut());
        // SAFETY: valid C string and out-pointers.
        let status = unsafe { pciplan_assign(ptr::null(), xml.as_ptr(), &mut out, &mut err) };
        assert_eq!(status, PciplanStatus::Ok);
        assert!(err.is_null());
        // SAFETY: `out` is a string from the library.
        let text = unsafe { CStr::from_ptr(out) }.to_str().unwrap().to_string();
        // SAFETY: freed once.
        unsafe { pciplan_string_free(out) };
        assert!(text.contains("pcie-root"));
    }

    #[test]
    fn null_domain_is_an_invalid_argument() {
        let (mut out, mut err) = (ptr::null_mut(), ptr::null_mut());
        // SAFETY: valid out-pointers.
        let status = unsafe { pciplan_assign(ptr::null(), ptr::null(), &mut out, &mut err) };
        assert_eq!(status, PciplanStatus::InvalidArgument);
        assert!(out.is_null());
        // SAFETY: `err` is a string from the library.
        unsafe { pciplan_string_free(err) };
    }

    #[test]
    fn a_panic_is_caught_at_the_boundary() {
        let r: Result<(), Failure> = guard(|| panic!("boom"));
        assert_eq!(r.unwrap_err().status, PciplanStatus::Panic);
    }
}
