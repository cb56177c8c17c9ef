#!/usr/bin/env python3
"""Random but valid(ish) non-x86 domain XMLs for differential testing against libvirt.

Deterministic: the same (profile, seed) always gives the same XML.

    gen_arch.py PROFILE SEED       print one domain XML
    gen_arch.py --list             print the profiles

Profiles (the name of a case is `<profile>-<seed>`), all with domain type 'qemu':
  aarch64   aarch64 `virt`: pcie-root, root ports / bridges / pcie-expander-bus,
            virtio (PCI or virtio-mmio), ramfb, explicit addresses, hostdevs,
            sometimes many virtio NICs (many root ports)
  armv7l    the same on qemu-system-arm
  riscv64   riscv64 `virt` (pcie-expander-bus is rejected there, default memballoon)
  pseries   ppc64 `pseries`: extra pci-root PHBs with/without <target index>
            (gaps), spapr-vlan / ibmvscsi / spapr-vio-serial / nvram (spapr-vio),
            hostdevs, sometimes 31+ PCI devices (new PHBs)
  s390x     s390-ccw-virtio: CCW for virtio devices (explicit devno sometimes),
            empty <address type='pci'/> and zPCI uid/fid (valid, zero, duplicate),
            PCI hostdevs

Run the oracle over the output with run.py (`run.py gen aarch64 0 120`).
"""
import os
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gen import disk_name, libvirt_disk_order  # noqa: E402

PROFILES = ("aarch64", "armv7l", "riscv64", "pseries", "s390x")

ARCH = {
    "aarch64": ("aarch64", "/usr/bin/qemu-system-aarch64", ["virt"] * 8 + ["virt-7.2", "virt-4.0"]),
    "armv7l": ("armv7l", "/usr/bin/qemu-system-arm", ["virt"] * 8 + ["virt-7.2", "virt-5.0"]),
    "riscv64": ("riscv64", "/usr/bin/qemu-system-riscv64", ["virt"]),
    "pseries": ("ppc64", "/usr/bin/qemu-system-ppc64", ["pseries"] * 8 + ["pseries-7.2", "pseries-5.0"]),
    "s390x": ("s390x", "/usr/bin/qemu-system-s390x", ["s390-ccw-virtio"] * 8 + ["s390-ccw-virtio-7.2", "s390-ccw-virtio-4.0"]),
}

ORDER = ["disk", "controller", "filesystem", "interface", "serial", "console", "channel",
         "input", "graphics", "sound", "video", "hostdev", "watchdog", "memballoon", "rng",
         "nvram", "panic", "vsock"]

VIRTIO_MODELS = ["", "", "", "", " model='virtio-transitional'", " model='virtio-non-transitional'"]


