#!/usr/bin/env python3
"""Writes the bad-input catalogue (tests/data/bad/<name>.xml + <name>.expect).

Re-run after editing: python3 tests/data/bad/generate.py
Each .expect: line 1 error class (xml/internal/unsupported/limit), line 2 key
phrase, line 3 a note. Expectations were checked against `pciplan assign`.
"""
import os, sys
OUT = os.path.dirname(os.path.abspath(__file__))
os.makedirs(OUT, exist_ok=True)

def dom(devices, machine="pc", extra=""):
    body = "\n".join("    " + l for l in devices.strip("\n").split("\n")) if devices.strip() else ""
    return f"""<domain type='kvm'>
  <name>bad</name>
  <memory unit='KiB'>1048576</memory>
  <os>
    <type arch='x86_64' machine='{machine}'>hvm</type>
  </os>{extra}
  <devices>
{body}
  </devices>
</domain>
"""

cases = []
def case(name, cls, phrase, xml, note):
    cases.append((name, cls, phrase, xml, note))

RNG = "<rng model='virtio'>\n  <backend model='random'>/dev/urandom</backend>\n  <address type='pci' domain='0x0000' bus='{bus}' slot='{slot}' function='{fn}'/>\n</rng>"
def rng(bus="0x00", slot="0x05", fn="0x0", dom_="0x0000"):
    return f"<rng model='virtio'>\n  <backend model='random'>/dev/urandom</backend>\n  <address type='pci' domain='{dom_}' bus='{bus}' slot='{slot}' function='{fn}'/>\n</rng>"

# ---- 6.1 parsing addresses and controllers
case("address-bus-256-decimal", "xml", "Invalid PCI address bus='0x100', must be <= 0xFF", dom(rng(bus="256")), "spec 6.1: bus above 255, decimal")
case("address-bus-256-hex", "xml", "Invalid PCI address bus='0x100', must be <= 0xFF", dom(rng(bus="0x100")), "spec 6.1: bus above 255, hexadecimal")
case("address-bus-256-octal", "xml", "Invalid PCI address bus='0x100', must be <= 0xFF", dom(rng(bus="0400")), "spec 6.1: bus above 255, octal (C-style leading 0)")
case("address-bus-u64-overflow", "xml", "Expected non-negative integer value", dom(rng(bus="99999999999999999999999")), "bus beyond u64")
case("address-bus-above-u32", "xml", "Expected non-negative integer value", dom(rng(bus="0x100000000")), "bus above u32: libvirt 9.0's virXMLPropUInt refuses it as a number (live libvirt 9.0)")
case("address-slot-32-decimal", "xml", "Invalid PCI address slot='0x20', must be <= 0x1F", dom(rng(slot="32")), "spec 6.1: slot above 31, decimal")
case("address-slot-32-hex", "xml", "Invalid PCI address slot='0x20', must be <= 0x1F", dom(rng(slot="0x20")), "spec 6.1: slot above 31, hexadecimal")
case("address-slot-32-octal", "xml", "Invalid PCI address slot='0x20', must be <= 0x1F", dom(rng(slot="040")), "spec 6.1: slot above 31, octal")
case("address-slot-256", "xml", "Invalid PCI address slot='0x100', must be <= 0x1F", dom(rng(slot="256")), "slot above u8")
case("address-function-8-decimal", "xml", "Invalid PCI address function=0x8, must be <= 7", dom(rng(fn="8")), "spec 6.1: function above 7")
case("address-function-8-octal", "xml", "Invalid PCI address function=0x8, must be <= 7", dom(rng(fn="010")), "spec 6.1: function above 7, octal")
case("address-function-0x10", "xml", "Invalid PCI address function=0x10, must be <= 7", dom(rng(fn="0x10")), "function above 7, hexadecimal")
case("address-domain-0x10000", "xml", "Invalid PCI address domain='0x10000', must be <= 0xFFFF", dom(rng(dom_="0x10000")), "domain above 0xFFFF")
case("address-slot-negative", "xml", "Expected non-negative integer value", dom(rng(slot="-1")), "negative slot")
case("address-bus-negative", "xml", "Expected non-negative integer value", dom(rng(bus="-0x1")), "negative bus in hexadecimal")
case("address-slot-empty", "xml", "Invalid value for attribute 'slot' in element 'address': ''", dom(rng(slot="")), "empty attribute")
case("address-slot-blank", "xml", "Expected non-negative integer value", dom(rng(slot="  ")), "attribute of spaces")
# A leading '+' is accepted by libvirt (strtoul): see tests/hostile.rs.
case("address-slot-bad-hex", "xml", "Expected non-negative integer value", dom(rng(slot="0xg")), "not a hexadecimal digit")
case("address-slot-bare-0x", "xml", "Expected non-negative integer value", dom(rng(slot="0x")), "0x without digits")
case("address-slot-bad-octal", "xml", "Expected non-negative integer value", dom(rng(slot="09")), "9 is not an octal digit")
case("address-slot-float", "xml", "Expected non-negative integer value", dom(rng(slot="1.5")), "not an integer")
case("address-multifunction-bad", "xml", "Invalid value for attribute 'multifunction' in element 'address': 'maybe'. Expected 'on' or 'off'",
     dom("<rng model='virtio'>\n  <backend model='random'>/dev/urandom</backend>\n  <address type='pci' domain='0x0000' bus='0x00' slot='0x05' function='0x0' multifunction='maybe'/>\n</rng>"), "multifunction neither on nor off")
