"""Second probe set (probes4.json): reuses the helpers of mk.py."""
import json, os
HERE = os.path.dirname(os.path.abspath(__file__))
exec(open(os.path.join(HERE, "mk.py")).read().split("P = []")[0])
P = []
pxbdev = ("    <controller type='pci' index='0' model='pci-root'/>\n"
          "    <controller type='pci' index='1' model='pci-expander-bus'>\n      <target busNr='100'/>\n    </controller>\n"
          "    <controller type='pci' index='2' model='pci-bridge'>\n      " + A(1, 1) + "\n    </controller>\n"
          "    <rng model='virtio'>\n      <backend model='random'>/dev/urandom</backend>\n      <alias name='ua-rng1'/>\n    </rng>\n"
          "    <interface type='user'>\n      <mac address='52:54:00:dd:00:01'/>\n      <model type='virtio'/>\n      <alias name='ua-nic1'/>\n    </interface>\n")
for acpi in (True, False):
    P.append({"name": "pc-pxb-bridge" + ("" if acpi else "-noacpi"), "domain": dom("pc", pxbdev, acpi=acpi), "ops": [
        ["attach", nic(1, "e1000", A(2, 5))],
        ["attach", nic(2, "virtio", A(1, 4))],
        ["attach", rng(A(2, 7))],
        ["detach", "<interface type='user'>\n  <mac address='52:54:00:dd:00:77'/>\n  <alias name='ua-nic9'/>\n  " + A(0, 0x1c) + "\n</interface>\n"],
        ["detach", "<interface type='user'>\n  <alias name='ua-nic1'/>\n</interface>\n"],
        ["attach", nic(3, "virtio")],
    ]})
q = ("    <controller type='pci' index='0' model='pcie-root'/>\n"
     "    <controller type='pci' index='1' model='pcie-root-port'/>\n"
     "    <controller type='pci' index='2' model='pcie-root-port'/>\n"
     "    <controller type='pci' index='3' model='pcie-to-pci-bridge'/>\n"
     "    <controller type='pci' index='4' model='pcie-root-port'/>\n"
     "    <controller type='pci' index='5' model='pcie-switch-upstream-port'/>\n"
     "    <controller type='pci' index='6' model='pcie-switch-downstream-port'/>\n"
     "    <controller type='pci' index='7' model='pcie-switch-downstream-port'>\n      <target hotplug='off'/>\n    </controller>\n"
     "    <controller type='pci' index='8' model='dmi-to-pci-bridge'/>\n"
     "    <controller type='pci' index='9' model='pci-bridge'/>\n"
     "    <controller type='virtio-serial' index='0'/>\n"
     "    <controller type='virtio-serial' index='1'/>\n")
for acpi in (True, False):
    P.append({"name": "q35-bridges" + ("" if acpi else "-noacpi"), "domain": dom("q35", q, acpi=acpi), "ops": [
        ["attach", nic(1, "e1000", A(3, 2))],
        ["attach", nic(2, "e1000", A(9, 2))],
        ["attach", nic(3, "virtio", A(6, 0))],
        ["attach", nic(4, "virtio", A(7, 0))],
        ["attach", nic(5, "virtio", A(5, 3))],
        ["attach", nic(6, "virtio")],
        ["attach", "<console type='pty'>\n  <target type='virtio'/>\n</console>\n"],
        ["attach", CHAN % "org.example.a"],
        ["attach", "<channel type='unix'>\n  <target type='virtio' name='org.example.b'/>\n  <address type='virtio-serial' controller='1' bus='0' port='1'/>\n</channel>\n"],
        ["attach", CHAN % "org.example.c"],
        ["detach-alias", "channel0"],
        ["attach", "<controller type='scsi' index='0' model='virtio-scsi'/>\n"],
        ["attach", "<disk type='file' device='disk'>\n  <driver name='qemu' type='qcow2'/>\n  <source file='/var/lib/libvirt/images/hotplug-41.qcow2'/>\n  <target dev='vdb' bus='virtio'/>\n</disk>\n"],
        ["detach", "<disk type='file' device='disk'>\n  <target dev='vdc' bus='virtio'/>\n</disk>\n"],
        ["detach", "<controller type='scsi' index='4'/>\n"],
        ["detach", "<controller type='usb' index='3'/>\n"],
    ]})
json.dump(P, open(os.path.join(HERE, "probes4.json"), "w"), indent=1)
