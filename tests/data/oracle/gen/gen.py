#!/usr/bin/env python3
"""Random but valid(ish) x86 domain XMLs for differential testing against libvirt.

Deterministic: the same (profile, seed) always gives the same XML.

    gen.py PROFILE SEED            print one domain XML
    gen.py --list                  print the profiles

Profiles (the name of a case is `<profile>-<seed>`):
  mixed   pc or q35, 0..~40 devices of every kind, a few explicit addresses
  ctrl    explicit PCI controller topologies (bridges, root ports, switches,
          pxb/pxb-pcie, dmi-to-pci / pcie-to-pci bridges, with/without index)
  addr    many explicit PCI addresses (valid, on bridges, clashing,
          multifunction)
  big     pc + memballoon none + 55..65 or 85..95 virtio disks (bridge limits),
          or q35 with 25..40 endpoints
  usb     USB controller sets (ich9 companions, uhci/ehci/xhci, none)
  video   video combinations (cirrus/vga/qxl/virtio/bochs, primary flags)
  edge    rarer inputs: addresses on buses that do not exist yet, functions
          without function 0, empty <address type='pci'/>, ioh3420/x3130 model
          names, pxb on a NUMA node, ivshmem, passthrough inputs, scsi/virtio-serial
          controller indexes referenced by disks/channels, old machine versions
  order   like mixed, but disks stay in generation order (libvirt sorts them)
          and several watchdogs may appear

Run the oracle over the output with run.py (see ../README.md).
"""
import random
import re
import sys

PROFILES = ("mixed", "ctrl", "addr", "big", "usb", "video", "order", "edge")

PC_MACHINES = ["pc"] * 8 + ["pc-i440fx-7.2", "pc-i440fx-2.12"]
Q35_MACHINES = ["q35"] * 8 + ["pc-q35-7.2", "pc-q35-5.2"]


def disk_name(prefix, n):
    """vda, vdb, ..., vdz, vdaa, ... (libvirt's disk naming)."""
    s = ""
    n += 1
    while n > 0:
        n, r = divmod(n - 1, 26)
        s = chr(ord("a") + r) + s
    return prefix + s


