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
///
/// The bytes that matter (`<`, `>`, quotes, `=`) are found 64 at a time
/// ([`Marks`]); everything between them is skipped unread.
pub(super) fn prescan(text: &str) -> Result<(), Error> {
    let bytes = text.as_bytes();
    // A declaration's name contains `xmlns`: without one in the whole text
    // there is none to count, and names need not be looked at.
    let names = if memchr::memmem::find(bytes, b"xmlns").is_some() {
        Names::Tracked
    } else {
        Names::Ignored
    };
    let mut marks = Marks::new(bytes);
    let mut depth = 0usize;
    let mut namespaces = 0usize;
    while let Some(off) = marks.pop_byte(b'<') {
        let at = off + 1;
        match bytes.get(at) {
            Some(b'!') => {
                let rest = bytes.get(at..).unwrap_or_default();
                if rest.starts_with(b"!--") {
                    marks.seek(skip_past(bytes, at, b"-->"));
                } else if rest.starts_with(b"![CDATA[") {
                    marks.seek(skip_past(bytes, at, b"]]>"));
                } else {
                    // A DTD: the parser refuses it without reading further.
                    return Ok(());
                }
            }
            Some(b'?') => marks.seek(skip_past(bytes, at, b"?>")),
            Some(b'/') => {
                depth = depth.saturating_sub(1);
                // Up to the end tag's `>` (or the text's end).
                let _ = marks.pop_byte(b'>');
            }
            _ => {
                let tag = start_tag(&mut marks, at, names);
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
            }
        }
    }
    Ok(())
}

/// Whether [`prescan`] must run before the parser sees the text. It need
/// not when the text has no `xmlns` anywhere (no declaration to count) and
/// no run of [`GAP`] bytes without a `<` (no start tag long enough to hold
/// more than [`super::MAX_ATTRIBUTES`] attributes): the parser is linear on
/// such text, and on a tree it parses [`deeper_than`] decides the last of
/// the pre-scan's limits. Every aligned block of half a gap holding a `<`
/// is enough, and is found with one short search per block.
pub(super) fn needs_prescan(text: &str) -> bool {
    let bytes = text.as_bytes();
    memchr::memmem::find(bytes, b"xmlns").is_some()
        || bytes
            .chunks_exact(GAP / 2)
            .any(|block| memchr::memchr(b'<', block).is_none())
}

/// Longest run of bytes without a `<` that [`needs_prescan`] lets through,
/// plus one. A start tag holds no `<`, and an attribute takes at least
/// five bytes (a space, a name, `=`, two quotes): a tag within a run this
/// short has fewer than `GAP / 5` attributes.
const GAP: usize = 640;
const _: () = assert!(GAP / 5 <= super::MAX_ATTRIBUTES);

/// Whether an element of the tree that is not written `<name/>` is nested
/// deeper than `limit` (the root element is at depth 1): [`prescan`]'s
/// depth limit, which counts the elements a start tag opens, decided on a
/// parsed tree in one walk without memory.
pub(super) fn deeper_than(tree: &roxmltree::Document<'_>, limit: usize) -> bool {
    let text = tree.input_text().as_bytes();
    let opens = |n: roxmltree::Node<'_, '_>| {
        n.is_element()
            && (n.has_children()
                || !text
                    .get(..n.range().end)
                    .is_some_and(|t| t.ends_with(b"/>")))
    };
    // `depth` is that of `node`; the document node is at 0.
    let mut node = tree.root();
    let mut depth = 0usize;
    loop {
        if let Some(c) = node.first_child() {
            node = c;
            depth += 1;
        } else {
            loop {
                if let Some(s) = node.next_sibling() {
                    node = s;
                    break;
                }
                match node.parent() {
                    Some(p) => {
                        node = p;
                        depth = depth.saturating_sub(1);
                    }
                    None => return false,
                }
            }
        }
        if depth > limit && opens(node) {
            return true;
        }
    }
}

fn limit(what: &'static str, limit: usize) -> Result<(), Error> {
    Err(ConfigError::Limit { what, limit }.into())
}

/// Whether the scan looks at the name before each `=` (to count `xmlns`
/// declarations).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Names {
    /// The text has no `xmlns` anywhere: there is no declaration to count.
    Ignored,
    /// The name in front of each `=` is read.
    Tracked,
}

/// What one start tag holds.
struct StartTag {
    /// `name=` pairs outside quotes (attributes and `xmlns` declarations).
    attributes: usize,
    /// `xmlns` and `xmlns:p` declarations.
    namespaces: usize,
    /// Written `<name/>`.
    empty: bool,
}

