//! libvirt's post-parse defaults (spec §4.2).
