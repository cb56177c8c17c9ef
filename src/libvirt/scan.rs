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
    let mut depth = 0usize;
    let mut namespaces = 0usize;
    let mut i = 0usize;
    while let Some(off) = find(bytes, i, b'<') {
        let at = off.saturating_add(1);
        let rest = bytes.get(at..).unwrap_or_default();
        i = if rest.starts_with(b"!--") {
            skip_past(bytes, at, b"-->")
        } else if rest.starts_with(b"![CDATA[") {
            skip_past(bytes, at, b"]]>")
        } else if rest.starts_with(b"?") {
            skip_past(bytes, at, b"?>")
        } else if rest.starts_with(b"!") {
            // A DTD: the parser refuses it without reading further.
            return Ok(());
        } else if rest.starts_with(b"/") {
            depth = depth.saturating_sub(1);
            skip_past(bytes, at, b">")
        } else {
            let tag = start_tag(bytes, at);
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

/// Reads the start tag whose name begins at `at`.
fn start_tag(bytes: &[u8], at: usize) -> StartTag {
    let mut tag = StartTag {
        attributes: 0,
        namespaces: 0,
        empty: false,
        end: bytes.len(),
    };
    // Start of the current name (after whitespace), to spot `xmlns`.
    let mut name_start = at;
    let mut prev = 0u8;
    let mut j = at;
    while let Some(&b) = bytes.get(j) {
        match b {
            b'\'' | b'"' => {
                // A value: jump to its closing quote.
                let after = j.saturating_add(1);
                let Some(len) = bytes.get(after..).and_then(|v| memchr::memchr(b, v)) else {
                    return tag;
                };
                j = after.saturating_add(len);
                name_start = j.saturating_add(1);
            }
            b'=' => {
                tag.attributes = tag.attributes.saturating_add(1);
                let name = bytes.get(name_start..j).unwrap_or_default().trim_ascii();
                if name == b"xmlns" || name.starts_with(b"xmlns:") {
                    tag.namespaces = tag.namespaces.saturating_add(1);
                }
            }
            b'>' => {
                tag.empty = prev == b'/';
                tag.end = j.saturating_add(1);
                return tag;
            }
            b' ' | b'\t' | b'\r' | b'\n' => name_start = j,
            _ => {}
        }
        prev = b;
        j = j.saturating_add(1);
    }
    tag
}

/// Position of the next `needle` byte from `from`.
fn find(bytes: &[u8], from: usize, needle: u8) -> Option<usize> {
    memchr::memchr(needle, bytes.get(from..)?).map(|p| p.saturating_add(from))
}

/// Just past the next `end` from `from` (the text's end when none).
fn skip_past(bytes: &[u8], from: usize, end: &[u8]) -> usize {
    let Some(hay) = bytes.get(from..) else {
        return bytes.len();
    };
    let found = match end {
        [b] => memchr::memchr(*b, hay),
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
