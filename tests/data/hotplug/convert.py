#!/usr/bin/env python3
"""Pack live hot-plug runs into tests/data/hotplug/corpus.txt (pciplan issue 10).

    convert.py OUT.txt RUN_DIR...

A RUN_DIR is either an output folder of the oracle's build_hotplug.py (cases
NNNN/ with steps.tsv) or of the hand-written probes (probe.py: one folder per
probe with steps.tsv).  Per case the corpus keeps the live XML right after
start (live-0.xml, the input of step 1) and per step the device XML given to
libvirt, libvirt's outcome (the address it chose, its exact error message,
the QMP device_add it sent) and, for SCSI controllers and virtio-serial
ports, the index / port libvirt gave.  Format: see README.md.
"""
import os
import re
import sys

ADDR_RE = re.compile(r"<address type='pci' domain='(0x[0-9a-f]+)' bus='(0x[0-9a-f]+)' "
                     r"slot='(0x[0-9a-f]+)' function='(0x[0-9a-f]+)'")
SCSI_RE = re.compile(r"<controller type='scsi' index='(\d+)'")
ALIAS_RE = re.compile(r"<alias name='([^']+)'/>")
VSER_RE = re.compile(r"<address type='virtio-serial' controller='(\d+)' bus='(\d+)' port='(\d+)'/>")


def read(p):
    with open(p) as f:
        return f.read()


def pci(x):
    return {tuple(int(v, 16) for v in m.groups()) for m in ADDR_RE.finditer(x)}


def steps(d):
    rows = read(os.path.join(d, "steps.tsv")).splitlines()
    cols = rows[0].split("\t")
    return [dict(zip(cols, r.split("\t"))) for r in rows[1:]]


def case(out, cid, d):
    live = read(os.path.join(d, "live-0.xml"))
    m = re.search(r"machine='([^']+)'", live)
    fam = "q35" if "q35" in m.group(1) else "pc"
    out.append("@@ case %s %s %s\n" % (cid, fam, m.group(1)))
    out.append("@@ live\n" + live)
    prev = live
    for r in steps(d):
        k = r["step"]
        if "argument key 'filename' must not have null value" in r["error"]:
            # A cdrom without a source: QEMU's block layer refuses it, no
            # PCI question (hand-written probe); left out.
            continue
        op = r.get("op", "attach")
        dev_file = [f for f in os.listdir(d) if re.fullmatch(r"step-%s\.(device|attach|detach|detach-alias)\.xml" % k, f)][0]
        dev = read(os.path.join(d, dev_file))
        extra = ""
        if r["outcome"] == "ok" and op == "attach":
            new = read(os.path.join(d, "step-%s.live.xml" % k))
            s = sorted(set(SCSI_RE.findall(new)) - set(SCSI_RE.findall(prev)), key=int)
            if s:
                extra += " index=" + s[0]
            v = sorted(set(VSER_RE.findall(new)) - set(VSER_RE.findall(prev)))
            if v:
                extra += " port=" + ":".join(v[0])
            a = sorted(set(ALIAS_RE.findall(new)) - set(ALIAS_RE.findall(prev)))
            if a:
                extra += " alias=" + a[0]
            prev = new
        out.append("@@ step %s %s %s %s %s%s\n" % (k, op, r["outcome"], r["assigned_addr"] or "-",
                                                  r["device_add"] or "-", extra))
        if r["outcome"] == "error":
            out.append("@@ error %s\n" % r["error"])
        out.append(dev if dev.endswith("\n") else dev + "\n")
    out.append("@@ end\n")


def main():
    dst, runs = sys.argv[1], sys.argv[2:]
    out = ["# pciplan live hot-plug corpus (libvirt 9.0 + QEMU 7.2, TCG guests); see README.md\n"]
    for run in runs:
        tag = os.path.basename(run.rstrip("/"))
        for name in sorted(os.listdir(run)):
            d = os.path.join(run, name)
            if not os.path.isfile(os.path.join(d, "steps.tsv")) or not os.path.exists(os.path.join(d, "live-0.xml")):
                continue
            case(out, "%s-%s" % (tag, name), d)
    with open(dst, "w") as f:
        f.write("".join(out))


if __name__ == "__main__":
    main()