class Gen:
    def __init__(self, profile, seed):
        self.profile = profile
        self.seed = seed
        self.r = random.Random("%s-%d" % (profile, seed))
        self.q35 = self.r.random() < 0.5
        self.devs = []  # (tag, xml)
        self.nvd = 0
        self.nsd = 0
        self.nhd = 0
        self.nfs = 0
        self.bridges = []  # indexes of explicit pci controllers that take PCI devices
        self.used_slots = set()
        self.addr_rate = 0.0
        # libvirt keeps disks grouped by bus and sorted by name; write them in that
        # order unless this case is about the order (profile "order")
        self.keep_disk_order = profile == "order"
        self.watchdogs = 0

    # -- helpers ---------------------------------------------------------
    def chance(self, p):
        return self.r.random() < p

    def pci_addr(self, bus=0, slot=None, function=0, mf=None):
        if slot is None:
            slot = self.r.randint(3, 31)
        s = "<address type='pci' domain='0x0000' bus='0x%02x' slot='0x%02x' function='0x%x'" % (
            bus, slot, function)
        if mf:
            s += " multifunction='%s'" % mf
        return s + "/>"

    def maybe_addr(self):
        """An explicit address at rate self.addr_rate, otherwise ''."""
        if not self.chance(self.addr_rate):
            return ""
        bus = 0
        if self.bridges and self.chance(0.4):
            bus = self.r.choice(self.bridges)
            slot = self.r.randint(1, 31)
        else:
            slot = self.r.randint(3, 31) if not self.q35 else self.r.randint(2, 30)
        return self.pci_addr(bus, slot)

    def add(self, tag, xml):
        self.devs.append((tag, xml))

    # -- devices ---------------------------------------------------------
    def virtio_disk(self, addr=None):
        name = disk_name("vd", self.nvd)
        self.nvd += 1
        model = self.r.choice(["", "", "", "", " model='virtio-transitional'",
                               " model='virtio-non-transitional'"])
        a = self.maybe_addr() if addr is None else addr
        self.add("disk", "<disk type='file' device='disk'%s><driver name='qemu' type='raw'/>"
                 "<source file='/var/lib/libvirt/images/%s.img'/><target dev='%s' bus='virtio'/>%s</disk>"
                 % (model, name, name, a))

    def scsi_disk(self):
        name = disk_name("sd", self.nsd)
        self.nsd += 1
        self.add("disk", "<disk type='file' device='disk'><driver name='qemu' type='raw'/>"
                 "<source file='/var/lib/libvirt/images/%s.img'/><target dev='%s' bus='scsi'/></disk>"
                 % (name, name))

    def sata_or_ide_disk(self):
        if self.q35:
            name = disk_name("sd", self.nsd)
            self.nsd += 1
            bus = "sata"
        else:
            if self.nhd >= 4:
                return
            name = disk_name("hd", self.nhd)
            self.nhd += 1
            bus = "ide"
        dev = self.r.choice(["disk", "cdrom"])
        self.add("disk", "<disk type='file' device='%s'><driver name='qemu' type='raw'/>"
                 "<source file='/var/lib/libvirt/images/%s.img'/><target dev='%s' bus='%s'/></disk>"
                 % (dev, name, name, bus))

    def interface(self, addr=None):
        model = self.r.choice(["virtio", "virtio", "e1000", "e1000e", "rtl8139", None,
                               "virtio-transitional", "virtio-non-transitional"])
        m = "<model type='%s'/>" % model if model else ""
        a = self.maybe_addr() if addr is None else addr
        self.add("interface", "<interface type='user'>%s%s</interface>" % (m, a))

    def scsi_controller(self):
        model = self.r.choice(["virtio-scsi", "virtio-scsi", "lsilogic", "virtio-transitional",
                               "virtio-non-transitional", None])
        m = " model='%s'" % model if model else ""
        idx = " index='%d'" % self.r.randint(0, 3) if self.chance(0.3) else ""
        self.add("controller", "<controller type='scsi'%s%s>%s</controller>" % (idx, m, self.maybe_addr()))

    def usb_controllers(self):
        self.nusb = getattr(self, "nusb", 0) + 1
        if self.nusb > 1 and self.chance(0.8):
            return
        kind = self.r.choice(["qemu-xhci", "nec-xhci", "piix3-uhci", "piix4-uhci", "ehci",
                              "ich9-set", "ich9-set", "ich9-ehci1", "none", "default",
                              "two"])
        if kind == "default":
            self.add("controller", "<controller type='usb' index='0'/>")
        elif kind == "ich9-set":
            ports = {"ich9-uhci1": 0, "ich9-uhci2": 2, "ich9-uhci3": 4}
            self.add("controller", "<controller type='usb' index='0' model='ich9-ehci1'>%s</controller>"
                     % self.maybe_addr())
            for m, p in ports.items():
                self.add("controller", "<controller type='usb' index='0' model='%s'>"
                         "<master startport='%d'/></controller>" % (m, p))
        elif kind == "two":
            self.add("controller", "<controller type='usb' index='0' model='%s'/>"
                     % self.r.choice(["qemu-xhci", "piix3-uhci", "ehci"]))
            self.add("controller", "<controller type='usb' index='1' model='%s'/>"
                     % self.r.choice(["qemu-xhci", "nec-xhci", "ich9-ehci1"]))
        else:
            self.add("controller", "<controller type='usb' index='0' model='%s'>%s</controller>"
                     % (kind, self.maybe_addr() if kind != "none" else ""))

    def virtio_serial(self):
        idx = " index='%d'" % self.r.randint(0, 2) if self.chance(0.5) else ""
        self.add("controller", "<controller type='virtio-serial'%s>%s</controller>"
                 % (idx, self.maybe_addr()))

    def channel(self):
        self.add("channel", "<channel type='unix'><target type='virtio' name='org.qemu.guest_agent.%d'/></channel>"
                 % self.r.randint(0, 99))

    def sound(self):
        model = self.r.choice(["ich6", "ich9", "ac97", "ich6", "ich9"])
        self.add("sound", "<sound model='%s'>%s</sound>" % (model, self.maybe_addr()))

    def video(self, count=None):
        count = count if count is not None else self.r.choice([1, 1, 1, 2])
        models = ["cirrus", "vga", "qxl", "virtio", "bochs"]
        if count == 1:
            m = self.r.choice(models)
            self.add("video", "<video><model type='%s'/>%s</video>" % (m, self.maybe_addr()))
            return
        prim = self.r.choice(models)
        sec = [self.r.choice(["qxl", "virtio", "qxl", "virtio"] * 3 + ["vga", "cirrus", "bochs", "ramfb"])
               for _ in range(count - 1)]
        # sometimes the primary is not listed first
        items = ["<video><model type='%s' primary='yes'/>%s</video>" % (prim, self.maybe_addr())]
        items += ["<video><model type='%s'/>%s</video>" % (s, self.maybe_addr()) for s in sec]
        if self.chance(0.4):
            self.r.shuffle(items)
        if self.chance(0.2):
            items[0] = items[0].replace(" primary='yes'", "")
        for it in items:
            self.add("video", it)

    def rng(self):
        model = self.r.choice(["virtio", "virtio", "virtio-transitional", "virtio-non-transitional"])
        self.add("rng", "<rng model='%s'><backend model='random'>/dev/urandom</backend>%s</rng>"
                 % (model, self.maybe_addr()))

    def memballoon(self, model=None):
        model = model or self.r.choice(["virtio", "virtio", "none", "virtio-transitional",
                                        "virtio-non-transitional", "absent"])
        if model == "absent":
            return
        a = self.maybe_addr() if model != "none" else ""
        stats = "<stats period='10'/>" if model != "none" and self.chance(0.3) else ""
        self.add("memballoon", "<memballoon model='%s'>%s%s</memballoon>" % (model, stats, a))

    def watchdog(self):
        self.watchdogs += 1
        if self.watchdogs > 1 and self.profile != "order":
            return
        self.add("watchdog", "<watchdog model='i6300esb' action='reset'>%s</watchdog>" % self.maybe_addr())

    def vinput(self):
        t = self.r.choice(["tablet", "keyboard", "mouse"])
        bus = self.r.choice(["virtio", "virtio", "virtio", "usb"])
        a = self.maybe_addr() if bus == "virtio" else ""
        self.add("input", "<input type='%s' bus='%s'>%s</input>" % (t, bus, a))

    def filesystem(self):
        n = self.nfs
        self.nfs += 1
        self.add("filesystem", "<filesystem type='mount' accessmode='mapped'><source dir='/srv/fs%d'/>"
                 "<target dir='tag%d'/>%s</filesystem>" % (n, n, self.maybe_addr()))

    def vsock(self):
        self.add("vsock", "<vsock model='virtio'><cid auto='yes'/>%s</vsock>" % self.maybe_addr())

    def pci_serial(self):
        self.add("serial", "<serial type='pty'><target type='pci-serial'/>%s</serial>" % self.maybe_addr())

    def graphics(self):
        self.add("graphics", "<graphics type='vnc' port='-1' autoport='yes'/>")

    # -- PCI controllers -------------------------------------------------
    def pci_controllers(self, n):
        """n explicit PCI controllers fitting the machine, indexes sometimes given."""
        out = []
        give_index = self.r.choice(["all", "none", "some"])
        next_idx = 1
        # a PCI controller without index takes the first free one, 0 included: give
        # the root explicitly most of the time so that the rest is not an error
        if self.chance(0.3 if give_index == "all" else 0.85):
            out.append("<controller type='pci' index='0' model='%s'/>"
                       % ("pcie-root" if self.q35 else "pci-root"))
        for _ in range(n):
            if self.q35:
                model = self.r.choice(["pcie-root-port"] * 4 + [
                    "pcie-to-pci-bridge", "dmi-to-pci-bridge", "pci-bridge",
                    "pcie-switch-upstream-port", "pcie-switch-downstream-port",
                    "pcie-expander-bus", "switch"])
            else:
                model = self.r.choice(["pci-bridge"] * 4 + ["pci-expander-bus"])
            if model == "switch":
                chunk = ["pcie-switch-upstream-port"] + ["pcie-switch-downstream-port"] * self.r.randint(1, 4)
            else:
                chunk = [model]
            for m in chunk:
                idx = ""
                if give_index == "all" or (give_index == "some" and self.chance(0.5)):
                    if self.chance(0.1):
                        next_idx += self.r.randint(1, 3)  # holes in the index space
                    idx = " index='%d'" % next_idx
                next_idx += 1
                target = ""
                if m in ("pci-expander-bus", "pcie-expander-bus"):
                    if self.chance(0.8):
                        target = "<target busNr='%d'/>" % self.r.choice([254, 250, 200, 128, 100, 40])
                elif m == "pcie-root-port" and self.chance(0.25):
                    target = "<target hotplug='off'/>"
                elif m == "pcie-root-port" and self.chance(0.1):
                    target = "<target chassis='%d' port='0x%x'/>" % (self.r.randint(1, 30),
                                                                    self.r.randint(0x10, 0x30))
                addr = ""
                if self.chance(self.addr_rate / 2):
                    addr = self.pci_addr(0, self.r.randint(2, 30))
                out.append("<controller type='pci'%s model='%s'>%s%s</controller>" % (idx, m, target, addr))
                if idx and m in ("pci-bridge", "pcie-to-pci-bridge"):
                    self.bridges.append(int(idx.split("'")[1]))
        if self.chance(0.3):
            self.r.shuffle(out)
        elif out and "index='0'" in out[0] and self.chance(0.5):
            out.append(out.pop(0))  # the root last
        for c in out:
            self.add("controller", c)

    # -- profiles --------------------------------------------------------
    def random_devices(self, n):
        kinds = [
            (self.virtio_disk, 10), (self.interface, 8), (self.scsi_disk, 2),
            (self.sata_or_ide_disk, 2), (self.scsi_controller, 2), (self.virtio_serial, 1),
            (self.channel, 1), (self.sound, 2), (self.rng, 2), (self.watchdog, 1),
            (self.vinput, 2), (self.filesystem, 2), (self.pci_serial, 1),
        ]
        fns = [k for k, w in kinds for _ in range(w)]
        for _ in range(n):
            self.r.choice(fns)()

    def singletons(self):
        if self.chance(0.5):
            self.usb_controllers()
        if self.chance(0.4):
            self.video()
        if self.chance(0.3):
            self.graphics()
        if self.chance(0.2):
            self.vsock()
        if self.chance(0.7):
            self.memballoon()
        else:
            self.memballoon("absent")

    def build(self):
        p = self.profile
        r = self.r
        if p in ("mixed", "order"):
            self.addr_rate = r.choice([0, 0, 0.05, 0.15])
            if self.chance(0.3):
                self.pci_controllers(r.randint(1, 4))
            self.random_devices(r.choice([0, 1, 2, 3, 5, 8, 12, 20, 30, 40]))
            self.singletons()
        elif p == "ctrl":
            self.addr_rate = r.choice([0, 0, 0.1])
            self.pci_controllers(r.randint(1, 10))
            self.random_devices(r.randint(0, 25))
            self.singletons()
        elif p == "addr":
            self.addr_rate = r.choice([0.3, 0.6, 1.0])
            if self.chance(0.5):
                self.pci_controllers(r.randint(1, 4))
            self.random_devices(r.randint(1, 15))
            if self.chance(0.6):
                self.multifunction()
            self.singletons()
        elif p == "big":
            if self.chance(0.7):
                self.q35 = False
                n = r.choice([r.randint(55, 65), r.randint(85, 95), r.randint(25, 35)])
                for _ in range(n):
                    self.virtio_disk("")
                self.memballoon("none")
                if self.chance(0.3):
                    self.interface("")
            else:
                self.q35 = True
                n = r.randint(25, 40)
                for _ in range(n):
                    self.r.choice([self.virtio_disk, self.interface])("")
                self.memballoon(r.choice(["none", "virtio"]))
        elif p == "usb":
            self.addr_rate = r.choice([0, 0.2])
            self.usb_controllers()
            if self.chance(0.5):
                self.usb_controllers()
            self.random_devices(r.randint(0, 5))
            self.memballoon()
        elif p == "video":
            self.addr_rate = r.choice([0, 0, 0.2])
            self.video(r.choice([1, 2, 2, 3]))
            if self.chance(0.5):
                self.graphics()
            self.random_devices(r.randint(0, 5))
            self.memballoon()
        machine = None
        if p == "edge":
            machine = self.edge()
        machine = machine or r.choice(Q35_MACHINES if self.q35 else PC_MACHINES)
        return self.render(machine)

    def edge(self):
        r = self.r
        self.addr_rate = r.choice([0, 0.1, 0.3])
        n = r.randint(1, 4)
        for _ in range(n):
            e = r.choice(["farbus", "nofunc0", "emptyaddr", "modelnames", "pxbnode", "ivshmem",
                          "passthrough", "scsiidx", "vserialidx", "ide", "sataidx", "pciroot",
                          "hotplugoff", "audio", "ramfb", "bridgeslot0", "mfoff", "nomf"])
            getattr(self, "edge_" + e)()
        if self.chance(0.85) and any("type='pci' model=" in x for _, x in self.devs):
            self.edge_pciroot()
        self.random_devices(r.randint(0, 10))
        self.singletons()
        if self.chance(0.3):
            return r.choice(["pc-q35-2.4", "pc-q35-2.10", "pc-q35-2.11", "pc-q35-4.0.1"] if self.q35
                            else ["pc-i440fx-1.5", "pc-i440fx-2.0", "pc-i440fx-2.12"])
        return None

    def edge_farbus(self):
        # a device on a bus that no controller provides yet
        bus = self.r.randint(1, 12)
        fn = self.r.choice([self.virtio_disk, self.interface, self.rng])
        if fn == self.rng:
            self.add("rng", "<rng model='virtio'><backend model='random'>/dev/urandom</backend>%s</rng>"
                     % self.pci_addr(bus, self.r.choice([0, 0, 1, 5])))
        else:
            fn(self.pci_addr(bus, self.r.choice([0, 0, 1, 5])))

    def edge_nofunc0(self):
        slot = self.r.randint(3, 30)
        for f in self.r.sample(range(1, 8), self.r.randint(1, 3)):
            self.virtio_disk(self.pci_addr(0, slot, f))

    def edge_emptyaddr(self):
        for _ in range(self.r.randint(1, 3)):
            self.r.choice([self.virtio_disk, self.interface])("<address type='pci'/>")

    def edge_modelnames(self):
        if self.q35:
            name = self.r.choice(["ioh3420", "pcie-root-port"])
            self.add("controller", "<controller type='pci' model='pcie-root-port'><model name='%s'/></controller>" % name)
            if self.chance(0.5):
                self.add("controller", "<controller type='pci' model='pcie-switch-upstream-port'><model name='x3130-upstream'/></controller>")
                self.add("controller", "<controller type='pci' model='pcie-switch-downstream-port'><model name='xio3130-downstream'/></controller>")
        else:
            self.add("controller", "<controller type='pci' model='pci-bridge'><model name='pci-bridge'/></controller>")

    def edge_pxbnode(self):
        m = "pcie-expander-bus" if self.q35 else "pci-expander-bus"
        self.numa = True
        self.add("controller", "<controller type='pci' model='%s'><target busNr='%d'><node>%d</node></target></controller>"
                 % (m, self.r.choice([254, 100, 200]), self.r.randint(0, 1)))
        if self.chance(0.6):
            self.add("controller", "<controller type='pci' model='%s'/>"
                     % ("pcie-root-port" if self.q35 else "pci-bridge"))

    def edge_ivshmem(self):
        self.add("shmem", "<shmem name='shm%d'><model type='ivshmem-plain'/><size unit='M'>4</size>%s</shmem>"
                 % (self.r.randint(0, 9), self.maybe_addr()))

    def edge_passthrough(self):
        self.add("input", "<input type='passthrough' bus='virtio'><source evdev='/dev/input/event%d'/>%s</input>"
                 % (self.r.randint(0, 9), self.maybe_addr()))

    def edge_scsiidx(self):
        c = self.r.randint(0, 3)
        name = disk_name("sd", self.nsd)
        self.nsd += 1
        self.add("disk", "<disk type='file' device='disk'><source file='/var/lib/libvirt/images/%s.img'/>"
                 "<target dev='%s' bus='scsi'/><address type='drive' controller='%d' bus='0' target='0' unit='0'/></disk>"
                 % (name, name, c))

    def edge_vserialidx(self):
        c = self.r.randint(0, 3)
        self.add("channel", "<channel type='unix'><target type='virtio' name='org.example.%d'/>"
                 "<address type='virtio-serial' controller='%d' bus='0' port='%d'/></channel>" % (c, c, self.r.randint(1, 5)))

    def edge_ide(self):
        name = disk_name("hd", self.nhd)
        self.nhd += 1
        if self.nhd > 4:
            return
        self.add("disk", "<disk type='file' device='cdrom'><source file='/var/lib/libvirt/images/%s.iso'/>"
                 "<target dev='%s' bus='ide'/></disk>" % (name, name))

    def edge_sataidx(self):
        self.add("controller", "<controller type='sata' index='%d'>%s</controller>"
                 % (self.r.randint(0, 2), self.maybe_addr()))

    def edge_pciroot(self):
        self.add("controller", "<controller type='pci' index='0' model='%s'/>"
                 % ("pcie-root" if self.q35 else "pci-root"))

    def edge_hotplugoff(self):
        if self.q35:
            for _ in range(self.r.randint(1, 3)):
                self.add("controller", "<controller type='pci' model='pcie-root-port'><target hotplug='off'/></controller>")
        else:
            self.interface()

    def edge_audio(self):
        self.add("sound", "<sound model='%s'><codec type='micro'/>%s</sound>"
                 % (self.r.choice(["ich6", "ich9"]), self.maybe_addr()))

    def edge_ramfb(self):
        self.add("video", "<video><model type='%s'/></video>" % self.r.choice(["ramfb", "none", "bochs"]))

    def edge_bridgeslot0(self):
        # an explicit bridge, and a device at slot 0 / slot 31 of it
        if self.q35:
            self.add("controller", "<controller type='pci' index='%d' model='pcie-to-pci-bridge'/>" % 9)
            self.virtio_disk(self.pci_addr(9, self.r.choice([0, 1, 31])))
        else:
            self.add("controller", "<controller type='pci' index='%d' model='pci-bridge'/>" % 3)
            self.virtio_disk(self.pci_addr(3, self.r.choice([0, 1, 31])))

    def edge_mfoff(self):
        slot = self.r.randint(3, 30)
        self.interface(self.pci_addr(0, slot, 0, "off"))
        self.interface(self.pci_addr(0, slot, 1))

    def edge_nomf(self):
        # several functions, multifunction on function 1 instead of 0
        slot = self.r.randint(3, 30)
        self.interface(self.pci_addr(0, slot, 0))
        self.interface(self.pci_addr(0, slot, 1, "on"))

    def multifunction(self):
        slot = self.r.randint(3, 30)
        nfun = self.r.randint(2, 5)
        mf = self.r.choice(["on", "on", None])
        for f in range(nfun):
            fn = self.r.choice([self.virtio_disk, self.interface])
            fn(self.pci_addr(0, slot, f, mf if f == 0 else None))

    def render(self, machine):
        order = ["emulator", "disk", "controller", "filesystem", "interface", "serial", "channel",
                 "input", "graphics", "sound", "video", "watchdog", "memballoon", "rng", "shmem", "vsock"]
        devs = sorted(self.devs, key=lambda d: order.index(d[0]))
        if not self.keep_disk_order:
            devs = libvirt_disk_order(devs)
        body = "\n    ".join(x for _, x in devs)
        cpu = ""
        if getattr(self, "numa", False):
            cpu = ("  <cpu><numa><cell id='0' cpus='0' memory='524288' unit='KiB'/>"
                   "<cell id='1' cpus='1' memory='524288' unit='KiB'/></numa></cpu>\n")
        return ("<domain type='kvm'>\n  <name>%s-%d</name>\n  <memory unit='KiB'>1048576</memory>\n"
                "  <vcpu>2</vcpu>\n  <os>\n    <type arch='x86_64' machine='%s'>hvm</type>\n  </os>\n%s"
                "  <devices>\n    <emulator>/usr/bin/qemu-system-x86_64</emulator>\n    %s\n"
                "  </devices>\n</domain>\n" % (self.profile, self.seed, machine, cpu, body))


