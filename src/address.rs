//! Guest PCI addresses in libvirt's vocabulary.
//!
//! libvirt names the four parts of a PCI address *domain*, *bus*, *slot* and
//! *function* (other projects say segment/bus/device/function or
//! bus/dev/func). A `bus` number is the `index` of the PCI controller that
//! provides the bus, not the number the guest OS enumerates.
//!
//! Text form: `DDDD:BB:SS.F` (hex domain, bus and slot, decimal function), for
//! example `0000:00:1f.2`, the form libvirt uses in error messages.

use std::fmt;
use std::str::FromStr;

use thiserror::Error;

/// An address that cannot be parsed or is out of range (spec §6.1).
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum AddressError {
    /// Not of the form `DDDD:BB:SS.F`.
    #[error("malformed PCI address '{0}'")]
    Syntax(String),
    /// Domain above 0xFFFF.
    #[error("Invalid PCI address domain='0x{0:x}', must be <= 0xFFFF")]
    Domain(u32),
    /// Bus above 0xFF.
    #[error("Invalid PCI address bus='0x{0:x}', must be <= 0xFF")]
    Bus(u32),
    /// Slot above 0x1F.
    #[error("Invalid PCI address slot='0x{0:x}', must be <= 0x1F")]
    Slot(u32),
    /// Function above 7.
    #[error("Invalid PCI address function=0x{0:x}, must be <= 7")]
    Function(u32),
}

/// A PCI slot number, `0..=31`.
///
/// ```
/// use pciplan::Slot;
/// assert_eq!(Slot::new(0x1f)?.as_u8(), 31);
/// assert!(Slot::new(32).is_err());
/// # Ok::<(), pciplan::AddressError>(())
/// ```
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Slot(u8);

impl Slot {
    /// The highest slot number.
    pub const MAX: Slot = Slot(31);
    /// Slot 0.
    pub const ZERO: Slot = Slot(0);

    /// A slot from a number.
    ///
    /// # Errors
    /// [`AddressError::Slot`] when `n > 31`.
    pub fn new(n: u8) -> Result<Slot, AddressError> {
        if n > Self::MAX.0 {
            Err(AddressError::Slot(u32::from(n)))
        } else {
            Ok(Slot(n))
        }
    }

    /// The slot number.
    pub const fn as_u8(self) -> u8 {
        self.0
    }
}

impl TryFrom<u8> for Slot {
    type Error = AddressError;
    fn try_from(n: u8) -> Result<Self, Self::Error> {
        Slot::new(n)
    }
}

/// A PCI function number, `0..=7`.
///
/// ```
/// use pciplan::Function;
/// assert_eq!(Function::new(7)?.as_u8(), 7);
/// assert!(Function::new(8).is_err());
/// # Ok::<(), pciplan::AddressError>(())
/// ```
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Function(u8);

impl Function {
    /// The highest function number.
    pub const MAX: Function = Function(7);
    /// Function 0.
    pub const ZERO: Function = Function(0);

    /// A function from a number.
    ///
    /// # Errors
    /// [`AddressError::Function`] when `n > 7`.
    pub fn new(n: u8) -> Result<Function, AddressError> {
        if n > Self::MAX.0 {
            Err(AddressError::Function(u32::from(n)))
        } else {
            Ok(Function(n))
        }
    }

    /// The function number.
    pub const fn as_u8(self) -> u8 {
        self.0
    }
}

impl TryFrom<u8> for Function {
    type Error = AddressError;
    fn try_from(n: u8) -> Result<Self, Self::Error> {
        Function::new(n)
    }
}

/// The `multifunction` attribute of an address: absent, `on` or `off`.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum Multifunction {
    /// Not written.
    #[default]
    Absent,
    /// `multifunction='on'`.
    On,
    /// `multifunction='off'`.
    Off,
}

/// A guest PCI address: domain, bus, slot, function and the multifunction
/// marker.
///
/// Ordering and equality look at every field; use [`PciAddress::key`] to
/// compare locations only.
///
/// ```
/// use pciplan::PciAddress;
/// let a: PciAddress = "0000:00:1f.2".parse()?;
/// assert_eq!(a.bus(), 0);
/// assert_eq!(a.slot().as_u8(), 0x1f);
/// assert_eq!(a.to_string(), "0000:00:1f.2");
/// # Ok::<(), pciplan::AddressError>(())
/// ```
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct PciAddress {
    domain: u16,
    bus: u8,
    slot: Slot,
    function: Function,
    multifunction: Multifunction,
}

