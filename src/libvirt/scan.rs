//! A linear pre-scan of the raw text, before the XML parser sees it.
//!
//! roxmltree checks an element's attributes for duplicates against every
//! earlier attribute of that element (quadratic in the attribute count) and
//! copies the namespaces in scope into every element that declares one
//! (quadratic in declarations × declaring elements). Both are bounded here,
//! in one pass over the bytes, together with the nesting depth, so that the
//! parser only ever sees input on which it is linear. The scan is
//! deliberately loose: it only counts; malformed XML passes it and is
//! refused by the parser.

use crate::error::{ConfigError, Error};

/// Counts start tags' attributes, `xmlns` declarations and nesting depth;
/// [`ConfigError::Limit`] as soon as one is above its limit.
pub(super) fn prescan(text: &str) -> Result<(), Error> {
    let bytes = text.as_bytes();
    // A declaration's name contains `xmlns`: without one in the whole text
    // there is none to count, and names need not be tracked.
    let names = if memchr::memmem::find(bytes, b"xmlns").is_some() {
        Names::Tracked
    } else {
        Names::Ignored
    };
    let mut depth = 0usize;
    let mut namespaces = 0usize;
    let mut i = 0usize;
    while let Some(off) = find(bytes, i, b'<') {
        let at = off.saturating_add(1);
        i = match bytes.get(at) {
            Some(b'!') => {
                let rest = bytes.get(at..).unwrap_or_default();
                if rest.starts_with(b"!--") {
                    skip_past(bytes, at, b"-->")
                } else if rest.starts_with(b"![CDATA[") {
                    skip_past(bytes, at, b"]]>")
                } else {
                    // A DTD: the parser refuses it without reading further.
                    return Ok(());
                }
            }
            Some(b'?') => skip_past(bytes, at, b"?>"),
            Some(b'/') => {
                depth = depth.saturating_sub(1);
                skip_past(bytes, at, b">")
            }
            _ => {
                let tag = start_tag(bytes, at, names);
                if tag.attributes > super::MAX_ATTRIBUTES {
                    return limit("attributes of one element", super::MAX_ATTRIBUTES);
                }
                namespaces = namespaces.saturating_add(tag.namespaces);
                if namespaces > super::MAX_NAMESPACES {
                    return limit("namespace declarations", super::MAX_NAMESPACES);
                }
                if !tag.empty {
                    depth = depth.saturating_add(1);
                    if depth > super::MAX_DEPTH {
                        return limit("element nesting depth", super::MAX_DEPTH);
                    }
                }
                tag.end
            }
        };
    }
    Ok(())
}

fn limit(what: &'static str, limit: usize) -> Result<(), Error> {
    Err(ConfigError::Limit { what, limit }.into())
}

/// What one start tag holds.
struct StartTag {
    /// `name=` pairs outside quotes (attributes and `xmlns` declarations).
    attributes: usize,
    /// `xmlns` and `xmlns:p` declarations.
    namespaces: usize,
    /// Written `<name/>`.
    empty: bool,
    /// Just past the tag.
    end: usize,
}

/// Whether the scan looks at the name before each `=` (to count `xmlns`
/// declarations).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Names {
    /// The text has no `xmlns` anywhere: there is no declaration to count.
    Ignored,
    /// Names are tracked from the white space in front of them.
    Tracked,
}

impl Names {
    /// The bytes a start tag's scan stops at, as a bit mask over 0..64 (all
    /// of them are below 64): quotes, `=` and `>`, and white space when
    /// names are tracked.
    fn stops(self) -> u64 {
        const fn bit(b: u8) -> u64 {
            1 << b
        }
        let tag = bit(b'\'') | bit(b'"') | bit(b'=') | bit(b'>');
        match self {
            Names::Ignored => tag,
            Names::Tracked => tag | bit(b' ') | bit(b'\t') | bit(b'\r') | bit(b'\n'),
        }
    }
}

