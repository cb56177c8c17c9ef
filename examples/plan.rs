//! Builds a q35 plan by hand, assigns it, and prints every PCI address.
//!
//! Run with `cargo run --example plan`.

use pciplan::device::DiskBus;
use pciplan::{
    Capabilities, Device, DeviceAddress, DeviceKind, Machine, NicModel, Plan, VirtioModel,
};

fn main() -> Result<(), pciplan::Error> {
    let mut plan = Plan::new(Machine::q35(), Capabilities::qemu_8_0_x86_64());

    // A virtio disk pinned to slot 5 on bus 0 (a PCIe endpoint there is
    // integrated); everything else gets its address from pciplan.
    let pinned: pciplan::PciAddress = "0000:00:05.0".parse()?;
    plan.add_device(
        Device::new(DeviceKind::Disk {
            bus: DiskBus::Virtio,
            model: VirtioModel::Default,
            drive_controller: None,
        })
        .with_label("vda")
        .with_address(DeviceAddress::Pci(pinned)),
    );
    plan.add_device(
        Device::new(DeviceKind::Interface {
            model: Some(NicModel::Virtio),
            hostdev: None,
        })
        .with_label("net0"),
    );
    plan.add_device(
        Device::new(DeviceKind::Interface {
            model: Some(NicModel::Known("e1000".into())),
            hostdev: None,
        })
        .with_label("net1"),
    );
    plan.add_device(Device::new(DeviceKind::Rng(VirtioModel::Default)).with_label("rng0"));

    plan.assign()?;

    for device in plan.devices() {
        match device.address.present() {
            Some(addr) => println!("{addr}  {device}"),
            None => println!("{:12}  {device}", "-"),
        }
    }
    Ok(())
}
