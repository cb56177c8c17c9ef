//! How values are written as text in the serialized records (JSON): PCI
//! addresses as `DDDD:BB:SS.F`, connect flags as `0x…`, controller models by
//! their libvirt name. Shared by every record type; nothing is allocated.

use serde::Serializer;

use crate::address::PciAddress;
use crate::controller::ControllerModel;
use crate::flags::ConnectFlags;

/// A PCI address as `DDDD:BB:SS.F`.
pub(crate) fn addr<S: Serializer>(a: &PciAddress, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(a.text().as_str())
}

/// A PCI address as `DDDD:BB:SS.F`, or `null`.
pub(crate) fn opt_addr<S: Serializer>(a: &Option<PciAddress>, s: S) -> Result<S::Ok, S::Error> {
    match a {
        Some(a) => addr(a, s),
        None => s.serialize_none(),
    }
}

/// Connect flags as lowercase hex with `0x` (`format!("{:#x}")`).
pub(crate) fn flags_hex<S: Serializer>(f: &ConnectFlags, s: S) -> Result<S::Ok, S::Error> {
    let mut buf = [0u8; 10];
    s.serialize_str(f.hex_into(&mut buf))
}

/// A controller model by its libvirt name.
pub(crate) fn model_str<S: Serializer>(m: &ControllerModel, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(m.as_str())
}