def disk_index(dev):
    """virDiskNameToIndex for the names this generator makes."""
    n = 0
    for c in dev[2:]:
        n = n * 26 + (ord(c) - ord("a") + 1)
    return n - 1


def libvirt_disk_order(devs):
    """Disks in the order virDomainDiskInsert keeps them: grouped by bus (in the
    order the buses first appear), each group sorted by virDiskNameToIndex."""
    disks = [d for d in devs if d[0] == "disk"]
    buses = []
    for _, x in disks:
        b = re.search(r"bus='([a-z]+)'", x).group(1)
        if b not in buses:
            buses.append(b)

    def key(d):
        x = d[1]
        b = re.search(r"bus='([a-z]+)'", x).group(1)
        dev = re.search(r"dev='([a-z]+)'", x).group(1)
        return (buses.index(b), disk_index(dev))

    disks.sort(key=key)
    it = iter(disks)
    return [next(it) if d[0] == "disk" else d for d in devs]


def generate(profile, seed):
    return Gen(profile, seed).build()


def main(argv):
    if len(argv) == 2 and argv[1] == "--list":
        print("\n".join(PROFILES))
        return 0
    if len(argv) != 3 or argv[1] not in PROFILES:
        sys.stderr.write(__doc__)
        return 2
    sys.stdout.write(generate(argv[1], int(argv[2])))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
