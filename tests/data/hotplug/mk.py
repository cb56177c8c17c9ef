import json
def dom(machine, devices, acpi=True):
    feats = "  <features>\n    <acpi/>\n    <apic/>\n  </features>\n" if acpi else ""
    return ("<domain type='qemu'>\n  <name>@NAME@</name>\n  <memory unit='MiB'>64</memory>\n  <vcpu>1</vcpu>\n"
            "  <os>\n    <type arch='x86_64' machine='%s'>hvm</type>\n  </os>\n%s  <devices>\n"
            "    <emulator>/usr/bin/qemu-system-x86_64</emulator>\n%s  </devices>\n</domain>\n") % (machine, feats, devices)
NIC = "<interface type='user'>\n  <mac address='52:54:00:aa:00:%02x'/>\n  <model type='%s'/>%s\n</interface>\n"
def nic(k, model="virtio", addr=""):
    return NIC % (k, model, ("\n  " + addr) if addr else "")
def A(bus, slot, fn=0, mf=None):
    s = "<address type='pci' domain='0x0000' bus='0x%02x' slot='0x%02x' function='0x%x'" % (bus, slot, fn)
    return s + (" multifunction='%s'" % mf if mf else "") + "/>"
RNG = "<rng model='virtio'>\n  <backend model='random'>/dev/urandom</backend>%s\n</rng>\n"
def rng(addr=""): return RNG % (("\n  " + addr) if addr else "")
CHAN = "<channel type='unix'>\n  <target type='virtio' name='%s'/>\n</channel>\n"
P = []
# pc: detach refusals + controller attach + virtio-serial + scsi index
pcdev = ("    <controller type='pci' index='0' model='pci-root'/>\n"
         "    <controller type='pci' index='1' model='pci-bridge'/>\n"
         "    <controller type='scsi' index='0' model='virtio-scsi'/>\n"
         "    <controller type='scsi' index='2' model='virtio-scsi'/>\n"
         "    <controller type='virtio-serial' index='0'/>\n"
         "    <channel type='unix'>\n      <target type='virtio' name='org.qemu.guest_agent.0'/>\n    </channel>\n"
         "    <interface type='user'>\n      <mac address='52:54:00:bb:00:01'/>\n      <model type='e1000'/>\n      " + A(1, 3) + "\n    </interface>\n"
         "    <interface type='user'>\n      <mac address='52:54:00:bb:00:02'/>\n      <model type='virtio'/>\n      " + A(0, 8, 0, "on") + "\n    </interface>\n"
         "    <interface type='user'>\n      <mac address='52:54:00:bb:00:03'/>\n      <model type='virtio'/>\n      " + A(0, 8, 1) + "\n    </interface>\n"
         "    <graphics type='vnc' port='-1' listen='127.0.0.1'/>\n"
         "    <video>\n      <model type='vga'/>\n    </video>\n"
         "    <video>\n      <model type='qxl'/>\n    </video>\n"
         "    <memballoon model='virtio'/>\n")
P.append({"name": "pc-detach", "domain": dom("pc", pcdev), "ops": [
    ["detach", "<video>\n  <model type='vga'/>\n</video>\n"],
    ["detach", "<video>\n  <model type='qxl'/>\n</video>\n"],
    ["detach", "<controller type='pci' index='1' model='pci-bridge'/>\n"],
    ["detach", "<controller type='pci' index='0' model='pci-root'/>\n"],
    ["detach", "<interface type='user'>\n  <mac address='52:54:00:bb:00:02'/>\n  <model type='virtio'/>\n</interface>\n"],
    ["detach", "<interface type='user'>\n  <mac address='52:54:00:bb:00:03'/>\n  <model type='virtio'/>\n</interface>\n"],
    ["detach", "<memballoon model='virtio'/>\n"],
    ["detach", "<controller type='virtio-serial' index='0'/>\n"],
    ["detach", "<controller type='usb' index='0'/>\n"],
    ["detach", "<interface type='user'>\n  <mac address='52:54:00:bb:00:99'/>\n</interface>\n"],
    ["detach", "<controller type='scsi' index='0'/>\n"],
    ["attach", "<controller type='scsi' model='virtio-scsi'/>\n"],
    ["attach", "<controller type='scsi' model='virtio-scsi'/>\n"],
    ["attach", "<controller type='scsi' index='7' model='virtio-scsi'/>\n"],
    ["attach", "<controller type='scsi' index='2' model='virtio-scsi'/>\n"],
    ["attach", "<controller type='scsi'/>\n"],
    ["attach", CHAN % "org.example.one"],
    ["attach", CHAN % "org.example.two"],
    ["attach", "<channel type='unix'>\n  <target type='virtio' name='org.example.three'/>\n  <address type='virtio-serial' controller='0' bus='0' port='7'/>\n</channel>\n"],
    ["attach", CHAN % "org.example.four"],
    ["attach", "<controller type='virtio-serial' index='1'/>\n"],
    ["attach", "<controller type='usb' model='qemu-xhci'/>\n"],
    ["attach", "<controller type='pci' index='2' model='pci-bridge'/>\n"],
    ["attach", "<controller type='ide' index='1'/>\n"],
    ["attach", "<controller type='sata' index='0'/>\n"],
    ["attach", "<memballoon model='virtio'/>\n"],
    ["attach", "<sound model='ich6'/>\n"],
    ["attach", "<video>\n  <model type='virtio'/>\n</video>\n"],
    ["attach", "<watchdog model='i6300esb' action='reset'/>\n"],
    ["attach", "<input type='tablet' bus='virtio'/>\n"],
    ["attach", "<vsock model='virtio'>\n  <cid auto='yes'/>\n</vsock>\n"],
    ["attach", "<shmem name='sh1'>\n  <model type='ivshmem-plain'/>\n  <size unit='M'>4</size>\n</shmem>\n"],
    ["attach", nic(1, "virtio", A(0, 9, 3))],
    ["attach", nic(2, "virtio", A(0, 8, 2))],
    ["attach", nic(3, "virtio", A(1, 5, 0, "on"))],
    ["attach", nic(4, "e1000", A(1, 0))],
    ["attach", nic(5, "virtio", A(0, 1, 0))],
    ["attach", nic(6, "virtio", A(9, 1, 0))],
    ["attach", nic(7, "virtio")],
    ["attach", nic(7, "virtio")],
]})
# pc without acpi: every hot-plug on pci.0 refused by QEMU; bridge?
P.append({"name": "pc-noacpi", "domain": dom("pc", "    <controller type='pci' index='0' model='pci-root'/>\n    <controller type='pci' index='1' model='pci-bridge'/>\n", acpi=False), "ops": [
    ["attach", nic(1)], ["attach", nic(2, "virtio", A(1, 4))], ["attach", rng(A(0, 9))], ["attach", "<controller type='scsi' model='virtio-scsi'/>\n"]]})
