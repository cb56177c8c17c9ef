//! Helpers shared by the integration tests.

pub mod pci_view;