case("address-no-type", "xml", "No type specified for device address",
     dom("<rng model='virtio'>\n  <backend model='random'>/dev/urandom</backend>\n  <address domain='0x0000' bus='0x00' slot='0x05' function='0x0'/>\n</rng>"), "address without type")
case("controller-index-negative", "xml", "Invalid value for attribute 'index' in element 'controller': '-1'. Expected non-negative value",
     dom("<controller type='pci' index='-1' model='pci-bridge'/>"), "spec 6.1: negative controller index (libvirt's pci-bridge-negative-index-invalid)")
case("controller-index-hex", "xml", "Invalid value for attribute 'index' in element 'controller': '0x1'. Expected integer value",
     dom("<controller type='pci' index='0x1' model='pci-bridge'/>"), "controller index is decimal only")
case("controller-index-empty", "xml", "Invalid value for attribute 'index' in element 'controller': ''. Expected integer value",
     dom("<controller type='pci' index='' model='pci-bridge'/>"), "empty controller index")
case("controller-index-above-u32", "xml", "Invalid value for attribute 'index' in element 'controller': '4294967296'. Expected integer value",
     dom("<controller type='pci' index='4294967296' model='pci-bridge'/>"), "controller index beyond u32")
case("controller-chassisnr-negative", "xml", "Invalid value for attribute 'chassisNr' in element 'target': '-5'. Expected non-negative value",
     dom("<controller type='pci' index='1' model='pci-bridge'>\n  <target chassisNr='-5'/>\n</controller>"), "spec 6.1: negative chassisNr")
case("controller-port-negative", "xml", "Invalid value for attribute 'port' in element 'target': '-0x10'. Expected non-negative value",
     dom("<controller type='pci' index='1' model='pcie-root-port'>\n  <target chassis='1' port='-0x10'/>\n</controller>", machine="q35"), "spec 6.1: negative port in hexadecimal")
case("controller-busnr-garbage", "xml", "Invalid value for attribute 'busNr' in element 'target': 'ten'. Expected integer value",
     dom("<controller type='pci' index='1' model='pci-expander-bus'>\n  <target busNr='ten'/>\n</controller>"), "busNr not a number")
case("controller-numa-node-invalid", "xml", "invalid NUMA node in target",
     dom("<controller type='pci' index='1' model='pci-expander-bus'>\n  <target busNr='254'>\n    <node>-1</node>\n  </target>\n</controller>"), "spec 6.1: NUMA node not a non-negative integer")
case("controller-unknown-pci-model", "unsupported", "Unknown model type 'pci-foo'",
     dom("<controller type='pci' index='1' model='pci-foo'/>"), "spec 6.1: unknown PCI controller model")
case("controller-empty-pci-model", "unsupported", "Unknown model type ''",
     dom("<controller type='pci' index='1' model=''/>"), "empty model attribute")
case("controller-unknown-usb-model", "unsupported", "Unknown model type 'usb-foo'",
     dom("<controller type='usb' index='0' model='usb-foo'/>"), "spec 6.1: unknown USB controller model")
case("controller-unknown-type", "xml", "Unknown controller type",
     dom("<controller type='bogus' index='0'/>"), "unknown controller type")
case("controller-multiple-model", "xml", "Multiple <model> elements in controller definition not allowed",
     dom("<controller type='pci' index='1' model='pci-bridge'>\n  <model name='pci-bridge'/>\n  <model name='pci-bridge'/>\n</controller>"), "spec 6.1: duplicated <model>")
case("controller-multiple-target", "xml", "Multiple <target> elements in controller definition not allowed",
     dom("<controller type='pci' index='1' model='pci-bridge'>\n  <target chassisNr='1'/>\n  <target chassisNr='2'/>\n</controller>"), "spec 6.1: duplicated <target>")
case("controller-hotplug-bad-value", "xml", "Expected 'on' or 'off'",
     dom("<controller type='pci' index='1' model='pcie-root-port'>\n  <target hotplug='yes'/>\n</controller>", machine="q35"), "hotplug neither on nor off")
case("sound-no-model", "xml", "missing attribute 'model'", dom("<sound/>"), "sound without model")
case("memballoon-unknown-model", "xml", "Invalid value for attribute 'model' in element 'memballoon': 'bogus'. Unknown value", dom("<memballoon model='bogus'/>"), "unknown balloon model")

# ---- 6.2 post-processing
case("pc-root-is-pcie-root", "xml", "The PCI controller with index='0' must be model='pci-root' for this machine type, but model='pcie-root' was found instead",
     dom("<controller type='pci' index='0' model='pcie-root'/>"), "spec 6.2: wrong root model on i440fx (libvirt's 440fx-wrong-root)")