/// Reads the start tag whose name begins at `at`; `xmlns` declarations are
/// counted only when `names` are tracked.
fn start_tag(bytes: &[u8], at: usize, names: Names) -> StartTag {
    let stops = names.stops();
    let mut tag = StartTag {
        attributes: 0,
        namespaces: 0,
        empty: false,
        end: bytes.len(),
    };
    // Start of the current name (after whitespace), to spot `xmlns`.
    let mut name_start = at;
    let mut j = at;
    loop {
        // Every other byte is part of a name (or stray): skip it.
        while let Some(&b) = bytes.get(j) {
            if b < 64 && (stops >> b) & 1 != 0 {
                break;
            }
            j += 1;
        }
        let Some(&b) = bytes.get(j) else {
            return tag;
        };
        match b {
            b'\'' | b'"' => {
                // A value: jump to its closing quote.
                let Some(close) = find(bytes, j.saturating_add(1), b) else {
                    return tag;
                };
                j = close;
                name_start = j.saturating_add(1);
            }
            b'=' => {
                tag.attributes = tag.attributes.saturating_add(1);
                if names == Names::Tracked {
                    let name = bytes.get(name_start..j).unwrap_or_default().trim_ascii();
                    if name == b"xmlns" || name.starts_with(b"xmlns:") {
                        tag.namespaces = tag.namespaces.saturating_add(1);
                    }
                }
            }
            b'>' => {
                tag.empty = j > at && bytes.get(j.saturating_sub(1)) == Some(&b'/');
                tag.end = j.saturating_add(1);
                return tag;
            }
            // White space (when names are tracked).
            _ => name_start = j,
        }
        j = j.saturating_add(1);
    }
}

/// Position of the next `needle` byte from `from`. Most gaps in a domain
/// are a few bytes (an indentation, a short value): those are looked at
/// one by one, longer ones with `memchr`.
fn find(bytes: &[u8], from: usize, needle: u8) -> Option<usize> {
    const NEAR: usize = 16;
    let hay = bytes.get(from..)?;
    let (near, far) = hay.split_at(hay.len().min(NEAR));
    for (k, &b) in near.iter().enumerate() {
        if b == needle {
            return Some(from + k);
        }
    }
    memchr::memchr(needle, far).map(|p| from + NEAR + p)
}

/// Just past the next `end` from `from` (the text's end when none).
fn skip_past(bytes: &[u8], from: usize, end: &[u8]) -> usize {
    let Some(hay) = bytes.get(from..) else {
        return bytes.len();
    };
    let found = match end {
        [b] => find(bytes, from, *b).map(|p| p.saturating_sub(from)),
        _ => memchr::memmem::find(hay, end),
    };
    found.map_or(bytes.len(), |p| {
        p.saturating_add(from).saturating_add(end.len())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_document_passes() {
        let xml = "<?xml version='1.0'?><!-- a > b --><domain a='1' b=\"x>y\">\
                   <![CDATA[<not a tag='1'>]]><devices/></domain>";
        assert!(prescan(xml).is_ok());
    }

    #[test]
    fn too_many_attributes_is_a_limit() {
        let attrs: String = (0..=super::super::MAX_ATTRIBUTES)
            .map(|i| format!(" a{i}=''"))
            .collect();
        let xml = format!("<domain{attrs}/>");
        assert_eq!(
            prescan(&xml).unwrap_err().to_string(),
            "XML error: attributes of one element exceeds the limit of 128"
        );
    }

    #[test]
    fn equals_in_values_are_not_attributes() {
        let value = "=".repeat(1000);
        assert!(prescan(&format!("<domain a='{value}'/>")).is_ok());
    }

    #[test]
    fn too_deep_nesting_is_a_limit() {
        let xml = "<a>".repeat(super::super::MAX_DEPTH + 1);
        assert!(prescan(&xml).is_err());
        let empty = "<a/>".repeat(10_000);
        assert!(prescan(&empty).is_ok());
    }

    #[test]
    fn too_many_namespace_declarations_is_a_limit() {
        let xml = "<a xmlns:x='u'/>".repeat(super::super::MAX_NAMESPACES + 1);
        assert!(prescan(&xml).is_err());
    }
}
