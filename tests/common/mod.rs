//! Helpers shared by the integration tests.

pub mod harness;
pub mod pci_view;