case("q35-root-is-pci-root", "xml", "The PCI controller with index='0' must be model='pcie-root' for this machine type, but model='pci-root' was found instead",
     dom("<controller type='pci' index='0' model='pci-root'/>", machine="q35"), "spec 6.2: wrong root model on q35 (libvirt's q35-wrong-root)")
case("pc-root-is-pci-bridge", "xml", "must be model='pci-root' for this machine type, but model='pci-bridge' was found instead",
     dom("<controller type='pci' index='0' model='pci-bridge'/>"), "spec 6.2: a bridge at index 0")
case("pci-root-index-1", "xml", "pci-root and pcie-root controllers should have index 0",
     dom("<controller type='pci' index='1' model='pci-root'/>"), "spec 6.2: second pci-root (libvirt's pci-root-nonzero-index)")
case("pcie-root-index-2", "xml", "pci-root and pcie-root controllers should have index 0",
     dom("<controller type='pci' index='2' model='pcie-root'/>", machine="q35"), "spec 6.2: pcie-root off index 0")
case("pxb-on-q35", "unsupported", "pci-expander-bus controllers are only supported on 440fx-based machinetypes",
     dom("<controller type='pci' index='1' model='pci-expander-bus'>\n  <target busNr='254'/>\n</controller>", machine="q35"), "spec 6.2: expander bus on the wrong machine")
case("pxb-pcie-on-pc", "unsupported", "pcie-expander-bus controllers are not supported with this machine type",
     dom("<controller type='pci' index='1' model='pcie-expander-bus'>\n  <target busNr='254'/>\n</controller>"), "spec 6.2: PCIe expander bus on i440fx")
case("pxb-numa-node-missing", "xml", "pci-expander-bus with index 1 is configured for a NUMA node (1) not present in the domain's <cpu><numa> array (0)",
     dom("<controller type='pci' index='1' model='pci-expander-bus'>\n  <target busNr='254'>\n    <node>1</node>\n  </target>\n</controller>"), "spec 6.2: NUMA node not in <cpu><numa>")
case("pci-duplicate-index", "xml", "Multiple 'pci' controllers with index '1'",
     dom("<controller type='pci' index='1' model='pci-bridge'/>\n<controller type='pci' index='1' model='pci-bridge'/>"), "spec 6.2: duplicate PCI index (libvirt's pci-bridge-duplicate-index)")
case("scsi-duplicate-index", "xml", "Multiple 'scsi' controllers with index '0'",
     dom("<controller type='scsi' index='0' model='virtio-scsi'/>\n<controller type='scsi' index='0' model='lsilogic'/>"), "spec 6.2: duplicate SCSI index")

# ---- 6.3 assignment
case("address-in-use-two-devices", "xml", "Attempted double use of PCI Address 0000:00:05.0",
     dom(rng(slot="0x05") + "\n<watchdog model='i6300esb'>\n  <address type='pci' domain='0x0000' bus='0x00' slot='0x05' function='0x0'/>\n</watchdog>"), "spec 6.3: two explicit devices at one address")
case("address-in-use-pc-chipset", "xml", "Attempted double use of PCI Address 0000:00:01.0",
     dom(rng(slot="0x01")), "spec 6.3: i440fx chipset reservation 00:01.0 counts as the earlier user")
case("address-in-use-q35-chipset", "xml", "Attempted double use of PCI Address 0000:00:1f.0",
     dom(rng(slot="0x1f"), machine="q35"), "spec 6.3: q35 LPC at 00:1f.0")
case("address-domain-1", "xml", "Only PCI domain 0 is available",
     dom(rng(dom_="0x0001")), "spec 6.3: domain other than 0 (libvirt's pci-domain-invalid)")
case("address-slot-0-on-pci-bridge", "xml", "slot must be >= 1",
     dom("<controller type='pci' index='1' model='pci-bridge'/>\n" + rng(bus="0x01", slot="0x00")), "spec 6.3: slot 0 on a pci-bridge")
case("address-slot-1-on-root-port", "xml", "slot must be <= 0",
     dom("<controller type='pci' index='1' model='pcie-root-port'/>\n" + rng(bus="0x01", slot="0x01"), machine="q35"), "spec 6.3: slot other than 0 on a pcie-root-port")
case("iommu-off-bus-0", "xml", "needs to be an integrated device (bus=0)",
     dom("<controller type='pci' index='1' model='pcie-root-port'/>\n<iommu model='virtio'>\n  <address type='pci' domain='0x0000' bus='0x01' slot='0x00' function='0x0'/>\n</iommu>", machine="q35"), "spec 6.3: integrated device off bus 0 (libvirt's virtio-iommu-invalid-address)")
case("upstream-port-on-pcie-root", "xml", "cannot be plugged into the PCI controller with index='0'",
     dom("<controller type='pci' index='1' model='pcie-switch-upstream-port'>\n  <address type='pci' domain='0x0000' bus='0x00' slot='0x05' function='0x0'/>\n</controller>", machine="q35"), "spec 6.3: device not allowed on that controller")
