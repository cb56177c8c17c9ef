//! libvirt domain XML in and out.
