//! Connect flags: what a device needs from a bus slot and what a bus offers
//! (spec §2.1), and the compatibility test between the two (§2.5).

use bitflags::bitflags;

use crate::address::PciAddress;
use crate::error::AllocError;

bitflags! {
    /// A set of PCI connection flags. The bit values equal libvirt's, because
    /// one error message prints them in hex.
    ///
    /// ```
    /// use pciplan::ConnectFlags as F;
    /// let virtio_on_q35 = F::PCIE_DEVICE | F::AUTOASSIGN;
    /// assert_eq!(virtio_on_q35.bits(), 0x21);
    /// assert!(F::TYPES.contains(F::PCI_BRIDGE));
    /// ```
    #[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
    pub struct ConnectFlags: u32 {
        /// Wants (device) / allows (bus) automatic placement.
        const AUTOASSIGN = 0x1;
        /// Is being hot-plugged (device) / takes hot-plugged devices (bus).
        const HOTPLUGGABLE = 0x2;
        /// Only works directly on bus 0 (the root complex).
        const INTEGRATED = 0x4;
        /// May share a slot with others of its kind, one per function.
        const AGGREGATE_SLOT = 0x8;
        /// Conventional PCI endpoint.
        const PCI_DEVICE = 0x10;
        /// PCI Express endpoint.
        const PCIE_DEVICE = 0x20;
        /// pcie-root-port.
        const PCIE_ROOT_PORT = 0x40;
        /// pcie-switch-upstream-port.
        const PCIE_SWITCH_UPSTREAM_PORT = 0x80;
        /// pcie-switch-downstream-port.
        const PCIE_SWITCH_DOWNSTREAM_PORT = 0x100;
        /// dmi-to-pci-bridge.
        const DMI_TO_PCI_BRIDGE = 0x200;
        /// pci-expander-bus.
        const PCI_EXPANDER_BUS = 0x400;
        /// pcie-expander-bus.
        const PCIE_EXPANDER_BUS = 0x800;
        /// pci-bridge.
        const PCI_BRIDGE = 0x1000;
        /// pcie-to-pci-bridge.
        const PCIE_TO_PCI_BRIDGE = 0x2000;
    }
}

impl ConnectFlags {
    /// The bits as lowercase hex with `0x`, as libvirt's messages print
    /// them (`format!("{:#x}")`).
    ///
    /// ```
    /// use pciplan::ConnectFlags as F;
    /// assert_eq!((F::PCI_DEVICE | F::AUTOASSIGN).hex(), "0x11");
    /// ```
    pub fn hex(self) -> String {
        let mut buf = [0u8; 10];
        let len = self.hex_len(&mut buf);
        // Pushed byte by byte: the digits are ASCII, with no text to validate.
        let mut s = String::with_capacity(len);
        s.extend(
            buf.get(..len)
                .unwrap_or_default()
                .iter()
                .map(|&b| char::from(b)),
        );
        s
    }

    /// [`ConnectFlags::hex`] written into `buf`, with no allocation.
    pub(crate) fn hex_into(self, buf: &mut [u8; 10]) -> &str {
        let len = self.hex_len(buf);
        std::str::from_utf8(buf.get(..len).unwrap_or_default()).unwrap_or("0x0")
    }

    /// Writes [`ConnectFlags::hex`] into `buf`; its length.
    fn hex_len(self, buf: &mut [u8; 10]) -> usize {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let v = self.bits();
        let digits = (32 - v.leading_zeros()).div_ceil(4).max(1);
        let mut len = 0;
        for (k, out) in buf.iter_mut().enumerate() {
            let Some(d) = u32::try_from(k).ok().and_then(|k| k.checked_sub(2)) else {
                *out = if k == 0 { b'0' } else { b'x' };
                continue;
            };
            if d >= digits {
                break;
            }
            let nib = (v >> (4 * (digits - 1 - d))) & 0xf;
            *out = HEX.get(nib as usize).copied().unwrap_or(b'0');
            len = k + 1;
        }
        len
    }
}

