#!/usr/bin/env python3
"""Random domain XMLs for the placement-policy corpus (`../cases`).

Deterministic: the same (policy, seed) always gives the same XML. Each policy
of `../policies/<policy>.toml` gets inputs that exercise its keys:

  spares-q35   q35 (and aarch64 virt every fourth seed), 0..12 devices, some
               explicit root ports
  spares-pc    pc, 0..12 devices, some explicit pci-bridges
  expand       q35, pc and aarch64 virt; mostly small, and about one seed in seven
               past libvirt's own limit (240..300 PCIe endpoints on q35 and
               aarch64 virt; libvirt 9.0 stops at about 232), and pc inputs at
               and around libvirt's failure holes (59, 89-90, 119-121 disks)
  group-numa   q35 and pc with two or three <numa> cells (the third one
               sometimes without CPUs), interfaces with fixed MACs, vda/vdb
  hotplug-off  q35 (and aarch64 virt), disks and a memballoon
  strict       q35 with explicit switches, some with a switch-port cycle
               (an upstream port plugged into a downstream port behind it)
  host-mf      q35 and pc with PCI hostdevs, several functions of one host
               slot among them
  combined     q35 and pc, everything above at once

    gen_policy.py POLICY SEED        print one domain XML
    gen_policy.py --list             print the policies
"""
import random
import sys

POLICIES = ("spares-q35", "spares-pc", "expand", "group-numa", "hotplug-off", "strict",
            "host-mf", "combined")

X86 = ("x86_64", "/usr/bin/qemu-system-x86_64")
AARCH64 = ("aarch64", "/usr/bin/qemu-system-aarch64")

# libvirt keeps devices in this order of element names (it sorts on parse)
ORDER = ["disk", "controller", "interface", "serial", "input", "sound", "video", "hostdev",
         "watchdog", "memballoon", "rng"]


def disk_name(n):
    """vda, vdb, ..., vdz, vdaa, ... (libvirt's disk names)."""
    s = ""
    n += 1
    while n > 0:
        n, r = divmod(n - 1, 26)
        s = chr(ord("a") + r) + s
    return "vd" + s