# pc pxb
P.append({"name": "pc-pxb", "domain": dom("pc", "    <controller type='pci' index='0' model='pci-root'/>\n    <controller type='pci' index='1' model='pci-expander-bus'/>\n"), "ops": [
    ["attach", nic(1, "virtio", A(1, 0))], ["attach", nic(2, "e1000", A(1, 3))], ["attach", rng(A(1, 1))]]})
# q35: root ports with hotplug off, pcie-root, pxb-pcie, switch
q = ("    <controller type='pci' index='0' model='pcie-root'/>\n"
     "    <controller type='pci' index='1' model='pcie-root-port'>\n      <target hotplug='off'/>\n    </controller>\n"
     "    <controller type='pci' index='2' model='pcie-root-port'/>\n"
     "    <controller type='pci' index='3' model='pcie-root-port'>\n      <target hotplug='off'/>\n    </controller>\n"
     "    <controller type='pci' index='4' model='pcie-expander-bus'>\n      <target busNr='200'/>\n    </controller>\n"
     "    <controller type='pci' index='5' model='pcie-root-port'>\n      " + A(4, 0) + "\n    </controller>\n"
     "    <controller type='pci' index='6' model='dmi-to-pci-bridge'/>\n"
     "    <controller type='pci' index='7' model='pci-bridge'/>\n"
     "    <interface type='user'>\n      <mac address='52:54:00:cc:00:01'/>\n      <model type='virtio'/>\n      " + A(1, 0) + "\n    </interface>\n"
     "    <video>\n      <model type='virtio'/>\n    </video>\n")
P.append({"name": "q35-special", "domain": dom("q35", q), "ops": [
    ["detach", "<interface type='user'>\n  <mac address='52:54:00:cc:00:01'/>\n</interface>\n"],
    ["detach", "<video>\n  <model type='virtio'/>\n</video>\n"],
    ["attach", nic(1, "virtio", A(3, 0))],
    ["attach", nic(2, "virtio", A(0, 0x10))],
    ["attach", nic(3, "e1000", A(6, 4))],
    ["attach", nic(4, "virtio", A(4, 3))],
    ["attach", nic(5, "virtio", A(5, 0))],
    ["attach", nic(6, "e1000", A(7, 3))],
    ["attach", nic(7, "virtio", A(2, 0, 2))],
    ["attach", nic(8, "virtio")],
    ["attach", nic(9, "virtio")],
    ["attach", nic(10, "e1000")],
    ["attach", "<controller type='pci' index='8' model='pcie-root-port'/>\n"],
]})
P.append({"name": "q35-noacpi", "domain": dom("q35", "    <controller type='pci' index='0' model='pcie-root'/>\n    <controller type='pci' index='1' model='pcie-root-port'/>\n    <controller type='pci' index='2' model='pcie-root-port'/>\n", acpi=False), "ops": [
    ["attach", nic(1)], ["attach", nic(2, "virtio", A(0, 0x11))]]})
json.dump(P, open("/tmp/wt10-probe/probes.json", "w"), indent=1)
