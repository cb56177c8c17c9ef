//! Helpers of `tests/qemu_acceptance.rs` and `tests/qemu_policy.rs`: plans to boot, a QMP client, and
//! the expected and observed PCI topologies.

pub mod expect;
pub mod plans;
pub mod qmp;
pub mod session;