impl PciAddress {
    /// An address from its parts, with `multifunction` absent.
    pub const fn new(domain: u16, bus: u8, slot: Slot, function: Function) -> PciAddress {
        PciAddress {
            domain,
            bus,
            slot,
            function,
            multifunction: Multifunction::Absent,
        }
    }

    /// An address on domain 0 from raw numbers.
    ///
    /// # Errors
    /// [`AddressError::Slot`] or [`AddressError::Function`] when out of range.
    ///
    /// ```
    /// let a = pciplan::PciAddress::from_parts(3, 1, 1)?;
    /// assert_eq!(a.to_string(), "0000:03:01.1");
    /// # Ok::<(), pciplan::AddressError>(())
    /// ```
    pub fn from_parts(bus: u8, slot: u8, function: u8) -> Result<PciAddress, AddressError> {
        Ok(PciAddress::new(
            0,
            bus,
            Slot::new(slot)?,
            Function::new(function)?,
        ))
    }

    /// The same address with another multifunction marker.
    pub const fn with_multifunction(mut self, m: Multifunction) -> PciAddress {
        self.multifunction = m;
        self
    }

    /// The same address with another function.
    pub const fn with_function(mut self, f: Function) -> PciAddress {
        self.function = f;
        self
    }

    /// The PCI domain.
    pub const fn domain(&self) -> u16 {
        self.domain
    }
    /// The bus (the index of the PCI controller providing it).
    pub const fn bus(&self) -> u8 {
        self.bus
    }
    /// The slot.
    pub const fn slot(&self) -> Slot {
        self.slot
    }
    /// The function.
    pub const fn function(&self) -> Function {
        self.function
    }
    /// The multifunction marker.
    pub const fn multifunction(&self) -> Multifunction {
        self.multifunction
    }
    /// Sets the bus number (used by the dry-run bus bump).
    pub(crate) fn set_bus(&mut self, bus: u8) {
        self.bus = bus;
    }

    /// The location without the multifunction marker: (domain, bus, slot, function).
    pub const fn key(&self) -> (u16, u8, u8, u8) {
        (self.domain, self.bus, self.slot.0, self.function.0)
    }

    /// True when domain, bus and slot are all zero: libvirt's "please assign
    /// an address" (an address `0000:00:00.x` can never be requested).
    pub const fn is_empty(&self) -> bool {
        self.domain == 0 && self.bus == 0 && self.slot.0 == 0
    }
}

impl PciAddress {
    /// The address as `DDDD:BB:SS.F`, built on the stack (addresses are
    /// written for every device of large plans).
    pub(crate) fn text(&self) -> AddressText {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let nibble = |v: u16, shift: u32| {
            HEX.get(usize::from((v >> shift) & 0xf))
                .copied()
                .unwrap_or(b'0')
        };
        let d = self.domain;
        let b = u16::from(self.bus);
        let s = u16::from(self.slot.0);
        AddressText([
            nibble(d, 12),
            nibble(d, 8),
            nibble(d, 4),
            nibble(d, 0),
            b':',
            nibble(b, 4),
            nibble(b, 0),
            b':',
            nibble(s, 4),
            nibble(s, 0),
            b'.',
            b'0'.saturating_add(self.function.0),
        ])
    }
}

impl PciAddress {
    /// Appends the address as `DDDD:BB:SS.F` (the text of [`PciAddress::text`]),
    /// each byte's digits taken from one table.
    pub(crate) fn push_text(&self, out: &mut String) {
        let [hi, lo] = self.domain.to_be_bytes();
        out.push_str(hex_pair(hi));
        out.push_str(hex_pair(lo));
        out.push(':');
        out.push_str(hex_pair(self.bus));
        out.push(':');
        out.push_str(hex_pair(self.slot.0));
        out.push('.');
        out.push(char::from(b'0'.saturating_add(self.function.0 & 7)));
    }
}

/// The lower-case hex digit of the low four bits of `n` (for tables built
/// at compile time).
pub(crate) const fn hex_digit(n: usize) -> u8 {
    let d = (n & 0xf) as u8;
    if d < 10 { b'0' + d } else { b'a' + d - 10 }
}