class Gen:
    def __init__(self, policy, seed):
        self.policy = policy
        self.seed = seed
        self.r = random.Random("policy-%s-%d" % (policy, seed))
        self.machine = "q35"
        self.arch = X86
        self.devs = []
        self.ndisk = 0
        self.nnic = 0
        self.host_slots = set()
        self.cells = None  # list of (cpus or None, KiB)
        self.vcpus = 2

    def chance(self, p):
        return self.r.random() < p

    def add(self, tag, xml):
        self.devs.append((tag, xml))

    @property
    def pcie(self):
        return self.machine != "pc"

    # -- devices ---------------------------------------------------------
    def disk(self, model=None):
        name = disk_name(self.ndisk)
        self.ndisk += 1
        if model is None:
            model = self.r.choice(["", "", "", " model='virtio-transitional'",
                                   " model='virtio-non-transitional'"])
        self.add("disk", "<disk type='file' device='disk'%s><source file='/var/lib/libvirt/images/%s.img'/>"
                 "<target dev='%s' bus='virtio'/></disk>" % (model, name, name))

    def interface(self, model=None):
        n = self.nnic
        self.nnic += 1
        if model is None:
            model = self.r.choice(["virtio", "virtio", "virtio", "e1000e", "virtio-non-transitional",
                                   "virtio-transitional", "rtl8139"] if self.arch == X86
                                  else ["virtio", "virtio", "virtio-non-transitional"])
        self.add("interface", "<interface type='user'><mac address='52:54:00:00:%02x:%02x'/>"
                 "<model type='%s'/></interface>" % (n >> 8 & 0xff, n & 0xff, model))

    def hostdev(self, bus=None, slot=None, function=0):
        if bus is None:
            while True:
                bus, slot = self.r.randint(1, 8), self.r.randint(0, 31)
                if (bus, slot) not in self.host_slots:
                    break
        self.host_slots.add((bus, slot))
        self.add("hostdev", "<hostdev mode='subsystem' type='pci' managed='yes'><source>"
                 "<address domain='0x0000' bus='0x%02x' slot='0x%02x' function='0x%x'/>"
                 "</source></hostdev>" % (bus, slot, function))

    def host_multifunction(self):
        """2..4 functions of one host slot, in a random order."""
        while True:
            bus, slot = self.r.randint(1, 8), self.r.randint(0, 31)
            if (bus, slot) not in self.host_slots:
                break
        fns = self.r.sample(range(8), self.r.randint(2, 4))
        if self.chance(0.7) and 0 not in fns:
            fns[0] = 0
        for f in fns:
            self.hostdev(bus, slot, f)

    def other(self):
        x86 = self.arch == X86
        choices = ["scsi", "rng", "serial", "input"]
        if x86:
            choices += ["sound", "watchdog", "usb"]
        k = self.r.choice(choices)
        if k == "scsi":
            self.add("controller", "<controller type='scsi' model='%s'/>"
                     % self.r.choice(["virtio-scsi", "virtio-scsi", "virtio-non-transitional"]
                                     + (["lsilogic"] if x86 else [])))
        elif k == "rng":
            self.add("rng", "<rng model='virtio'><backend model='random'>/dev/urandom</backend></rng>")
        elif k == "serial":
            if x86 and self.chance(0.5):
                self.add("serial", "<serial type='pty'><target type='pci-serial'/></serial>")
            else:
                self.add("controller", "<controller type='virtio-serial'/>")
        elif k == "input":
            self.add("input", "<input type='%s' bus='virtio'/>" % self.r.choice(["tablet", "keyboard"]))
        elif k == "sound":
            self.add("sound", "<sound model='%s'/>" % self.r.choice(["ich6", "ich9", "ac97"]))
        elif k == "watchdog":
            if not any(t == "watchdog" for t, _ in self.devs):
                self.add("watchdog", "<watchdog model='i6300esb' action='reset'/>")
        elif k == "usb":
            if not any("type='usb'" in x for _, x in self.devs):
                self.add("controller", "<controller type='usb' index='0' model='%s'/>"
                         % self.r.choice(["qemu-xhci", "nec-xhci", "piix3-uhci", "ehci"]))

    def random_devices(self, n, hostdevs=0.05):
        for _ in range(n):
            x = self.r.random()
            if x < 0.35:
                self.disk()
            elif x < 0.7:
                self.interface()
            elif x < 0.7 + hostdevs:
                self.hostdev()
            else:
                self.other()

    def singletons(self):
        if self.arch == X86 and self.chance(0.5):
            self.add("video", "<video><model type='%s'/></video>"
                     % self.r.choice(["vga", "qxl", "virtio", "cirrus", "bochs"]))
        m = self.r.choice(["virtio", "virtio", "none", "absent"])
        if m != "absent":
            self.add("memballoon", "<memballoon model='%s'/>" % m)

    def root(self):
        """The root controller, given before controllers without index
        (which would otherwise take index 0)."""
        if not any("index='0'" in x for _, x in self.devs):
            self.add("controller", "<controller type='pci' index='0' model='%s'/>"
                     % ("pci-root" if self.machine == "pc" else "pcie-root"))

    def root_ports(self, n):
        self.root()
        for _ in range(n):
            t = "<target hotplug='off'/>" if self.chance(0.15) else ""
            self.add("controller", "<controller type='pci' model='pcie-root-port'>%s</controller>" % t)

    def pci_bridges(self, n):
        self.root()
        for _ in range(n):
            self.add("controller", "<controller type='pci' model='pci-bridge'/>")

    def numa(self):
        n = self.r.choice([2, 2, 3])
        cpuless = n == 3 and self.chance(0.6)
        self.vcpus = n - (1 if cpuless else 0)
        self.cells = [(str(i), 524288) for i in range(self.vcpus)]
        if cpuless:
            self.cells.append((None, 262144))

    # -- policies --------------------------------------------------------
    def pick_machine(self, choices):
        m = self.r.choice(choices)
        if m == "virt":
            self.machine, self.arch = "virt", AARCH64
        else:
            self.machine = m

    def build(self):
        p, r = self.policy, self.r
        if p == "spares-q35":
            self.pick_machine(["q35", "q35", "q35", "virt"])
            if self.chance(0.3):
                self.root_ports(r.randint(1, 3))
            self.random_devices(r.randint(0, 12))
            self.singletons()
        elif p == "spares-pc":
            self.machine = "pc"
            if self.chance(0.3):
                self.pci_bridges(r.randint(1, 2))
            self.random_devices(r.choice([0, 2, 5, 8, 12, 28, 33]))
            self.singletons()
        elif p == "expand":
            self.pick_machine(["q35", "q35", "pc", "virt"])
            if self.chance(0.15) and self.machine != "pc":
                # PCIe endpoints only (no transitional model, which would go
                # behind a pcie-to-pci-bridge)
                n = r.randint(240, 300)
                for _ in range(n):
                    if self.chance(0.5):
                        self.disk("")
                    else:
                        self.interface("virtio")
                self.add("memballoon", "<memballoon model='none'/>")
            elif self.machine == "pc" and self.chance(0.4):
                # libvirt 9.0's failure holes on pc (its two passes disagree by
                # one pci-bridge), and their neighbours
                n = r.choice([58, 59, 60, 88, 89, 90, 91, 119, 120, 121, 122])
                for _ in range(n):
                    self.disk("")
                self.add("memballoon", "<memballoon model='none'/>")
            else:
                self.random_devices(r.randint(0, 14))
                self.singletons()
        elif p == "group-numa":
            self.pick_machine(["q35", "q35", "pc"])
            self.numa()
            self.disk()
            self.disk()
            for _ in range(r.randint(2, 9)):
                self.interface()
            self.random_devices(r.randint(0, 6))
            self.singletons()
        elif p == "hotplug-off":
            self.pick_machine(["q35", "q35", "q35", "virt"])
            for _ in range(r.randint(0, 5)):
                self.disk()
            self.random_devices(r.randint(0, 8))
            if self.chance(0.7):
                self.add("memballoon", "<memballoon model='virtio'/>")
            elif self.chance(0.5):
                self.add("memballoon", "<memballoon model='none'/>")
        elif p == "strict":
            self.switches()
            self.random_devices(r.randint(0, 8))
            self.singletons()
        elif p == "host-mf":
            self.pick_machine(["q35", "q35", "pc"])
            for _ in range(r.randint(1, 3)):
                self.host_multifunction()
            for _ in range(r.randint(0, 3)):
                self.hostdev()
            self.random_devices(r.randint(0, 6), hostdevs=0.0)
            self.singletons()
        elif p == "combined":
            self.pick_machine(["q35", "q35", "pc"])
            self.numa()
            self.disk()
            self.disk()
            for _ in range(r.randint(2, 5)):
                self.interface()
            if self.chance(0.5):
                self.host_multifunction()
            if self.machine == "q35" and self.chance(0.3):
                self.switches(cycles=0.0)
            self.random_devices(r.randint(0, 8))
            self.singletons()
        else:
            raise ValueError("unknown policy %s" % p)
        return self.render()

    def switches(self, cycles=0.3):
        """Explicit switches with indexes (1 upstream + 1..3 downstream
        ports each, behind an explicit root port); with probability
        `cycles` the last switch's upstream port is plugged into its own
        first downstream port."""
        idx = 1
        add = lambda x: self.add("controller", x)  # noqa: E731
        add("<controller type='pci' index='0' model='pcie-root'/>")
        nsw = self.r.randint(1, 2)
        cycle = self.chance(cycles)
        for s in range(nsw):
            rp = idx
            add("<controller type='pci' index='%d' model='pcie-root-port'/>" % rp)
            up = rp + 1
            ndown = self.r.randint(1, 3)
            if cycle and s == nsw - 1:
                # the upstream port sits on the bus of its own first downstream port
                add("<controller type='pci' index='%d' model='pcie-switch-upstream-port'>"
                    "<address type='pci' domain='0x0000' bus='0x%02x' slot='0x00' function='0x0'/>"
                    "</controller>" % (up, up + 1))
            else:
                add("<controller type='pci' index='%d' model='pcie-switch-upstream-port'>"
                    "<address type='pci' domain='0x0000' bus='0x%02x' slot='0x00' function='0x0'/>"
                    "</controller>" % (up, rp))
            for d in range(ndown):
                add("<controller type='pci' index='%d' model='pcie-switch-downstream-port'>"
                    "<address type='pci' domain='0x0000' bus='0x%02x' slot='0x%02x' function='0x0'/>"
                    "</controller>" % (up + 1 + d, up, d))
            idx = up + 1 + ndown

    def render(self):
        devs = sorted(self.devs, key=lambda d: ORDER.index(d[0]))
        body = "\n    ".join(x for _, x in devs)
        cpu = ""
        if self.cells:
            cells = "".join(
                "<cell id='%d'%s memory='%d' unit='KiB'/>"
                % (i, " cpus='%s'" % c if c is not None else "", kib)
                for i, (c, kib) in enumerate(self.cells))
            cpu = "  <cpu><numa>%s</numa></cpu>\n" % cells
        memory = sum(k for _, k in self.cells) if self.cells else 1048576
        arch, emulator = self.arch
        return ("<domain type='qemu'>\n  <name>%s-%d</name>\n  <memory unit='KiB'>%d</memory>\n"
                "  <vcpu>%d</vcpu>\n  <os>\n    <type arch='%s' machine='%s'>hvm</type>\n  </os>\n%s"
                "  <devices>\n    <emulator>%s</emulator>\n    %s\n  </devices>\n</domain>\n"
                % (self.policy, self.seed, memory, self.vcpus, arch, self.machine, cpu, emulator, body))


def generate(policy, seed):
    return Gen(policy, seed).build()


def main(argv):
    if len(argv) == 2 and argv[1] == "--list":
        print("\n".join(POLICIES))
        return 0
    if len(argv) != 3 or argv[1] not in POLICIES:
        sys.stderr.write(__doc__)
        return 2
    sys.stdout.write(generate(argv[1], int(argv[2])))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