case("root-port-on-pci-bridge", "xml", "cannot be plugged into the PCI controller with index='1'",
     dom("<controller type='pci' index='1' model='pci-bridge'/>\n<controller type='pci' index='2' model='pcie-root-port'>\n  <address type='pci' domain='0x0000' bus='0x01' slot='0x01' function='0x0'/>\n</controller>"), "spec 6.3: PCIe root port on a conventional bridge")
case("dmi-bridge-on-root-port", "xml", "cannot be plugged into the PCI controller with index='1'",
     dom("<controller type='pci' index='1' model='pcie-root-port'/>\n<controller type='pci' index='2' model='dmi-to-pci-bridge'>\n  <address type='pci' domain='0x0000' bus='0x01' slot='0x00' function='0x0'/>\n</controller>", machine="q35"), "spec 6.3: dmi-to-pci-bridge off pcie-root (libvirt's q35-dmi-bad-address)")
case("flags-00-usb-net", "internal", "Cannot automatically add a new PCI bus for a device with connect flags 00",
     dom("<interface type='user'>\n  <model type='usb-net'/>\n</interface>"), "spec 6.3/8.15: usb-net has connect flags 00")
case("flags-00-ich7-sound", "internal", "Cannot automatically add a new PCI bus for a device with connect flags 00",
     dom("<sound model='ich7'/>"), "spec 6.3/8.15: ich7 sound has connect flags 00")
case("flags-00-xen-balloon", "internal", "Cannot automatically add a new PCI bus for a device with connect flags 00",
     dom("<memballoon model='xen'/>"), "spec 6.3/8.15: xen memballoon has connect flags 00")
case("flags-00-loop-filesystem", "internal", "Cannot automatically add a new PCI bus for a device with connect flags 00",
     dom("<filesystem type='file'>\n  <driver type='loop'/>\n  <source file='/img'/>\n  <target dir='/mnt'/>\n</filesystem>"), "spec 6.3/8.15: loop filesystem has connect flags 00")
case("flags-00-nbd-filesystem", "internal", "Cannot automatically add a new PCI bus for a device with connect flags 00",
     dom("<filesystem type='file'>\n  <driver type='nbd'/>\n  <source file='/img'/>\n  <target dir='/mnt'/>\n</filesystem>"), "spec 6.3/8.15: nbd filesystem has connect flags 00")
case("flags-00-ploop-filesystem", "internal", "Cannot automatically add a new PCI bus for a device with connect flags 00",
     dom("<filesystem type='file'>\n  <driver type='ploop'/>\n  <source file='/img'/>\n  <target dir='/mnt'/>\n</filesystem>"), "spec 6.3/8.15: ploop filesystem has connect flags 00")
case("pcie-root-port-on-pc", "internal", "a PCI slot is needed to connect a PCI controller model='pcie-root-port', but none is available",
     dom("<controller type='pci' index='1' model='pcie-root-port'/>"), "spec 6.3: root port on a pci-root machine")
case("downstream-port-without-upstream", "internal", "a PCI slot is needed to connect a PCI controller model='pcie-switch-downstream-port'",
     dom("<controller type='pci' index='1' model='pcie-switch-downstream-port'/>", machine="q35"), "spec 6.3: user downstream port without an upstream port")
case("pcie-root-port-too-many", "internal", "a PCI slot is needed to connect a PCI controller model='pcie-root-port'",
     dom("\n".join(f"<controller type='pci' index='{i}' model='pcie-root-port'/>" for i in range(1, 250)), machine="q35"), "spec 6.3: more root ports than pcie-root has functions (libvirt's pcie-root-port-too-many)")
case("primary-ide-wrong-address", "internal", "Primary IDE controller must have PCI address 0:0:1.1",
     dom("<controller type='ide' index='0'>\n  <address type='pci' domain='0x0000' bus='0x00' slot='0x05' function='0x0'/>\n</controller>"), "spec 6.3: i440fx IDE 0 off 00:01.1 (libvirt's 440fx-ide-address-conflict)")
case("piix3-usb-wrong-address", "internal", "PIIX3 USB controller at index 0 must have PCI address 0:0:1.2",
     dom("<controller type='usb' index='0' model='piix3-uhci'>\n  <address type='pci' domain='0x0000' bus='0x00' slot='0x05' function='0x0'/>\n</controller>"), "spec 6.3: i440fx USB 0 off 00:01.2")
case("primary-sata-wrong-address", "internal", "Primary SATA controller must have PCI address 0:0:1f.2",
     dom("<controller type='sata' index='0'>\n  <address type='pci' domain='0x0000' bus='0x00' slot='0x05' function='0x0'/>\n</controller>", machine="q35"), "spec 6.3: q35 SATA 0 off 00:1f.2")
case("virtio-disk-drive-address", "unsupported", "virtio disk cannot have an address of type 'drive'",
     dom("<disk type='file' device='disk'>\n  <source file='/img'/>\n  <target dev='vda' bus='virtio'/>\n  <address type='drive' controller='0' bus='0' target='0' unit='0'/>\n</disk>"), "spec 6.3: virtio disk with a drive address")