/// The two lower-case hex digits of every byte value, in order.
const HEX_PAIRS: &str = match std::str::from_utf8(&hex_pairs()) {
    Ok(s) => s,
    Err(_) => "",
};

const fn hex_pairs() -> [u8; 512] {
    let mut t = [0u8; 512];
    let mut rest: &mut [u8] = &mut t;
    let mut v = 0;
    while let [hi, lo, tail @ ..] = rest {
        *hi = hex_digit(v >> 4);
        *lo = hex_digit(v);
        v += 1;
        rest = tail;
    }
    t
}

/// The two lower-case hex digits of `v`, without formatting.
pub(crate) fn hex_pair(v: u8) -> &'static str {
    let at = 2 * usize::from(v);
    HEX_PAIRS.get(at..at + 2).unwrap_or("00")
}

/// A PCI address's text, `DDDD:BB:SS.F`, on the stack.
#[derive(Copy, Clone)]
pub(crate) struct AddressText([u8; 12]);

impl AddressText {
    pub(crate) fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or("????:??:??.?")
    }
}

impl fmt::Display for PciAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.text().as_str())
    }
}

impl FromStr for PciAddress {
    type Err = AddressError;

    /// Parses `DDDD:BB:SS.F` or `BB:SS.F` (hex, function decimal).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || AddressError::Syntax(s.to_string());
        let (rest, func) = s.rsplit_once('.').ok_or_else(bad)?;
        let parts: Vec<&str> = rest.split(':').collect();
        let (dom, bus, slot) = match parts.as_slice() {
            [d, b, s] => (*d, *b, *s),
            [b, s] => ("0", *b, *s),
            _ => return Err(bad()),
        };
        let hex = |t: &str| u32::from_str_radix(t, 16).map_err(|_| bad());
        let domain = hex(dom)?;
        let bus = hex(bus)?;
        let slot = hex(slot)?;
        let function: u32 = func.parse().map_err(|_| bad())?;
        let domain = u16::try_from(domain).map_err(|_| AddressError::Domain(domain))?;
        let bus = u8::try_from(bus).map_err(|_| AddressError::Bus(bus))?;
        let slot = u8::try_from(slot)
            .map_err(|_| AddressError::Slot(slot))
            .and_then(Slot::new)?;
        let function = u8::try_from(function)
            .map_err(|_| AddressError::Function(function))
            .and_then(Function::new)?;
        Ok(PciAddress::new(domain, bus, slot, function))
    }
}

/// Parses an unsigned number the way libvirt's XML parser does: a `0x`
/// prefix means hex, a leading `0` octal, otherwise decimal.
///
/// ```
/// assert_eq!(pciplan::address::parse_c_uint("0x1f"), Some(31));
/// assert_eq!(pciplan::address::parse_c_uint("010"), Some(8));
/// assert_eq!(pciplan::address::parse_c_uint("0xzz"), None);
/// ```
pub fn parse_c_uint(s: &str) -> Option<u64> {
    let t = s.trim();
    if t.is_empty() {
        return None;
    }
    let (digits, radix) = if let Some(h) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        (h, 16)
    } else if t.len() > 1 && t.starts_with('0') {
        (&t[1..], 8)
    } else {
        (t, 10)
    };
    if digits.is_empty() || digits.starts_with(['+', '-']) {
        return None;
    }
    u64::from_str_radix(digits, radix).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_uses_libvirt_form() {
        let a = PciAddress::from_parts(0x0a, 0x1f, 2).unwrap();
        assert_eq!(a.to_string(), "0000:0a:1f.2");
    }

    #[test]
    fn parse_rejects_slot_32() {
        assert_eq!(
            "0000:00:20.0".parse::<PciAddress>(),
            Err(AddressError::Slot(32))
        );
    }

    #[test]
    fn parse_rejects_function_8() {
        assert_eq!(
            "0000:00:01.8".parse::<PciAddress>(),
            Err(AddressError::Function(8))
        );
    }

    #[test]
    fn empty_address_ignores_function() {
        let a = PciAddress::from_parts(0, 0, 3).unwrap();
        assert!(a.is_empty());
    }

    #[test]
    fn c_uint_parses_octal_hex_decimal() {
        assert_eq!(parse_c_uint("017"), Some(15));
        assert_eq!(parse_c_uint("0"), Some(0));
        assert_eq!(parse_c_uint("-1"), None);
        assert_eq!(parse_c_uint("0x"), None);
    }
}
