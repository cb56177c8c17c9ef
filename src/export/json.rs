//! The export records written as compact JSON without a serializer: the
//! same bytes as `serde_json` writes for them (with the `serde` feature a
//! test compares the two), at the cost of copying the text once. The CLI's
//! `--format json` writes every device of large plans this way.

use super::{DeviceRecord, DeviceRef};
use crate::address::PciAddress;
use crate::diff::Identity;
use crate::explain::ChainLink;

impl DeviceRecord {
    /// Appends the record as one line of compact JSON (no newline).
    ///
    /// ```
    /// use pciplan::{Capabilities, Machine, Plan};
    /// let mut plan = Plan::new(Machine::q35(), Capabilities::qemu_8_0_x86_64());
    /// plan.assign()?;
    /// let records = pciplan::export::records(&plan.clone(), &plan, &[]);
    /// let mut line = String::new();
    /// records[0].write_json(&mut line);
    /// assert!(line.starts_with("{\"schema_version\":1,"));
    /// # Ok::<(), pciplan::Error>(())
    /// ```
    pub fn write_json(&self, out: &mut String) {
        // Each key text carries the quotes around the string after it.
        out.push_str("{\"schema_version\":");
        push_uint(out, u64::from(self.schema_version));
        out.push_str(",\"element\":\"");
        push_escaped(out, self.element);
        out.push_str("\",\"ordinal\":");
        push_uint(out, self.ordinal as u64);
        out.push_str(",\"address\":");
        push_opt_addr(out, self.address.as_ref());
        out.push_str(",\"connect_flags\":\"");
        push_escaped(out, &self.connect_flags);
        out.push_str("\",\"flag_names\":[");
        for (k, name) in self.flag_names.iter().enumerate() {
            out.push_str(if k > 0 { ",\"" } else { "\"" });
            push_escaped(out, name);
            out.push('"');
        }
        out.push_str("],\"origin\":\"");
        push_escaped(out, self.origin);
        out.push_str("\",\"added_for\":");
        match &self.added_for {
            Some(r) => push_ref(out, r),
            None => out.push_str("null"),
        }
        out.push_str(",\"name\":\"");
        push_escaped(out, &self.name);
        out.push_str("\",\"identity\":");
        push_identity(out, &self.identity);
        out.push_str(",\"parent_chain\":[");
        for (k, link) in self.parent_chain.iter().enumerate() {
            if k > 0 {
                out.push(',');
            }
            push_link(out, link);
        }
        out.push_str("]}");
    }
}

fn push_ref(out: &mut String, r: &DeviceRef) {
    out.push_str("{\"element\":");
    push_str(out, r.element);
    out.push_str(",\"ordinal\":");
    push_uint(out, r.ordinal as u64);
    out.push('}');
}

fn push_link(out: &mut String, link: &ChainLink) {
    out.push_str("{\"index\":");
    push_uint(out, u64::from(link.index));
    out.push_str(",\"model\":\"");
    push_escaped(out, link.model.as_str());
    out.push_str("\",\"address\":");
    push_opt_addr(out, link.address.as_ref());
    out.push('}');
}

/// Only the keys that are set, in declaration order.
fn push_identity(out: &mut String, id: &Identity) {
    let mut first = true;
    let mut key = |out: &mut String, name: &str| {
        out.push_str(if first { "{\"" } else { ",\"" });
        first = false;
        out.push_str(name);
        out.push_str("\":");
    };
    let strings = [
        ("alias", &id.alias),
        ("mac", &id.mac),
        ("target", &id.target),
        ("serial", &id.serial),
    ];
    for (name, value) in strings {
        if let Some(v) = value {
            key(out, name);
            push_str(out, v);
        }
    }
    if let Some(a) = &id.host_source {
        key(out, "host_source");
        push_opt_addr(out, Some(a));
    }
    if let Some((ty, index)) = &id.controller {
        key(out, "controller");
        out.push('[');
        push_str(out, ty);
        out.push(',');
        push_uint(out, u64::from(*index));
        out.push(']');
    }
    out.push_str(if first { "{}" } else { "}" });
}

fn push_opt_addr(out: &mut String, a: Option<&PciAddress>) {
    match a {
        Some(a) => {
            out.push('"');
            a.push_text(out);
            out.push('"');
        }
        None => out.push_str("null"),
    }
}

fn push_uint(out: &mut String, mut v: u64) {
    // The digits, lowest first, then pushed highest first (no text to
    // validate).
    let mut digits = [0u8; 20];
    let mut len = 0;
    loop {
        if let Some(d) = digits.get_mut(len) {
            *d = b'0' + (v % 10) as u8;
        }
        len += 1;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    for &d in digits.get(..len).unwrap_or_default().iter().rev() {
        out.push(char::from(d));
    }
}

/// A JSON string as `serde_json` escapes it: `"` and `\`, the short
/// escapes `\b \f \n \r \t`, other control characters as `\u00XX`;
/// everything else as it is.
fn push_str(out: &mut String, s: &str) {
    out.push('"');
    push_escaped(out, s);
    out.push('"');
}

/// [`push_str`] without the quotes.
fn push_escaped(out: &mut String, s: &str) {
    // Most strings need no escape: one plain scan, one copy.
    if !s.bytes().any(|b| b < 0x20 || b == b'"' || b == b'\\') {
        out.push_str(s);
        return;
    }
    let mut start = 0;
    for (i, b) in s.bytes().enumerate() {
        let short = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            0x08 => "\\b",
            0x0c => "\\f",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0..=0x1f => "",
            _ => continue,
        };
        out.push_str(s.get(start..i).unwrap_or_default());
        if short.is_empty() {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.push_str("\\u00");
            for nib in [b >> 4, b & 0xf] {
                out.push(char::from(
                    HEX.get(usize::from(nib)).copied().unwrap_or(b'0'),
                ));
            }
        } else {
            out.push_str(short);
        }
        start = i + 1;
    }
    out.push_str(s.get(start..).unwrap_or_default());
}

#[cfg(test)]
mod tests {
    use super::{push_str, push_uint};

    #[test]
    fn strings_are_escaped_as_serde_json_escapes_them() {
        let mut out = String::new();
        push_str(&mut out, "a\"b\\c\u{8}\u{c}\n\r\t\u{1}\u{1f}\u{7f}é");
        assert_eq!(
            out,
            format!(r#""a\"b\\c\b\f\n\r\t\u0001\u001f{}""#, "\u{7f}é")
        );
    }

    #[test]
    fn numbers_are_written_in_decimal() {
        for v in [0u64, 7, 10, 255, u64::MAX] {
            let mut out = String::new();
            push_uint(&mut out, v);
            assert_eq!(out, v.to_string());
        }
    }
}