case("pxb-no-free-busnr", "unsupported", "No free busNr lower than current lowest busNr is available to auto-assign to bus 0. Must be manually assigned",
     dom("<controller type='pci' index='1' model='pci-expander-bus'>\n  <target busNr='2'/>\n</controller>\n<controller type='pci' index='2' model='pci-expander-bus'/>"), "spec 6.3: expander bus without busNr when busNr 2 is taken")
case("pci-bridge-index-not-above-bus", "unsupported", "PCI controller at index 1 (0x01) has bus='0x02', but index must be larger than bus",
     dom("<controller type='pci' index='1' model='pci-bridge'>\n  <address type='pci' domain='0x0000' bus='0x02' slot='0x01' function='0x0'/>\n</controller>\n<controller type='pci' index='2' model='pci-bridge'/>"), "spec 6.3: bridge below a higher-numbered bus")

# ---- 6.4 controller validation
case("pci-root-with-address", "unsupported", "pci-root and pcie-root controllers should not have an address",
     dom("<controller type='pci' index='0' model='pci-root'>\n  <address type='pci' domain='0x0000' bus='0x00' slot='0x05' function='0x0'/>\n</controller>"), "spec 6.4: root with an address (libvirt's pci-root-address)")
case("pci-index-256", "unsupported", "PCI controller index 256 too high, maximum is 255",
     dom("<controller type='pci' index='256' model='pci-bridge'/>"), "spec 6.4: more than 256 buses by index")
case("pci-bridge-chassisnr-0", "unsupported", "PCI controller chassisNr '0' out of range - must be 1-255",
     dom("<controller type='pci' index='1' model='pci-bridge'>\n  <target chassisNr='0'/>\n</controller>"), "spec 6.4: chassisNr 0")
case("pci-bridge-chassisnr-256-hex", "unsupported", "PCI controller chassisNr '256' out of range - must be 1-255",
     dom("<controller type='pci' index='1' model='pci-bridge'>\n  <target chassisNr='0x100'/>\n</controller>"), "spec 6.4: chassisNr 256, hexadecimal")
case("root-port-chassis-256", "unsupported", "PCI controller chassis '256' out of range - must be 0-255",
     dom("<controller type='pci' index='1' model='pcie-root-port'>\n  <target chassis='256' port='0x10'/>\n</controller>", machine="q35"), "spec 6.4: chassis above 255")
case("root-port-port-256-octal", "unsupported", "PCI controller port '256' out of range - must be 0-255",
     dom("<controller type='pci' index='1' model='pcie-root-port'>\n  <target chassis='1' port='0400'/>\n</controller>", machine="q35"), "spec 6.4: port above 255, octal")
case("pxb-busnr-255", "unsupported", "PCI controller busNr '255' out of range - must be 1-254",
     dom("<controller type='pci' index='1' model='pci-expander-bus'>\n  <target busNr='255'/>\n</controller>"), "spec 6.4: busNr above 254")
case("pci-root-numa-node", "unsupported", "The PCI controller with index=0 can't be associated with a NUMA node",
     dom("<controller type='pci' index='0' model='pci-root'>\n  <target>\n    <node>0</node>\n  </target>\n</controller>", extra="\n  <cpu>\n    <numa>\n      <cell id='0' cpus='0' memory='1048576' unit='KiB'/>\n    </numa>\n  </cpu>"), "spec 6.4: NUMA node on index 0")
case("pci-bridge-wrong-model-name", "unsupported", "Option 'modelName' has invalid value for PCI controller with index '1', model 'pci-bridge'",
     dom("<controller type='pci' index='1' model='pci-bridge'>\n  <model name='pcie-root-port'/>\n</controller>"), "spec 6.4: model name of another model")
case("pci-root-model-name", "unsupported", "Option 'modelName' is not valid for PCI controller with index '0', model 'pci-root'",
     dom("<controller type='pci' index='0' model='pci-root'>\n  <model name='spapr-pci-host-bridge'/>\n</controller>"), "spec 6.4: named pci-root off pSeries")
case("pci-bridge-busnr", "unsupported", "Option 'busNr' is not valid for PCI controller with index '1', model 'pci-bridge'",
     dom("<controller type='pci' index='1' model='pci-bridge'>\n  <target busNr='5'/>\n</controller>"), "spec 6.4: busNr on a bridge")
case("root-port-chassisnr", "unsupported", "Option 'chassisNr' is not valid for PCI controller with index '1', model 'pcie-root-port'",
     dom("<controller type='pci' index='1' model='pcie-root-port'>\n  <target chassisNr='5'/>\n</controller>", machine="q35"), "spec 6.4: chassisNr on a root port")
case("pci-bridge-hotplug", "unsupported", "Option 'hotplug' is not valid for PCI controller with index '1', model 'pci-bridge'",
     dom("<controller type='pci' index='1' model='pci-bridge'>\n  <target hotplug='off'/>\n</controller>"), "spec 6.4: hotplug on a bridge")
