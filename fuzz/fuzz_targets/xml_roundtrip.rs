//! libvirt domain XML → assign → XML.
//!
//! Any bytes that are UTF-8 go through `assign_xml`. Errors are fine (they
//! must only not panic or hang); when assignment succeeds, the output must
//! parse again and re-assigning it must give the same text (the output is a
//! fixed point, as libvirt's is). One exception is libvirt's own: a
//! `model='none'` USB controller at an index other than 0 does not stop the
//! default USB controller at index 0, and defining that output again is
//! refused (`docs/libvirt-rules.md`, rule 28).
#![no_main]

use libfuzzer_sys::fuzz_target;
use pciplan::Capabilities;
use pciplan::libvirt::assign_xml;
use pciplan::machine::HostPci;

fuzz_target!(|data: &[u8]| {
    let Ok(xml) = std::str::from_utf8(data) else {
        return;
    };
    let caps = Capabilities::qemu_8_0_x86_64();
    let host = HostPci::default();
    let Ok(out) = assign_xml(xml, &caps, &host) else {
        return;
    };
    match assign_xml(&out, &caps, &host) {
        Ok(again) => assert_eq!(again, out, "output is not a fixed point\ninput:\n{xml}"),
        Err(pciplan::Error::Config {
            reason: pciplan::ConfigError::UsbDisabledController,
            ..
        }) => {}
        Err(e) => panic!("output does not re-assign: {e}\ninput:\n{xml}\noutput:\n{out}"),
    }
});
