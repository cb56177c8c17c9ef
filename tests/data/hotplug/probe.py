#!/usr/bin/python3
"""Hand-written live attach/detach probes against libvirt 9.0 (pciplan issue 10).
Each probe: define + start a domain, apply ops in order (each on the current
state; errors do not stop the probe), record per op the outcome."""
import json, os, re, sys, time
import libvirt
sys.path.insert(0, "/work/shared/oracle/hotplug")
import build_hotplug as B

OUT = sys.argv[1]
PROBES = json.load(open(sys.argv[2]))
libvirt.registerErrorHandler(lambda c, e: None, None)
conn = libvirt.open("qemu:///system")
os.makedirs(OUT, exist_ok=True)
with B.QmpLog(True) as qmp:
  for p in PROBES:
    name = p["name"]
    d = os.path.join(OUT, name)
    os.makedirs(d, exist_ok=True)
    B.cleanup(conn, "probe-" + name)
    xml = p["domain"].replace("@NAME@", "probe-" + name)
    B.write(os.path.join(d, "domain.xml"), xml)
    try:
        dom = conn.defineXML(xml)
    except libvirt.libvirtError as e:
        B.write(os.path.join(d, "define.err.txt"), B.err_text(e)); print(name, "define failed", e); continue
    try:
        dom.create()
        live = dom.XMLDesc(0)
        B.write(os.path.join(d, "live-0.xml"), live)
        rows = []
        for k, (op, dev) in enumerate(p["ops"], 1):
            B.write(os.path.join(d, "step-%d.%s.xml" % (k, op)), dev)
            mark = qmp.mark()
            try:
                if op == "attach":
                    dom.attachDeviceFlags(dev, libvirt.VIR_DOMAIN_AFFECT_LIVE)
                elif op == "detach-alias":
                    dom.detachDeviceAlias(dev, libvirt.VIR_DOMAIN_AFFECT_LIVE)
                else:
                    dom.detachDeviceFlags(dev, libvirt.VIR_DOMAIN_AFFECT_LIVE)
                new = dom.XMLDesc(0)
                B.write(os.path.join(d, "step-%d.live.xml" % k), new)
                added = sorted(B.pci_addrs(new) - B.pci_addrs(live))
                da = B.fmt_device_add(qmp.device_adds(mark))
                print(name, k, op, "ok", ",".join(B.fmt_addr(a) for a in added), da)
                rows.append([k, op, "ok", ",".join(B.fmt_addr(a) for a in added) or "-", da, "-"])
                live = new
            except libvirt.libvirtError as e:
                B.write(os.path.join(d, "step-%d.err.txt" % k), B.err_text(e))
                da = B.fmt_device_add(qmp.device_adds(mark))
                print(name, k, op, "ERR", B.one_line(e.get_error_message()), e.get_error_code(), da)
                rows.append([k, op, "error", "-", da, B.one_line(e.get_error_message())])
        with open(os.path.join(d, "steps.tsv"), "w") as f:
            f.write("step\top\toutcome\tassigned_addr\tdevice_add\terror\n")
            for r in rows:
                f.write("\t".join(str(x) for x in r) + "\n")
    finally:
        B.cleanup(conn, "probe-" + name)