impl ConnectFlags {
    /// The connection kinds (bits 4..=13).
    pub const TYPES: ConnectFlags = ConnectFlags::from_bits_truncate(0x3ff0);
    /// PCI_DEVICE | PCIE_DEVICE.
    pub const ENDPOINT: ConnectFlags = ConnectFlags::PCI_DEVICE.union(ConnectFlags::PCIE_DEVICE);
    /// P: a conventional PCI device that wants automatic placement.
    pub const P: ConnectFlags = ConnectFlags::PCI_DEVICE.union(ConnectFlags::AUTOASSIGN);
    /// A PCI Express device that wants automatic placement.
    pub const E_PCIE: ConnectFlags = ConnectFlags::PCIE_DEVICE.union(ConnectFlags::AUTOASSIGN);

    /// The connection kind named in "requires a controller that accepts a …"
    /// messages: the first of the flag's kind bits in libvirt's order.
    pub fn kind_name(self) -> Option<&'static str> {
        const ORDER: [(ConnectFlags, &str); 10] = [
            (ConnectFlags::PCI_DEVICE, "standard PCI device"),
            (ConnectFlags::PCIE_DEVICE, "PCI Express device"),
            (ConnectFlags::PCIE_ROOT_PORT, "pcie-root-port"),
            (
                ConnectFlags::PCIE_SWITCH_UPSTREAM_PORT,
                "pcie-switch-upstream-port",
            ),
            (
                ConnectFlags::PCIE_SWITCH_DOWNSTREAM_PORT,
                "pcie-switch-downstream-port",
            ),
            (ConnectFlags::DMI_TO_PCI_BRIDGE, "dmi-to-pci-bridge"),
            (ConnectFlags::PCIE_TO_PCI_BRIDGE, "pcie-to-pci-bridge"),
            (ConnectFlags::PCI_EXPANDER_BUS, "pci-expander-bus"),
            (ConnectFlags::PCIE_EXPANDER_BUS, "pcie-expander-bus"),
            (ConnectFlags::PCI_BRIDGE, "pci-bridge"),
        ];
        ORDER
            .iter()
            .find(|(f, _)| self.contains(*f))
            .map(|(_, n)| *n)
    }
}

/// How an address is being checked (§2.5).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum CheckMode {
    /// Searching for a free address: problems are not reported.
    Auto,
    /// Checking an address from the configuration or a chipset placement.
    Explicit,
}

/// The compatibility test of §2.5 between a bus's flags and a device's.
///
/// # Errors
/// The [`AllocError`] libvirt would report for this combination.
///
/// ```
/// use pciplan::{ConnectFlags as F, PciAddress};
/// use pciplan::flags::{check_compatible, CheckMode};
/// let addr = PciAddress::from_parts(1, 0, 0)?;
/// let root_port = F::PCIE_DEVICE | F::AUTOASSIGN | F::PCIE_TO_PCI_BRIDGE;
/// assert!(check_compatible(root_port, F::PCI_DEVICE | F::AUTOASSIGN, addr, CheckMode::Auto).is_err());
/// assert!(check_compatible(root_port, F::PCI_DEVICE, addr, CheckMode::Explicit).is_ok());
/// # Ok::<(), pciplan::AddressError>(())
/// ```
pub fn check_compatible(
    bus_flags: ConnectFlags,
    dev_flags: ConnectFlags,
    addr: PciAddress,
    mode: CheckMode,
) -> Result<(), AllocError> {
    let mut bus = bus_flags;
    let mut dev = dev_flags;
    let bus_index = u32::from(addr.bus());
    if dev.contains(ConnectFlags::INTEGRATED) {
        if addr.bus() == 0 {
            bus |= ConnectFlags::AUTOASSIGN;
        } else {
            return Err(AllocError::NotIntegrated { addr });
        }
    }
    match mode {
        CheckMode::Explicit => {
            if bus.intersects(ConnectFlags::ENDPOINT) {
                bus |= ConnectFlags::ENDPOINT;
            }
            if dev.contains(ConnectFlags::PCI_BRIDGE) {
                dev |= ConnectFlags::PCI_DEVICE;
            }
        }
        CheckMode::Auto => {
            if dev.contains(ConnectFlags::AUTOASSIGN) && !bus.contains(ConnectFlags::AUTOASSIGN) {
                return Err(AllocError::NoAutoAssign {
                    addr,
                    bus: bus_index,
                });
            }
        }
    }
    if dev.contains(ConnectFlags::HOTPLUGGABLE) && !bus.contains(ConnectFlags::HOTPLUGGABLE) {
        return Err(AllocError::NoHotplug {
            addr,
            bus: bus_index,
        });
    }
    if !(dev & bus).intersects(ConnectFlags::TYPES) {
        return Err(match dev.kind_name() {
            Some(kind) => AllocError::Incompatible {
                addr,
                bus: bus_index,
                kind,
            },
            None => AllocError::UnrecognizedFlags {
                addr,
                flags: (dev & ConnectFlags::TYPES).bits(),
            },
        });
    }
    Ok(())
}