/// The white space that starts a name.
fn name_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

/// Reads the start tag whose name begins at `at` (the marks from there
/// on): up to the first `>` outside quotes (a value runs to the next quote
/// of its kind, wherever that is), counting each `=` outside quotes.
fn start_tag(marks: &mut Marks<'_>, at: usize, names: Names) -> StartTag {
    let bytes = marks.bytes;
    let mut tag = StartTag {
        attributes: 0,
        namespaces: 0,
        empty: false,
    };
    // A name starts after the last value or the last white space before
    // its `=`: `name_start` is the later of the two among the bytes up to
    // `seen` (each byte is looked at once).
    let mut seen = at;
    let mut name_start = at;
    while let Some(p) = marks.pop() {
        match bytes.get(p) {
            Some(&q @ (b'\'' | b'"')) => {
                // A value: up to its closing quote.
                let Some(close) = marks.pop_byte(q) else {
                    return tag;
                };
                seen = close + 1;
                name_start = seen;
            }
            Some(b'=') => {
                tag.attributes = tag.attributes.saturating_add(1);
                if names == Names::Tracked {
                    let fresh = bytes.get(seen..p).unwrap_or_default();
                    if let Some(k) = fresh.iter().rposition(|&b| name_space(b)) {
                        name_start = seen + k;
                    }
                    seen = p;
                    let name = bytes.get(name_start..p).unwrap_or_default().trim_ascii();
                    if name == b"xmlns" || name.starts_with(b"xmlns:") {
                        tag.namespaces = tag.namespaces.saturating_add(1);
                    }
                }
            }
            Some(b'>') => {
                tag.empty = p > at && bytes.get(p - 1) == Some(&b'/');
                return tag;
            }
            // `<` means nothing inside a tag.
            _ => {}
        }
    }
    tag
}

/// The bytes the scan stops at (`<`, `>`, `'`, `"`, `=`), taken in text
/// order, 64 bytes at a time: a block's bytes are classified in one loop
/// the compiler vectorises and packed into a bit mask, from which the
/// marks are taken one by one.
struct Marks<'a> {
    bytes: &'a [u8],
    /// Where the current block starts (a multiple of 64).
    base: usize,
    /// Bit k: the byte at `base + k` is a mark not taken yet.
    mask: u64,
}

/// The bytes of one block.
const BLOCK: usize = 64;

impl<'a> Marks<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        let mut m = Marks {
            bytes,
            base: 0,
            mask: 0,
        };
        m.load(0);
        m
    }

    /// Classifies the block starting at `base` (once per 64 bytes: kept
    /// out of line so that taking a mark stays small).
    #[inline(never)]
    fn load(&mut self, base: usize) {
        let block = self.bytes.get(base..).unwrap_or_default();
        let block = block.get(..BLOCK).unwrap_or(block);
        let mut class = [0u8; BLOCK];
        for (c, &b) in class.iter_mut().zip(block) {
            *c = u8::from(b == b'<')
                | u8::from(b == b'>')
                | u8::from(b == b'\'')
                | u8::from(b == b'"')
                | u8::from(b == b'=');
        }
        // Eight 0/1 bytes to eight bits: the multiplication moves byte
        // k's bit to bit 56 + k, with no two products overlapping.
        let (words, _) = class.as_chunks::<8>();
        let mut mask = 0u64;
        for (k, w) in words.iter().enumerate() {
            let packed = u64::from_le_bytes(*w).wrapping_mul(0x0102_0408_1020_4080) >> 56;
            mask |= packed << (8 * k);
        }
        self.base = base;
        self.mask = mask;
    }

    /// The next mark.
    #[inline]
    fn pop(&mut self) -> Option<usize> {
        while self.mask == 0 {
            let next = self.base + BLOCK;
            if next >= self.bytes.len() {
                return None;
            }
            self.load(next);
        }
        let k = self.mask.trailing_zeros() as usize;
        self.mask &= self.mask - 1;
        Some(self.base + k)
    }

    /// The next mark that is `needle` (the ones before it are dropped).
    #[inline]
    fn pop_byte(&mut self, needle: u8) -> Option<usize> {
        loop {
            let p = self.pop()?;
            if self.bytes.get(p) == Some(&needle) {
                return Some(p);
            }
        }
    }

    /// Drops the marks before `pos`.
    fn seek(&mut self, pos: usize) {
        if pos >= self.base + BLOCK {
            self.load(pos - pos % BLOCK);
        }
        // `pos` is in the block now: keep the bits from it on.
        let skip = u32::try_from(pos.saturating_sub(self.base)).unwrap_or(u32::MAX);
        self.mask &= u64::MAX.checked_shl(skip).unwrap_or(0);
    }
}

