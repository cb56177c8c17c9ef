//! Property tests of explain, diff and capacity over random plans.
//!
//! Case count: `PROPTEST_CASES` (CI sets 256); default 64.

#[path = "common/strategies.rs"]
mod strategies;

use pciplan::explain::{Why, explain};
use proptest::prelude::*;
use strategies::{config, plan};

proptest! {
    #![proptest_config(config())]

    /// The address the re-walk finds for every searched device is the one
    /// assign gave it, and every device's reported address is assign's.
    #[test]
    fn prop_explain_agrees_with_assign(p in plan()) {
        let mut assigned = p.clone();
        let Ok(()) = assigned.assign() else {
            prop_assert!(explain(&p).is_err());
            return Ok(());
        };
        let e = explain(&p).map_err(|r| TestCaseError::fail(r.message))?;
        prop_assert_eq!(e.devices.len(), assigned.devices().len());
        for (d, a) in e.devices.iter().zip(assigned.devices()) {
            let key = |x: Option<pciplan::PciAddress>| x.map(|a| a.key());
            prop_assert_eq!(d.address, a.address.present());
            if let Why::Searched(s) = &d.why {
                prop_assert_eq!(key(s.found), key(d.address), "{}", e.render(Some(&[d.index])));
            }
        }
    }
}