/// Whether [`check_compatible`] accepts a device with `dev_flags` on a bus
/// with `bus_flags` (bus number `bus`) in `mode`, without building the
/// error: callers that need the reason call [`check_compatible`] when this
/// says no.
#[inline]
pub(crate) fn compatible(
    bus_flags: ConnectFlags,
    dev_flags: ConnectFlags,
    bus: u8,
    mode: CheckMode,
) -> bool {
    match mode {
        CheckMode::Auto => auto_compatible(bus_flags, dev_flags, bus),
        CheckMode::Explicit => {
            let mut bus_flags = bus_flags;
            let mut dev_flags = dev_flags;
            if dev_flags.contains(ConnectFlags::INTEGRATED) {
                if bus != 0 {
                    return false;
                }
                bus_flags |= ConnectFlags::AUTOASSIGN;
            }
            if bus_flags.intersects(ConnectFlags::ENDPOINT) {
                bus_flags |= ConnectFlags::ENDPOINT;
            }
            if dev_flags.contains(ConnectFlags::PCI_BRIDGE) {
                dev_flags |= ConnectFlags::PCI_DEVICE;
            }
            (!dev_flags.contains(ConnectFlags::HOTPLUGGABLE)
                || bus_flags.contains(ConnectFlags::HOTPLUGGABLE))
                && (dev_flags & bus_flags).intersects(ConnectFlags::TYPES)
        }
    }
}