case("pci-bridge-pcihole64", "unsupported", "Option 'pcihole64' is not valid for PCI controller with index '1', model 'pci-bridge'",
     dom("<controller type='pci' index='1' model='pci-bridge'>\n  <pcihole64 unit='KiB'>0</pcihole64>\n</controller>"), "spec 6.4: pcihole64 on a bridge")

# ---- 6.5 address types
for bus, dev in [("ide", "hda"), ("sata", "sda"), ("scsi", "sdb"), ("fdc", "fda")]:
    dev_attr = "device='floppy'" if bus == "fdc" else "device='disk'"
    case(f"disk-{bus}-pci-address", "unsupported", f"Invalid address type 'pci' for the disk '{dev}' with the bus type '{bus}'",
         dom(f"<disk type='file' {dev_attr}>\n  <source file='/img'/>\n  <target dev='{dev}' bus='{bus}'/>\n  <address type='pci' domain='0x0000' bus='0x00' slot='0x05' function='0x0'/>\n</disk>"), f"spec 6.5: PCI address on a {bus} disk")
case("disk-usb-pci-address", "internal", "unexpected address type for usb disk",
     dom("<disk type='file' device='disk'>\n  <source file='/img'/>\n  <target dev='sdc' bus='usb'/>\n  <address type='pci' domain='0x0000' bus='0x00' slot='0x05' function='0x0'/>\n</disk>"), "spec 6.5: USB disk with a PCI address")
case("ramfb-with-address", "unsupported", "address not supported for video type ramfb",
     dom("<video>\n  <model type='ramfb'/>\n  <address type='pci' domain='0x0000' bus='0x00' slot='0x05' function='0x0'/>\n</video>"), "spec 6.5: ramfb with an address")
case("iommu-virtio-not-pci", "unsupported", "IOMMU device: 'virtio' needs a PCI address",
     dom("<iommu model='virtio'>\n  <address type='isa' iobase='0x100'/>\n</iommu>", machine="q35"), "spec 6.5: virtio IOMMU with a non-PCI address")
case("shmem-not-pci", "unsupported", "only 'pci' addresses are supported for the shared memory device",
     dom("<shmem name='s'>\n  <address type='isa' iobase='0x100'/>\n</shmem>"), "spec 6.5: shmem with a non-PCI address (libvirt's shmem-invalid-address)")
case("input-virtio-transitional", "unsupported", "virtio (non-)transitional models are not supported for input type=tablet",
     dom("<input type='tablet' bus='virtio' model='virtio-transitional'/>"), "spec 6.5: transitional virtio input")
case("mdev-vfio-pci-ccw-address", "xml", "Unsupported address type 'ccw' with mediated device model 'vfio-pci'",
     dom("<hostdev mode='subsystem' type='mdev' model='vfio-pci'>\n  <source>\n    <address uuid='c2177883-f1bb-47f0-914d-32a22e3a8804'/>\n  </source>\n  <address type='ccw' cssid='0xfe' ssid='0x0' devno='0x0001'/>\n</hostdev>"), "spec 6.5: vfio-pci mdev with a CCW address")
case("hostdev-duplicate", "xml", "Hostdev already exists in the domain configuration",
     dom("<hostdev mode='subsystem' type='pci' managed='yes'>\n  <source>\n    <address domain='0x0000' bus='0x06' slot='0x12' function='0x5'/>\n  </source>\n</hostdev>\n<hostdev mode='subsystem' type='pci' managed='yes'>\n  <source>\n    <address domain='0x0000' bus='0x06' slot='0x12' function='0x5'/>\n  </source>\n</hostdev>"), "two host devices naming one host function (libvirt's hostdev-pci-duplicate)")
case("hostdev-source-slot-32", "xml", "Invalid PCI address slot='0x20', must be <= 0x1F",
     dom("<hostdev mode='subsystem' type='pci' managed='yes'>\n  <source>\n    <address domain='0x0000' bus='0x06' slot='0x20' function='0x0'/>\n  </source>\n</hostdev>"), "host source address out of range")
case("zpci-unsupported", "unsupported", "This QEMU binary doesn't support zPCI",
     dom("<rng model='virtio'>\n  <backend model='random'>/dev/urandom</backend>\n  <address type='pci' domain='0x0000' bus='0x00' slot='0x05' function='0x0'>\n    <zpci uid='0x0001' fid='0x00000001'/>\n  </address>\n</rng>"), "spec 6.6: zPCI on x86")
case("arch-unsupported", "unsupported", "unsupported architecture", dom("").replace("x86_64", "pdp11"), "an architecture libvirt does not know")