class Gen:
    def __init__(self, profile, seed):
        self.profile = profile
        self.seed = seed
        self.r = random.Random("arch-%s-%d" % (profile, seed))
        self.arm = profile in ("aarch64", "armv7l")
        self.riscv = profile == "riscv64"
        self.ppc = profile == "pseries"
        self.s390 = profile == "s390x"
        self.mmioish = self.arm or self.riscv
        self.devs = []
        self.nvd = 0
        self.nsd = 0
        self.addr_rate = 0.0
        self.mmio_rate = 0.0
        self.ccw_rate = 0.0
        self.pciaddr_rate = 0.0   # s390: empty <address type='pci'/>
        self.zpci_rate = 0.0
        self.buses = []           # indexes of explicit controllers taking devices (bus, kind)
        self.devnos = []
        self.uids = []
        self.fids = []
        self.nhostdev = 0
        self.host_slots = set()

    def chance(self, p):
        return self.r.random() < p

    def add(self, tag, xml):
        self.devs.append((tag, xml))

    # -- addresses -------------------------------------------------------
    def pci_addr(self, bus=0, slot=None, function=0, mf=None, zpci=""):
        if slot is None:
            slot = self.r.randint(1, 31)
        s = "<address type='pci' domain='0x0000' bus='0x%02x' slot='0x%02x' function='0x%x'" % (
            bus, slot, function)
        if mf:
            s += " multifunction='%s'" % mf
        if zpci:
            return s + ">%s</address>" % zpci
        return s + "/>"

    def zpci(self):
        if not self.chance(self.zpci_rate):
            return ""
        kind = self.r.choice(["uid", "fid", "both", "both", "both", "both", "uid", "fid"] * 2
                             + ["zero", "dupuid", "dupfid"])
        if kind == "zero":
            return "<zpci uid='0x0000' fid='0x%08x'/>" % self.r.randint(0, 5)
        if kind == "dupuid" and self.uids:
            return "<zpci uid='0x%04x'/>" % self.r.choice(self.uids)
        if kind == "dupfid" and self.fids:
            return "<zpci fid='0x%08x'/>" % self.r.choice(self.fids)
        parts = []
        if kind in ("uid", "both", "dupuid", "dupfid"):
            u = self.r.choice([self.r.randint(1, 8), self.r.randint(1, 0xffff)])
            while u in self.uids:
                u += 1
            self.uids.append(u)
            parts.append("uid='0x%04x'" % u)
        if kind in ("fid", "both"):
            f = self.r.choice([self.r.randint(0, 8), self.r.randint(0, 0xffffffff)])
            while f in self.fids:
                f += 1
            self.fids.append(f)
            parts.append("fid='0x%08x'" % f)
        return "<zpci %s/>" % " ".join(parts)

    def s390_addr(self):
        """ccw / empty pci / pci with zpci / nothing."""
        x = self.r.random()
        if x < self.ccw_rate:
            if self.devnos and self.chance(0.06):
                d = self.r.choice(self.devnos)  # clash
            else:
                d = self.r.choice([self.r.randint(0, 12), self.r.randint(0, 0xffff)])
                while d in self.devnos:
                    d += 1
                self.devnos.append(d)
            ssid = "0x0" if self.chance(0.9) else "0x%x" % self.r.randint(1, 3)
            return "<address type='ccw' cssid='0xfe' ssid='%s' devno='0x%04x'/>" % (ssid, d)
        if x < self.ccw_rate + self.pciaddr_rate:
            z = self.zpci()
            if self.chance(0.25):
                return self.pci_addr(0, self.r.randint(1, 31), zpci=z)
            if z:
                return "<address type='pci'>%s</address>" % z
            return "<address type='pci'/>"
        return ""

    def maybe_addr(self, pcie_ok=True):
        """An address for a virtio-ish PCI device, or ''."""
        if self.s390:
            return self.s390_addr()
        if self.mmioish and self.chance(self.mmio_rate):
            return "<address type='virtio-mmio'/>"
        if not self.chance(self.addr_rate):
            return ""
        if self.buses and self.chance(0.6):
            bus, kind = self.r.choice(self.buses)
            if kind in ("root-port", "pxb"):
                slot = 0 if kind == "root-port" or self.chance(0.5) else self.r.randint(0, 31)
                if self.chance(0.05):
                    slot = self.r.randint(1, 3)  # not a valid root port slot
            else:
                slot = self.r.randint(0 if self.chance(0.03) else 1, 31)
            return self.pci_addr(bus, slot)
        return self.pci_addr(0, self.r.randint(1, 31))

    def plain_addr(self):
        """For non-virtio PCI devices (no virtio-mmio, no ccw)."""
        if self.s390:
            return self.s390_addr() if self.chance(0.7) else ""
        a = self.maybe_addr()
        return "" if "virtio-mmio" in a else a

    # -- devices ---------------------------------------------------------
    def virtio_disk(self, addr=None):
        name = disk_name("vd", self.nvd)
        self.nvd += 1
        model = self.r.choice(VIRTIO_MODELS)
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

    def usb_device(self):
        self.needs_usb = True

    def usb_disk(self):
        if self.s390:
            return self.virtio_disk()
        self.usb_device()
        name = disk_name("sd", self.nsd)
        self.nsd += 1
        self.add("disk", "<disk type='file' device='disk'><driver name='qemu' type='raw'/>"
                 "<source file='/var/lib/libvirt/images/%s.img'/><target dev='%s' bus='usb'/></disk>"
                 % (name, name))

    def interface(self, addr=None, model="random"):
        if model == "random":
            models = ["virtio", "virtio", "virtio", None, "virtio-transitional",
                      "virtio-non-transitional", "e1000", "rtl8139"]
            if self.ppc:
                models += ["spapr-vlan", "spapr-vlan", "spapr-vlan"]
            if self.s390:
                models = ["virtio", "virtio", None, None, "virtio-transitional",
                          "virtio-non-transitional", "e1000"]
            model = self.r.choice(models)
        m = "<model type='%s'/>" % model if model else ""
        if addr is None:
            if model == "spapr-vlan":
                addr = ""
                if self.chance(0.25):
                    addr = "<address type='spapr-vio' reg='0x%x'/>" % self.r.choice(
                        [0x1000, 0x2000, 0x3000, 0x5000, 0x20000000, 0x71000000])
            elif model in ("e1000", "rtl8139"):
                addr = self.plain_addr()
            else:
                addr = self.maybe_addr()
        self.add("interface", "<interface type='user'>%s%s</interface>" % (m, addr))

    def scsi_controller(self):
        models = ["virtio-scsi", "virtio-scsi", "lsilogic", "virtio-transitional",
                  "virtio-non-transitional", None]
        if self.ppc:
            models += ["ibmvscsi", "ibmvscsi", None]
        if self.s390:
            models = ["virtio-scsi", "virtio-scsi", None, "virtio-non-transitional"]
        model = self.r.choice(models)
        m = " model='%s'" % model if model else ""
        idx = ""
        if self.chance(0.3):
            i = self.r.randint(0, 3)
            if i not in getattr(self, "scsi_idx", set()) or self.chance(0.1):
                self.scsi_idx = getattr(self, "scsi_idx", set()) | {i}
                idx = " index='%d'" % i
        if model == "ibmvscsi" or (model is None and self.ppc):
            a = "<address type='spapr-vio' reg='0x%x'/>" % self.r.choice([0x2000, 0x4000, 0x7000]) \
                if self.chance(0.2) else ""
        elif model == "lsilogic":
            a = self.plain_addr()
        else:
            a = self.maybe_addr()
        self.add("controller", "<controller type='scsi'%s%s>%s</controller>" % (idx, m, a))

    def virtio_serial(self):
        idx = " index='%d'" % self.r.randint(0, 2) if self.chance(0.4) else ""
        self.add("controller", "<controller type='virtio-serial'%s>%s</controller>"
                 % (idx, self.maybe_addr()))

    def channel(self):
        self.add("channel", "<channel type='unix'><target type='virtio' name='org.qemu.guest_agent.%d'/></channel>"
                 % self.r.randint(0, 99))

    def console(self):
        self.add("console", "<console type='pty'><target type='virtio'/></console>")

    def usb_controller(self):
        models = [None, "qemu-xhci", "qemu-xhci", "nec-xhci", "none"]
        if self.s390:
            models = [None, None, "qemu-xhci", "none"]
        if self.ppc:
            models += ["pci-ohci"]
        model = self.r.choice(models)
        if getattr(self, "needs_usb", False) and model == "none" and self.chance(0.8):
            model = "qemu-xhci"
        if self.s390 and model is None and getattr(self, "needs_usb", False):
            model = "qemu-xhci"
        m = " model='%s'" % model if model else ""
        a = self.plain_addr() if model != "none" else ""
        self.add("controller", "<controller type='usb' index='0'%s>%s</controller>" % (m, a))
        if model not in ("none",) and self.chance(0.1):
            self.add("controller", "<controller type='usb' index='1' model='qemu-xhci'/>")

    def vinput(self):
        t = self.r.choice(["tablet", "keyboard", "mouse"])
        bus = self.r.choice(["virtio", "virtio", "usb"])
        if self.s390:
            bus = "virtio"
        if bus == "usb":
            self.usb_device()
        a = self.maybe_addr() if bus == "virtio" else ""
        self.add("input", "<input type='%s' bus='%s'>%s</input>" % (t, bus, a))

    def video(self):
        if self.arm or self.riscv:
            models = ["virtio", "virtio", "vga", "ramfb", "none", None, "bochs"]
        elif self.ppc:
            models = ["vga", "virtio", None, "bochs", "none"]
        else:
            models = ["virtio", "virtio", None, "none"]
        n = 1 if self.chance(0.8) else 2
        prev = None
        for i in range(n):
            m = self.r.choice(models)
            if i > 0 and (m != "virtio" or prev == "none") and self.chance(0.9):
                m = "virtio"
                if prev == "none":
                    continue
            prev = m
            a = "" if m in ("none", "ramfb") else (self.maybe_addr() if m in ("virtio", None) else self.plain_addr())
            model = "<model type='%s'/>" % m if m else ""
            self.add("video", "<video>%s%s</video>" % (model, a))

    def graphics(self):
        self.add("graphics", "<graphics type='vnc' port='-1' autoport='yes'/>")

    def memballoon(self, model=None):
        model = model or self.r.choice(["virtio", "virtio", "none", "absent", "absent",
                                        "virtio-transitional", "virtio-non-transitional"])
        if model == "absent":
            return
        a = self.maybe_addr() if model != "none" else ""
        self.add("memballoon", "<memballoon model='%s'>%s</memballoon>" % (model, a))

    def rng(self):
        model = self.r.choice(["virtio", "virtio", "virtio-transitional", "virtio-non-transitional"])
        self.add("rng", "<rng model='%s'><backend model='random'>/dev/urandom</backend>%s</rng>"
                 % (model, self.maybe_addr()))

    def watchdog(self):
        if self.s390:
            self.add("watchdog", "<watchdog model='diag288' action='reset'/>")
        elif self.chance(0.5):
            self.add("watchdog", "<watchdog model='i6300esb' action='reset'>%s</watchdog>" % self.plain_addr())

    def hostdev(self, addr=None):
        while True:
            hb, hs = self.r.randint(1, 8), self.r.randint(0, 31)
            if (hb, hs) not in self.host_slots:
                break
        self.host_slots.add((hb, hs))
        self.nhostdev += 1
        if addr is None:
            addr = self.plain_addr()
            if "ccw" in addr and self.chance(0.9):
                addr = ""
        a = addr
        self.add("hostdev", "<hostdev mode='subsystem' type='pci' managed='yes'><source>"
                 "<address domain='0x0000' bus='0x%02x' slot='0x%02x' function='0x0'/></source>%s</hostdev>"
                 % (hb, hs, a))

    def spapr_serial(self):
        a = "<address type='spapr-vio' reg='0x%x'/>" % self.r.choice([0x30000000, 0x30001000, 0x4000]) \
            if self.chance(0.2) else ""
        self.add("serial", "<serial type='pty'><target type='spapr-vio-serial'/>%s</serial>" % a)

    def nvram(self):
        a = "<address type='spapr-vio' reg='0x%x'/>" % self.r.choice([0x3000, 0x5000, 0x2000]) \
            if self.chance(0.3) else ""
        self.add("nvram", "<nvram>%s</nvram>" % a)

    def filesystem(self):
        n = len([d for d in self.devs if d[0] == "filesystem"])
        self.add("filesystem", "<filesystem type='mount' accessmode='mapped'><source dir='/srv/fs%d'/>"
                 "<target dir='tag%d'/>%s</filesystem>" % (n, n, self.maybe_addr()))

    def vsock(self):
        if any(t == "vsock" for t, _ in self.devs):
            return
        self.add("vsock", "<vsock model='virtio'><cid auto='yes'/>%s</vsock>" % self.maybe_addr())

    # -- PCI controllers -------------------------------------------------
    def pci_controllers(self, n):
        if self.ppc:
            return self.phbs(n)
        if self.s390:
            return self.s390_ctrl(n)
        out = []
        give_index = self.r.choice(["all", "none", "some"])
        next_idx = 1
        if self.chance(0.3 if give_index == "all" else 0.95):
            out.append("<controller type='pci' index='0' model='pcie-root'/>")
        have_p2p = False
        for _ in range(n):
            model = self.r.choice(["pcie-root-port"] * 5 + [
                "pcie-to-pci-bridge", "pcie-to-pci-bridge", "pci-bridge", "pcie-expander-bus",
                "dmi-to-pci-bridge", "switch"])
            if model == "pcie-expander-bus" and self.riscv and self.chance(0.8):
                model = "pcie-root-port"  # mostly avoid the riscv error
            if model == "pci-bridge" and not have_p2p and self.chance(0.85):
                model = "pcie-to-pci-bridge"
            if model in ("pcie-to-pci-bridge", "dmi-to-pci-bridge"):
                have_p2p = True
            chunk = ["pcie-switch-upstream-port"] + ["pcie-switch-downstream-port"] * self.r.randint(1, 3) \
                if model == "switch" else [model]
            if model in ("pcie-to-pci-bridge", "switch") and self.chance(0.85):
                chunk = ["pcie-root-port"] + chunk
            for m in chunk:
                idx = ""
                if give_index == "all" or (give_index == "some" and self.chance(0.5)):
                    if self.chance(0.1):
                        next_idx += self.r.randint(1, 3)
                    idx = " index='%d'" % next_idx
                next_idx += 1
                target = ""
                if m == "pcie-expander-bus" and self.chance(0.7):
                    target = "<target busNr='%d'/>" % self.r.choice([254, 200, 128, 100])
                elif m == "pcie-root-port" and self.chance(0.2):
                    target = "<target hotplug='off'/>"
                addr = ""
                if self.chance(self.addr_rate / 2):
                    addr = self.pci_addr(0, self.r.randint(1, 30))
                out.append("<controller type='pci'%s model='%s'>%s%s</controller>" % (idx, m, target, addr))
                if idx:
                    kind = {"pcie-root-port": "root-port", "pcie-switch-downstream-port": "root-port",
                            "pci-bridge": "bridge", "pcie-to-pci-bridge": "bridge",
                            "pcie-expander-bus": "pxb"}.get(m)
                    if kind:
                        self.buses.append((int(idx.split("'")[1]), kind))
        if self.chance(0.1):
            self.r.shuffle(out)
        for c in out:
            self.add("controller", c)

    def phbs(self, n):
        """Extra pci-root PHBs on pSeries (with/without target index, gaps), and bridges."""
        out = []
        style = self.r.choice(["all", "none", "some", "gaps"])
        if self.chance(0.5 if style in ("all", "gaps") else 0.9):
            out.append("<controller type='pci' index='0' model='pci-root'/>")
        next_idx = 1
        used_t = set()
        for _ in range(n):
            if self.chance(0.12) and (out or style in ("all", "gaps")):
                m = "pci-bridge"
            else:
                m = "pci-root"
            idx = ""
            if style != "none" and (style != "some" or self.chance(0.5)):
                if style == "gaps" or self.chance(0.1):
                    next_idx += self.r.randint(1, 3)
                idx = " index='%d'" % next_idx
            next_idx += 1
            inner = ""
            if m == "pci-root":
                if self.chance(0.5):
                    t = self.r.choice([next_idx - 1, self.r.randint(1, 31), self.r.randint(1, 6)])
                    if t in used_t and self.chance(0.8):
                        t = max(used_t) + 1
                    used_t.add(t)
                    inner = "<model name='spapr-pci-host-bridge'/>" if self.chance(0.3) else ""
                    inner += "<target index='%d'/>" % t
            else:
                if self.chance(self.addr_rate / 2):
                    inner = self.pci_addr(0, self.r.randint(1, 31))
            out.append("<controller type='pci'%s model='%s'>%s</controller>" % (idx, m, inner))
            if idx:
                self.buses.append((int(idx.split("'")[1]), "root" if m == "pci-root" else "bridge"))
        if self.chance(0.3):
            self.r.shuffle(out)
        for c in out:
            self.add("controller", c)

    def s390_ctrl(self, n):
        if self.chance(0.95):
            self.add("controller", "<controller type='pci' index='0' model='pci-root'/>")
        for i in range(min(n, 2)):
            idx = " index='%d'" % (i + 1) if self.chance(0.5) else ""
            self.add("controller", "<controller type='pci'%s model='pci-bridge'>%s</controller>"
                     % (idx, "<address type='pci'/>" if self.chance(0.3) else ""))
            if idx:
                self.buses.append((i + 1, "bridge"))

    # -- build -----------------------------------------------------------
    def random_devices(self, n):
        kinds = [(self.virtio_disk, 10), (self.interface, 8), (self.scsi_disk, 2),
                 (self.scsi_controller, 2), (self.virtio_serial, 1), (self.channel, 2),
                 (self.console, 1), (self.vinput, 2), (self.rng, 2), (self.filesystem, 1),
                 (self.hostdev, 2 if self.s390 else 1), (self.usb_disk, 1)]
        if self.ppc:
            kinds += [(self.spapr_serial, 1), (lambda: self.interface(model="spapr-vlan"), 2)]
        if self.s390:
            kinds += [(self.vsock, 1)]
        fns = [k for k, w in kinds for _ in range(w)]
        for _ in range(n):
            self.r.choice(fns)()

    def singletons(self):
        if self.chance(0.97 if getattr(self, "needs_usb", False) else 0.5):
            self.usb_controller()
        if self.chance(0.45):
            self.video()
        if self.chance(0.3):
            self.graphics()
        if self.chance(0.15):
            self.watchdog()
        if self.ppc and self.chance(0.3):
            self.nvram()
        if self.s390 and self.chance(0.1):
            self.vsock()
        self.memballoon()

    def multifunction(self):
        bus = 0
        if self.buses and self.chance(0.4):
            bus = self.r.choice(self.buses)[0]
        slot = self.r.randint(0 if bus else 1, 31 if not bus else 0)
        mf = self.r.choice(["on", "on", None])
        for f in range(self.r.randint(2, 4)):
            fn = self.r.choice([self.virtio_disk, self.interface])
            fn(self.pci_addr(bus, slot, f, mf if f == 0 else None))

    def build(self):
        r = self.r
        arch, emulator, machines = ARCH[self.profile]
        kind = r.choice(["mixed"] * 5 + ["ctrl"] * 3 + ["addr"] * 2 + ["big"])
        self.kind = kind
        if self.mmioish:
            self.mmio_rate = r.choice([0, 0, 0, 0.1, 0.3])
        if self.s390:
            self.ccw_rate = r.choice([0, 0.1, 0.3])
            self.pciaddr_rate = r.choice([0.05, 0.2, 0.4])
            self.zpci_rate = r.choice([0, 0.3, 0.7])
        if kind == "mixed":
            self.addr_rate = r.choice([0, 0, 0.05, 0.15])
            if self.chance(0.3):
                self.pci_controllers(r.randint(1, 4))
            self.random_devices(r.choice([0, 1, 2, 3, 5, 8, 12, 20, 30]))
            self.singletons()
        elif kind == "ctrl":
            self.addr_rate = r.choice([0, 0.1, 0.2])
            self.pci_controllers(r.randint(1, 8))
            self.random_devices(r.randint(0, 20))
            self.singletons()
        elif kind == "addr":
            self.addr_rate = r.choice([0.3, 0.6, 1.0])
            if self.chance(0.6):
                self.pci_controllers(r.randint(1, 4))
            self.random_devices(r.randint(1, 15))
            if not self.s390 and self.chance(0.4):
                self.multifunction()
            self.singletons()
        else:  # big: fill a bus
            self.mmio_rate = 0
            if self.ppc:
                n = r.choice([r.randint(29, 33), r.randint(55, 70)])
                for _ in range(n):
                    r.choice([self.virtio_disk, self.interface, self.virtio_disk])("")
                if self.chance(0.5):
                    for _ in range(r.randint(1, 3)):
                        self.hostdev("")
                self.memballoon(r.choice(["none", "virtio"]))
            elif self.s390:
                self.pciaddr_rate = 1.0
                self.ccw_rate = 0
                for _ in range(r.randint(28, 40)):
                    r.choice([self.virtio_disk, self.interface])()
                self.memballoon(r.choice(["none", "virtio"]))
            else:
                if self.chance(0.5):
                    self.pci_controllers(r.randint(1, 3))
                for _ in range(r.randint(10, 35)):
                    if self.chance(0.7):
                        self.interface("", model=r.choice(["virtio", "virtio", None, "e1000"]))
                    else:
                        self.virtio_disk("")
                self.memballoon(r.choice(["none", "virtio", "absent"]))
        return self.render(arch, emulator, r.choice(machines))

    def render(self, arch, emulator, machine):
        devs = sorted(self.devs, key=lambda d: ORDER.index(d[0]))
        devs = libvirt_disk_order(devs)
        body = "\n    ".join(x for _, x in devs)
        return ("<domain type='qemu'>\n  <name>%s-%d</name>\n  <memory unit='KiB'>1048576</memory>\n"
                "  <vcpu>2</vcpu>\n  <os>\n    <type arch='%s' machine='%s'>hvm</type>\n  </os>\n"
                "  <devices>\n    <emulator>%s</emulator>\n    %s\n"
                "  </devices>\n</domain>\n" % (self.profile, self.seed, arch, machine, emulator, body))


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