/// Whether an automatic search may put a device with `dev_flags` on a bus
/// with `bus_flags` (bus number `bus`): [`check_compatible`] in
/// [`CheckMode::Auto`] without building the error a scan throws away.
#[inline]
pub(crate) fn auto_compatible(bus_flags: ConnectFlags, dev_flags: ConnectFlags, bus: u8) -> bool {
    let mut bus_flags = bus_flags;
    if dev_flags.contains(ConnectFlags::INTEGRATED) {
        if bus != 0 {
            return false;
        }
        bus_flags |= ConnectFlags::AUTOASSIGN;
    }
    let needs = dev_flags & (ConnectFlags::AUTOASSIGN | ConnectFlags::HOTPLUGGABLE);
    bus_flags.contains(needs) && (dev_flags & bus_flags).intersects(ConnectFlags::TYPES)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ConnectFlags as F;

    fn addr(bus: u8) -> PciAddress {
        PciAddress::from_parts(bus, 1, 0).unwrap()
    }

    #[test]
    fn the_boolean_checks_agree_with_check_compatible() {
        let samples = [
            F::empty(),
            F::P,
            F::E_PCIE,
            F::P | F::HOTPLUGGABLE,
            F::E_PCIE | F::HOTPLUGGABLE,
            F::PCI_DEVICE,
            F::PCIE_DEVICE | F::INTEGRATED,
            F::PCI_DEVICE | F::INTEGRATED | F::AUTOASSIGN,
            F::PCIE_ROOT_PORT | F::AGGREGATE_SLOT,
            F::PCI_BRIDGE | F::AUTOASSIGN,
            F::PCIE_TO_PCI_BRIDGE | F::PCIE_DEVICE | F::AUTOASSIGN | F::HOTPLUGGABLE,
        ];
        for bus in [0u8, 1] {
            for &b in &samples {
                for &d in &samples {
                    let want = check_compatible(b, d, addr(bus), CheckMode::Auto).is_ok();
                    assert_eq!(
                        auto_compatible(b, d, bus),
                        want,
                        "bus {b:?} dev {d:?} on {bus}"
                    );
                    for mode in [CheckMode::Auto, CheckMode::Explicit] {
                        let want = check_compatible(b, d, addr(bus), mode).is_ok();
                        assert_eq!(
                            compatible(b, d, bus, mode),
                            want,
                            "{mode:?} {b:?} {d:?} {bus}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn hex_is_what_format_writes() {
        for v in [0u32, 1, 0xf, 0x10, 0x11, 0xabc, 0x8000_0000, u32::MAX] {
            assert_eq!(F::from_bits_retain(v).hex(), format!("{v:#x}"));
        }
    }

    #[test]
    fn explicit_mode_lets_conventional_device_into_pcie_slot() {
        let root_port = F::PCIE_DEVICE | F::AUTOASSIGN;
        assert!(check_compatible(root_port, F::PCI_DEVICE, addr(1), CheckMode::Explicit).is_ok());
    }

    #[test]
    fn auto_mode_rejects_autoassign_device_on_pcie_root() {
        let pcie_root = crate::ControllerModel::PcieRoot.accepts();
        let r = check_compatible(pcie_root, F::E_PCIE, addr(0), CheckMode::Auto);
        assert_eq!(
            r,
            Err(AllocError::NoAutoAssign {
                addr: addr(0),
                bus: 0
            })
        );
    }

    #[test]
    fn integrated_device_off_bus_zero_fails() {
        let r = check_compatible(
            F::all(),
            F::INTEGRATED | F::PCIE_DEVICE,
            addr(1),
            CheckMode::Explicit,
        );
        assert_eq!(r, Err(AllocError::NotIntegrated { addr: addr(1) }));
    }

    #[test]
    fn explicit_pci_bridge_misfit_reports_standard_pci_device() {
        let upstream = crate::ControllerModel::PcieSwitchUpstreamPort.accepts();
        let r = check_compatible(upstream, F::PCI_BRIDGE, addr(2), CheckMode::Explicit);
        assert_eq!(
            r,
            Err(AllocError::Incompatible {
                addr: addr(2),
                bus: 2,
                kind: "standard PCI device"
            })
        );
    }

    #[test]
    fn flags_without_type_bits_are_unrecognized() {
        let r = check_compatible(F::all(), F::AUTOASSIGN, addr(0), CheckMode::Auto);
        assert_eq!(
            r,
            Err(AllocError::UnrecognizedFlags {
                addr: addr(0),
                flags: 0
            })
        );
    }

    #[test]
    fn hotplug_device_needs_hotplug_bus() {
        let r = check_compatible(F::P, F::P | F::HOTPLUGGABLE, addr(0), CheckMode::Auto);
        assert_eq!(
            r,
            Err(AllocError::NoHotplug {
                addr: addr(0),
                bus: 0
            })
        );
    }

    #[test]
    fn type_bits_are_4_to_13() {
        assert_eq!(F::TYPES.bits(), 0x3ff0);
    }
}