# ---- malformed XML
base = dom(rng())
case("xml-empty", "xml", "the document does not have a root node", "", "empty document")
case("xml-whitespace-only", "xml", "the document does not have a root node", "   \n\t\n", "only whitespace")
case("xml-not-xml", "xml", "unknown token at 1:1", "this is not XML\n", "plain text")
case("xml-truncated-in-tag", "xml", "unexpected end of stream", base[: base.index("slot=") + 3], "truncated inside a start tag")
case("xml-truncated-unclosed-root", "xml", "the root node was opened but never closed", base[: base.index("</domain>")], "truncated before the closing </domain>")
case("xml-truncated-in-attribute", "xml", "unexpected end of stream", base[: base.index("bus='0x00'") + 6], "truncated inside an attribute value")
case("xml-mismatched-tags", "xml", "expected 'rng' tag, not 'rnd'", base.replace("</rng>", "</rnd>"), "end tag does not match")
case("xml-duplicate-attribute", "xml", "attribute 'model' at 8:25 is already defined", base.replace("<rng model='virtio'>", "<rng model='virtio' model='virtio'>"), "attribute given twice")
case("xml-unknown-entity", "xml", "unknown entity reference 'nosuch'", base.replace("<name>bad</name>", "<name>&nosuch;</name>"), "reference to an undeclared entity")
case("xml-two-roots", "xml", "unknown token at 14:1", base + "<domain/>\n", "second root element")
case("xml-wrong-root", "xml", "expected root element <domain>, found <vm>", base.replace("<domain type='kvm'>", "<vm type='kvm'>").replace("</domain>", "</vm>"), "root element is not <domain>")
case("xml-wrong-root-network", "xml", "expected root element <domain>, found <network>", "<network>\n  <name>default</name>\n</network>\n", "a libvirt network definition")
case("xml-doctype-plain", "xml", "XML with DTD detected", "<?xml version='1.0'?>\n<!DOCTYPE domain>\n" + base, "any DTD is refused")
case("xml-doctype-external-entity", "xml", "XML with DTD detected",
     "<?xml version='1.0'?>\n<!DOCTYPE domain [\n  <!ENTITY xxe SYSTEM \"file:///etc/passwd\">\n]>\n" + base.replace("<name>bad</name>", "<name>&xxe;</name>"), "external entity: must not be read")
case("xml-doctype-external-dtd", "xml", "XML with DTD detected",
     "<?xml version='1.0'?>\n<!DOCTYPE domain SYSTEM \"http://127.0.0.1:9/domain.dtd\">\n" + base, "external DTD: must not be fetched")
laughs = "<?xml version='1.0'?>\n<!DOCTYPE domain [\n  <!ENTITY lol \"lol\">\n"
for i in range(2, 10):
    prev = "lol" if i == 2 else f"lol{i-1}"
    laughs += f"  <!ENTITY lol{i} \"" + f"&{prev};" * 10 + "\">\n"
laughs += "]>\n" + base.replace("<name>bad</name>", "<name>&lol9;</name>")
case("xml-billion-laughs", "xml", "XML with DTD detected", laughs, "entity expansion (billion laughs)")
case("xml-nul-character", "xml", "a non-XML character", base.replace("<name>bad</name>", "<name>b\x01d</name>"), "control character in text")
case("xml-declaration-not-first", "xml", "unexpected XML declaration", "<!-- c -->\n<?xml version='1.0'?>\n" + base, "XML declaration after a comment")

# ---- issue 13: hostile and odd input (answers of the live libvirt 9.0 + QEMU 7.2) ----
PCIA = "<address type='pci' domain='0x0000' bus='0x00' slot='0x09' function='0x0'/>"
NIC = "<interface type='user'>\n  <model type='virtio'/>\n  {addr}\n</interface>"
def q35(devices):
    return dom(devices, machine="q35")
# class 1: resources, refused early and cheaply
case("i13-pci-index-256-pc", "unsupported", "PCI controller index 256 too high, maximum is 255",
     dom("<controller type='pci' index='256' model='pci-bridge'/>"), "live libvirt 9.0: validation refuses the index")
case("i13-pci-index-1e8-pc", "unsupported", "PCI controller index 100000000 too high, maximum is 255",
     dom("<controller type='pci' index='100000000' model='pci-bridge'/>"), "libvirt itself grows 10^8 buses (hangs); refused before any per-index state")
case("i13-pci-index-1e8-q35", "internal", "a PCI slot is needed to connect a PCI controller model='pcie-root-port', but none is available",
     q35("<controller type='pci' index='100000000' model='pcie-root-port'/>"), "live libvirt 9.0 for 256/1000: the dry run runs out of root-port slots; 10^8 hangs libvirtd (9 GB)")
case("i13-pci-index-2pow31-q35", "internal", "a PCI slot is needed to connect a PCI controller model='pcie-root-port'",
     q35("<controller type='pci' index='2147483648' model='pci-bridge'/>"), "index 2^31: the old allocation of ~200 GB aborted")
case("i13-pci-index-256-nomodel", "internal", "PCI controller model was not set correctly",
     dom("<controller type='pci' index='256'/>"), "live libvirt 9.0: the model check comes first")
# 470,000 attributes on one element (3.7 MB) are generated in tests/hostile.rs.
case("i13-namespace-declarations", "limit", "namespace declarations exceeds the limit of 1024",
     dom("\n".join(f"<x:e xmlns:x='urn:{i}'/>" for i in range(1100))), "each declaring element copies the namespaces in scope")
# class 2: namespaces (libvirt reads elements in no namespace only)
case("i13-ns-address-bogus-type-plain", "unsupported", "unknown address type 'bogus'",
     dom(NIC.format(addr="<x:address xmlns:x='urn:x' type='pci' slot='0x09'/>\n  <address type='bogus'/>")), "the namespaced address is ignored, the plain one is read")
