//! zPCI identifiers (spec §1.2, §5.10): uid and fid of s390 PCI devices.

use std::collections::BTreeSet;

use super::addrset::AddressSet;
use super::{Pass, fail};
use crate::device::{Device, DeviceAddress, DeviceKind, Zpci};
use crate::error::{AllocError, Error};
use crate::flags::CheckMode;
use crate::plan::Plan;

/// The uids and fids in use during one pass.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct ZpciUsed {
    uids: BTreeSet<u32>,
    fids: BTreeSet<u32>,
}

impl ZpciUsed {
    /// Complete (§5.10): fills unset ids with the lowest free ones and
    /// records both, failing on a value already in use.
    fn complete(&mut self, z: Zpci) -> Result<Zpci, AllocError> {
        let uid = match z.uid {
            Some(u) => u,
            None => (1..=0xFFFF)
                .find(|u| !self.uids.contains(u))
                .ok_or(AllocError::ZpciExhausted { id: "uid" })?,
        };
        let fid = match z.fid {
            Some(f) => f,
            None => lowest_free(&self.fids).ok_or(AllocError::ZpciExhausted { id: "fid" })?,
        };
        if !self.uids.insert(uid) {
            return Err(AllocError::ZpciReserved {
                id: "uid",
                value: uid,
            });
        }
        if !self.fids.insert(fid) {
            self.uids.remove(&uid);
            return Err(AllocError::ZpciReserved {
                id: "fid",
                value: fid,
            });
        }
        Ok(Zpci {
            uid: Some(uid),
            fid: Some(fid),
        })
    }
}

/// The lowest value from 0 not in `used`.
fn lowest_free(used: &BTreeSet<u32>) -> Option<u32> {
    let mut want = 0u32;
    for &v in used {
        if v > want {
            break;
        }
        if v == want {
            want = want.checked_add(1)?;
        }
    }
    Some(want)
}

/// Whether a device carries the "zPCI wanted" flag (§1.2).
/// The flag is decided before the dry run, so PCI controllers the dry run
/// adds carry none (the caller skips them by position).
fn wants_zpci(d: &Device) -> bool {
    !matches!(
        d.kind,
        DeviceKind::Serial(_)
            | DeviceKind::Parallel
            | DeviceKind::Channel(_)
            | DeviceKind::Console(_)
    ) && matches!(d.address, DeviceAddress::Pci(_))
}

/// The two parts of §5.10.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(super) enum ZpciPart {
    /// Part A, while building the set: devices with a uid or a fid.
    Given,
    /// Part B, after the device loop: devices with neither.
    Rest,
}

impl Plan {
    /// Completes the zPCI ids of one part, in device iteration order. Part
    /// A always stores its result; part B only in the real pass.
    pub(super) fn zpci_ids(
        &mut self,
        set: &mut AddressSet,
        part: ZpciPart,
        pass: Pass,
    ) -> Result<(), Error> {
        if !self.caps.has("zpci") {
            return Ok(());
        }
        for i in self.iteration_order() {
            if i >= set.zpci_upto {
                continue;
            }
            let Some(d) = self.devices.get(i) else {
                continue;
            };
            let given = d.zpci.filter(Zpci::is_given);
            if !wants_zpci(d) || given.is_some() != (part == ZpciPart::Given) {
                continue;
            }
            let done = set
                .zpci
                .complete(given.unwrap_or_default())
                .map_err(|e| fail(e, CheckMode::Auto, Some(d)))?;
            if (part == ZpciPart::Given || pass == Pass::Real)
                && let Some(d) = self.edit_device(i)
            {
                d.zpci = Some(done);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lowest_free_fills_gaps() {
        let used: BTreeSet<u32> = [0, 1, 3].into_iter().collect();
        assert_eq!(lowest_free(&used), Some(2));
    }

    #[test]
    fn a_reserved_uid_is_reported_in_octal() {
        let mut u = ZpciUsed::default();
        let z = Zpci {
            uid: Some(0x1234),
            fid: Some(0),
        };
        assert!(u.complete(z).is_ok());
        let again = Zpci {
            uid: Some(0x1234),
            fid: Some(1),
        };
        let e = u.complete(again).unwrap_err();
        assert_eq!(e.to_string(), "zPCI uid 11064 is already reserved");
    }
}