/// Just past the next `end` from `from` (the text's end when none).
fn skip_past(bytes: &[u8], from: usize, end: &[u8]) -> usize {
    let Some(hay) = bytes.get(from..) else {
        return bytes.len();
    };
    memchr::memmem::find(hay, end).map_or(bytes.len(), |p| from + p + end.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The pre-scan as it was written first, byte by byte: the block scan
    /// must answer exactly as it does.
    mod reference {
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
                    if tag.attributes > crate::libvirt::MAX_ATTRIBUTES {
                        return limit("attributes of one element", crate::libvirt::MAX_ATTRIBUTES);
                    }
                    namespaces = namespaces.saturating_add(tag.namespaces);
                    if namespaces > crate::libvirt::MAX_NAMESPACES {
                        return limit("namespace declarations", crate::libvirt::MAX_NAMESPACES);
                    }
                    if !tag.empty {
                        depth = depth.saturating_add(1);
                        if depth > crate::libvirt::MAX_DEPTH {
                            return limit("element nesting depth", crate::libvirt::MAX_DEPTH);
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
                        let Some(len) = bytes.get(after..).and_then(|v| memchr::memchr(b, v))
                        else {
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
    }

    /// A small deterministic generator (xorshift).
    fn texts(seed: u64, count: usize, len: usize, alphabet: &[u8]) -> Vec<Vec<u8>> {
        let mut x = seed;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        (0..count)
            .map(|_| {
                let n = (next() as usize) % len;
                (0..n)
                    .map(|_| alphabet[(next() as usize) % alphabet.len()])
                    .collect()
            })
            .collect()
    }

    fn same_answer(text: &[u8]) {
        let text = String::from_utf8_lossy(text);
        let new = prescan(&text).map_err(|e| e.to_string());
        let old = reference::prescan(&text).map_err(|e| e.to_string());
        assert_eq!(new, old, "{text:?}");
    }

    #[test]
    fn block_scan_answers_as_the_byte_scan_on_random_markup() {
        let alphabet = b"<<<>>>''\"\"===  \t\n/!?-[]CDATAxmlns:ab";
        for t in texts(0x9e37_79b9_7f4a_7c15, 20_000, 200, alphabet) {
            same_answer(&t);
        }
        // Repeated, so that the counts reach the limits.
        for t in texts(0x2545_f491_4f6c_dd1d, 3_000, 60, alphabet) {
            let times = 8_000 / t.len().max(1);
            same_answer(&t.repeat(times));
        }
    }

    #[test]
    fn block_scan_answers_as_the_byte_scan_near_every_limit() {
        // Tags with many attributes, deep nesting and declarations, with
        // random separators, across block boundaries.
        let alphabet = b"<a b=''xmlns:x='u' / > \n";
        for t in texts(7, 2_000, 3_000, alphabet) {
            same_answer(&t);
        }
        let attrs =
            |n: usize, sep: &str| -> String { (0..n).map(|i| format!("{sep}a{i}='v'")).collect() };
        for n in [127, 128, 129] {
            for sep in [" ", "\n ", "  \t"] {
                same_answer(format!("<d{}/>", attrs(n, sep)).as_bytes());
                same_answer(format!("<d{}>", attrs(n, sep)).as_bytes());
            }
        }
        for n in [255, 256, 257] {
            same_answer("<a>".repeat(n).as_bytes());
            same_answer("<a x='>'>".repeat(n).as_bytes());
            same_answer("<!-- <a> --><a>".repeat(n).as_bytes());
        }
        for n in [1023, 1024, 1025] {
            same_answer("<a xmlns:x='u'/>".repeat(n).as_bytes());
            same_answer("<a xmlns='u' xmlns:y='v'/>".repeat(n / 2 + 1).as_bytes());
            same_answer("<a xmlns:x=y='u'/>".repeat(n / 2 + 1).as_bytes());
        }
    }

    /// What `parse_tree` answered when the pre-scan always ran first.
    fn parse_prescan_first(xml: &str) -> Result<(), String> {
        prescan(xml).map_err(|e| e.to_string())?;
        crate::libvirt::parse_scanned(xml)
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    fn same_parse(text: &[u8]) {
        let text = String::from_utf8_lossy(text);
        let new = crate::libvirt::parse_tree(&text)
            .map(|_| ())
            .map_err(|e| e.to_string());
        assert_eq!(new, parse_prescan_first(&text), "{text:?}");
    }

    /// Well-formed nesting `n` deep, with `attrs` attributes on the
    /// innermost element.
    fn nested(n: usize, attrs: usize) -> String {
        let a: String = (0..attrs).map(|i| format!(" a{i}='v'")).collect();
        format!("{}<b{a}/>{}", "<a>".repeat(n), "</a>".repeat(n))
    }

    #[test]
    fn parsing_answers_as_with_the_prescan_first_on_random_markup() {
        let alphabet = b"<<<>>>''\"\"===  \t\n/!?-[]CDATAxmlns:ab";
        for t in texts(0x9e37_79b9_7f4a_7c15, 5_000, 200, alphabet) {
            same_parse(&t);
        }
        let alphabet = b"<a b=''/ > \n<a></a>";
        for t in texts(11, 2_000, 3_000, alphabet) {
            same_parse(&t);
        }
    }

    #[test]
    fn parsing_answers_as_with_the_prescan_first_near_every_limit() {
        for n in [254, 255, 256, 257, 300] {
            same_parse(nested(n, 2).as_bytes());
            same_parse(format!("<?xml version='1.0'?><!-- <c> -->{}", nested(n, 0)).as_bytes());
            // Unclosed, and one too many closed.
            same_parse("<a>".repeat(n).as_bytes());
            same_parse(format!("{}</a>", nested(n, 0)).as_bytes());
        }
        for attrs in [127, 128, 129] {
            same_parse(nested(3, attrs).as_bytes());
            same_parse(nested(300, attrs).as_bytes());
        }
        // A declaration anywhere, a long run without `<`, a DTD.
        same_parse(format!("<a xmlns:x='u'>{}</a>", nested(257, 0)).as_bytes());
        same_parse(format!("<a v='{}'>{}</a>", "x".repeat(700), nested(257, 0)).as_bytes());
        same_parse(format!("<!DOCTYPE a>{}", nested(257, 0)).as_bytes());
    }

    #[test]
    fn usual_document_needs_no_prescan_before_parsing() {
        let xml = format!("<domain>{}</domain>", "<a b='c'/>\n".repeat(1_000));
        assert!(!needs_prescan(&xml));
        assert!(needs_prescan(&format!(
            "<domain xmlns:q='u'>{xml}</domain>"
        )));
        let long = format!("<domain a='{}'/>", "x".repeat(GAP));
        assert!(needs_prescan(&long));
    }

    #[test]
    fn depth_of_a_parsed_tree_is_the_prescan_depth() {
        for n in [1, 255, 256, 257] {
            // `<b/>` opens nothing; `<b></b>` opens an element at depth n.
            for (xml, deep) in [
                (nested(n - 1, 0), false),
                (nested(n, 0), n > 256),
                (
                    format!("{}<b></b>{}", "<a>".repeat(n - 1), "</a>".repeat(n - 1)),
                    n > 256,
                ),
            ] {
                let tree = roxmltree::Document::parse(&xml).unwrap();
                assert_eq!(deeper_than(&tree, 256), deep, "{n}");
                assert_eq!(prescan(&xml).is_err(), deep, "{n}");
            }
        }
    }

    #[test]
    fn eight_flags_pack_into_eight_bits() {
        for bits in 0u16..256 {
            let bytes: [u8; 8] = std::array::from_fn(|k| u8::from(bits & (1 << k) != 0));
            let packed = u64::from_le_bytes(bytes).wrapping_mul(0x0102_0408_1020_4080) >> 56;
            assert_eq!(packed, u64::from(bits));
        }
    }

    #[test]
    fn ordinary_document_passes() {
        let xml = "<?xml version='1.0'?><!-- a > b --><domain a='1' b=\"x>y\">\
                   <![CDATA[<not a tag='1'>]]><devices/></domain>";
        assert!(prescan(xml).is_ok());
    }

    #[test]
    fn too_many_attributes_is_a_limit() {
        let attrs: String = (0..=crate::libvirt::MAX_ATTRIBUTES)
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
        let xml = "<a>".repeat(crate::libvirt::MAX_DEPTH + 1);
        assert!(prescan(&xml).is_err());
        let empty = "<a/>".repeat(10_000);
        assert!(prescan(&empty).is_ok());
    }

    #[test]
    fn too_many_namespace_declarations_is_a_limit() {
        let xml = "<a xmlns:x='u'/>".repeat(crate::libvirt::MAX_NAMESPACES + 1);
        assert!(prescan(&xml).is_err());
    }
}