case("i13-ns-root-default-namespace", "xml", "an os <type> must be specified",
     dom("").replace("<domain type='kvm'>", "<domain xmlns='urn:x' type='kvm'>"), "default namespace on the root: no element of libvirt's is found (libvirt 9.0: 'missing name information', pciplan checks no name)")
# class 4: structure
case("i13-two-devices-blocks-clash", "xml", "Attempted double use of PCI Address 0000:00:09.0",
     dom(NIC.format(addr=PCIA) + "\n</devices>\n<devices>\n" + NIC.format(addr=PCIA)), "live libvirt 9.0 reads every <devices> block")
# class 5: addresses on devices that take none
case("i13-console-pci-clash", "xml", "Attempted double use of PCI Address 0000:00:09.0",
     dom("<console type='pty'>\n  <target type='virtio'/>\n  " + PCIA + "\n</console>\n" + NIC.format(addr=PCIA)), "live libvirt 9.0: a virtio console keeps its PCI address")
case("i13-console-serial-pci", "unsupported", "Target type 'isa-serial' requires address type 'isa'",
     dom("<console type='pty'>\n  <target type='serial'/>\n  " + PCIA + "\n</console>"), "live libvirt 9.0: the console becomes serial 0, address and all")
# class 6: address validation
case("i13-address-type-bogus", "unsupported", "unknown address type 'bogus'",
     dom(NIC.format(addr="<address type='bogus'/>")), "live libvirt 9.0")
case("i13-address-type-bogus-usb", "unsupported", "unknown address type 'bogus'",
     dom("<controller type='usb' index='0'>\n  <address type='bogus'/>\n</controller>"), "live libvirt 9.0: was replaced by a PCI address")
case("i13-address-type-none", "unsupported", "unknown address type 'none'",
     dom(NIC.format(addr="<address type='none'/>")), "virDomainDeviceAddressTypeFromString(..) <= 0")
case("i13-smartcard-pci", "unsupported", "Controllers must use the 'ccid' address type",
     dom("<smartcard mode='passthrough' type='spicevmc'>\n  " + PCIA + "\n</smartcard>"), "live libvirt 9.0")
case("i13-watchdog-ib700-pci", "unsupported", "ib700 model of watchdog does not support configuring the address",
     dom("<watchdog model='ib700'>\n  " + PCIA + "\n</watchdog>"), "live libvirt 9.0")
case("i13-serial-isa-pci", "unsupported", "Target type 'isa-serial' requires address type 'isa'",
     dom("<serial type='pty'>\n  <target type='isa-serial'/>\n  " + PCIA + "\n</serial>"), "live libvirt 9.0")
case("i13-slot-trailing-space", "xml", "Invalid value for attribute 'slot' in element 'address': '0x05 '. Expected non-negative integer value",
     dom(NIC.format(addr="<address type='pci' domain='0x0000' bus='0x00' slot='0x05 ' function='0x0'/>")), "live libvirt 9.0: strtoul must end at the string's end")
case("i13-slot-above-u32", "xml", "'4294967296'. Expected non-negative integer value",
     dom(NIC.format(addr="<address type='pci' domain='0x0000' bus='0x00' slot='4294967296' function='0x0'/>")), "live libvirt 9.0")
case("i13-two-primary-videos", "unsupported", "Only one primary video device is supported",
     dom("<video>\n  <model type='vga' primary='yes'/>\n</video>\n<video>\n  <model type='qxl' primary='yes'/>\n</video>"), "live libvirt 9.0")
case("i13-second-ide-controller", "unsupported", "Only a single IDE controller is supported for this machine type",
     dom("<controller type='ide' index='1'/>"), "live libvirt 9.0")
case("i13-scsi-drive-controller-1000", "internal", "a PCI slot is needed to connect a PCI controller model='pci-bridge'",
     dom("<disk type='file' device='disk'>\n  <source file='/tmp/x.img'/>\n  <target dev='sda' bus='scsi'/>\n  <address type='drive' controller='1000' bus='0' target='0' unit='0'/>\n</disk>"), "live libvirt 9.0: adds SCSI controllers 0-1000, which do not fit")
case("i13-no-os", "xml", "an os <type> must be specified",
     "<domain type='kvm'>\n  <name>bad</name>\n  <devices/>\n</domain>\n", "live libvirt 9.0")
case("i13-os-type-empty", "xml", "an os <type> must be specified",
     dom("").replace(">hvm</type>", "/>"), "libvirt reads string(./os/type[1])")

for old in os.listdir(OUT):
    if old.endswith((".xml", ".expect")):
        os.remove(os.path.join(OUT, old))
for name, cls, phrase, xml, note in cases:
    with open(f"{OUT}/{name}.xml", "w") as f:
        f.write(xml)
    with open(f"{OUT}/{name}.expect", "w") as f:
        f.write(f"{cls}\n{phrase}\nnote: {note}\n")
print(len(cases), "cases")
