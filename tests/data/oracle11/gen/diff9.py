#!/usr/bin/python3
"""Compare libvirt 11.3's stored answers (../cases) with libvirt 9.0's (run11.py ask9 OUTDIR).

    diff9.py V9DIR [--json OUT.json]

Prints per case the kinds of difference found; the summary in ../DIFFS.md was written
from its output. PCI content is compared with /work/shared/oracle/pci_summary.py
(one line per device); the rest with a flattened attribute view per device.
"""
import collections
import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))
CASES = os.path.join(os.path.dirname(HERE), "cases")
PCI_SUMMARY = "/work/shared/oracle/pci_summary.py"


def answer(d):
    x = os.path.join(d, "expected.xml")
    if os.path.exists(x):
        return "ok", x
    return "error", open(os.path.join(d, "expected-error.txt")).read().strip()


def summary(path):
    out = subprocess.run(["/usr/bin/python3", PCI_SUMMARY, path], capture_output=True,
                         text=True, check=True).stdout
    # generated MACs are random per define: compare them as '*'
    return [re.sub(r"mac=\S+", "mac=*", l) for l in out.splitlines()]


def flat(e, prefix=""):
    """set of 'path@attr=value' for e and its descendants, minus <address>"""
    out = set()
    p = prefix + e.tag
    for k, v in e.attrib.items():
        if e.tag == "mac" and k == "address":
            v = "*"
        out.add("%s@%s=%s" % (p, k, v))
    if e.text and e.text.strip():
        out.add("%s=%s" % (p, e.text.strip()))
    if not e.attrib and not (e.text and e.text.strip()) and len(e) == 0:
        out.add(p)
    for c in e:
        if c.tag == "address":
            continue
        out |= flat(c, p + "/")
    return out


def dev_keys(devs):
    """identity per device: controllers by (type, index, k-th of that type+index),
    everything else by (tag, k-th of that tag)"""
    seen = collections.Counter()
    out = []
    for e in devs:
        if e.tag == "controller":
            k = "controller[%s:%s]" % (e.get("type"), e.get("index"))
        else:
            k = e.tag
        seen[k] += 1
        out.append(("%s#%d" % (k, seen[k] - 1), e))
    return out


def devices(path):
    root = ET.parse(path).getroot()
    groups = collections.OrderedDict(dev_keys(list(root.find("devices"))))
    top = set()
    for e in root:
        if e.tag in ("devices", "uuid", "name"):
            continue
        top |= flat(e)
    return root, groups, top


def pci_addr(e):
    for c in e:
        if c.tag == "address" and c.get("type") == "pci":
            return tuple(int(c.get(k, "0"), 0) for k in ("domain", "bus", "slot", "function")) + (
                c.get("multifunction"),)
    return None


def machine(root):
    t = root.find("os/type")
    return t.get("machine")


def compare(case):
    d11 = os.path.join(CASES, case)
    inp = os.path.join(d11, "input.xml")
    k11, a11 = answer(d11)
    k9, a9 = answer(os.path.join(V9, case))
    res = {"case": case, "v9": k9, "v11": k11, "kinds": []}
    itext = open(inp).read()
    res["q35"] = "q35" in re.search(r"machine='([^']*)'", itext).group(1)
    res["in_machine"] = re.search(r"machine='([^']*)'", itext).group(1)
    if k9 == "error" and k11 == "error":
        res["kinds"].append("both-refused" + ("" if a9 == a11 else "-msg-differs"))
        res["msg9"], res["msg11"] = a9, a11
        return res
    if k9 != k11:
        res["kinds"].append("v9-%s-v11-%s" % (k9, k11))
        res["msg9" if k9 == "error" else "msg11"] = a9 if k9 == "error" else a11
        return res
    s9, s11 = summary(a9), summary(a11)
    r9, g9, t9 = devices(a9)
    r11, g11, t11 = devices(a11)
    res["machine9"], res["machine11"] = machine(r9), machine(r11)
    # pci summary diff, with the machine line and the new itco watchdog split out
    res["pci_diff"] = [l for l in s9[1:] if l not in s11[1:]], [l for l in s11[1:] if l not in s9[1:]]
    if s9[1:] != s11[1:]:
        c9 = [l for l in s9 if l.startswith("controller type=pci")]
        c11 = [l for l in s11 if l.startswith("controller type=pci")]
        if c9 != c11:
            res["kinds"].append("pci-controllers-differ")
        nc9 = [l for l in s9[1:] if not l.startswith("controller type=pci")]
        nc11 = [l for l in s11[1:] if not l.startswith("controller type=pci")]
        if nc9 != nc11:
            res["kinds"].append("other-device-lines-differ")
    res["top_only9"] = sorted(t9 - t11)
    res["top_only11"] = sorted(t11 - t9)
    devdiff = []
    addrdiff = []
    for key in list(g9) + [k for k in g11 if k not in g9]:
        e9, e11 = g9.get(key), g11.get(key)
        if e9 is None or e11 is None:
            devdiff.append("%s%s" % ("+" if e9 is None else "-", key))
            continue
        f9, f11 = flat(e9), flat(e11)
        for x in sorted(f9 - f11):
            devdiff.append("-%s %s" % (key, x))
        for x in sorted(f11 - f9):
            devdiff.append("+%s %s" % (key, x))
        if pci_addr(e9) != pci_addr(e11):
            addrdiff.append("%s %s -> %s" % (key, pci_addr(e9), pci_addr(e11)))
    res["addrdiff"] = addrdiff
    order9 = [k for k in g9 if k in g11]
    order11 = [k for k in g11 if k in g9]
    res["order_differs"] = order9 != order11
    if addrdiff:
        res["kinds"].append("pci-addresses-differ")
    elif res["order_differs"]:
        res["kinds"].append("device-order-only")
    res["devdiff"] = devdiff
    return res


if __name__ == "__main__":
    V9 = sys.argv[1]
    cases = sorted(c for c in os.listdir(CASES) if os.path.isdir(os.path.join(V9, c)))
    allres = [compare(c) for c in cases]
    if "--json" in sys.argv:
        json.dump(allres, open(sys.argv[sys.argv.index("--json") + 1], "w"), indent=1)
    for r in allres:
        print(r["case"], r["v9"], r["v11"], " ".join(r["kinds"]))
