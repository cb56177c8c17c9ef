#!/usr/bin/env python3
"""Generate cases, ask the live libvirt oracle, compare with pciplan.

    run.py gen PROFILE FIRST COUNT   write cases/<profile>-<seed>/input.xml and
                                     libvirt's answer (expected.xml or
                                     expected-error.txt) for seeds FIRST..FIRST+COUNT-1
    run.py oracle DIR...             (re)ask the oracle for hand-written case dirs
    run.py compare [DIR...]          run target/release/pciplan over the stored cases
                                     and print the differences (all cases by default)

The oracle is /work/shared/oracle/libvirt-assign (libvirt 9.0 + QEMU 7.2,
Debian bookworm); it is only needed for `gen` and `oracle`, never by tests.
"""
import concurrent.futures as cf
import importlib.util
import os
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.dirname(HERE)
CASES = os.path.join(DATA, "cases")
ROOT = os.path.abspath(os.path.join(DATA, "..", "..", ".."))
ORACLE = os.environ.get("ORACLE", "/work/shared/oracle/libvirt-assign")
PCIPLAN = os.path.join(ROOT, "target", "release", "pciplan")
CAPS = os.path.join(DATA, "caps-qemu-7.2.xml")

sys.path.insert(0, HERE)
import gen  # noqa: E402
import gen_arch  # noqa: E402

# caps file per emulator (the x86 one is CAPS)
ARCH_CAPS = {
    "/usr/bin/qemu-system-aarch64": "caps-qemu-7.2-aarch64.xml",
    "/usr/bin/qemu-system-arm": "caps-qemu-7.2-armv7l.xml",
    "/usr/bin/qemu-system-riscv64": "caps-qemu-7.2-riscv64.xml",
    "/usr/bin/qemu-system-ppc64": "caps-qemu-7.2-ppc64.xml",
    "/usr/bin/qemu-system-s390x": "caps-qemu-7.2-s390x.xml",
}


def generator(profile):
    """gen_arch for the non-x86 profiles, gen for the x86 ones."""
    return gen_arch if profile in gen_arch.PROFILES else gen


def caps_for(inp):
    m = re.search(r"<emulator>([^<]*)</emulator>", open(inp).read())
    if m and m.group(1).strip() in ARCH_CAPS:
        return os.path.join(DATA, ARCH_CAPS[m.group(1).strip()])
    return CAPS


def _load_pci_view():
    path = os.path.join(ROOT, "tests", "data", "libvirt-9.0", "tools", "pci_view.py")
    spec = importlib.util.spec_from_file_location("pci_view", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def ask_oracle(case_dir):
    inp = os.path.join(case_dir, "input.xml")
    p = subprocess.run([ORACLE, inp], capture_output=True, text=True)
    for f in ("expected.xml", "expected-error.txt"):
        try:
            os.remove(os.path.join(case_dir, f))
        except FileNotFoundError:
            pass
    if p.returncode == 0:
        with open(os.path.join(case_dir, "expected.xml"), "w") as f:
            f.write(p.stdout)
        return "ok"
    if p.returncode == 1:
        lines = [l for l in p.stderr.splitlines() if not l.startswith("libvirt-error:")]
        msg = "\n".join(lines).strip()
        if msg.startswith("error: "):
            msg = msg[len("error: "):]
        with open(os.path.join(case_dir, "expected-error.txt"), "w") as f:
            f.write(msg + "\n")
        return "error"
    raise RuntimeError("oracle failed for %s: rc=%d %s" % (case_dir, p.returncode, p.stderr))


def gen_one(profile, seed):
    name = "%s-%04d" % (profile, seed)
    d = os.path.join(CASES, name)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "input.xml"), "w") as f:
        f.write(generator(profile).generate(profile, seed))
    return name, ask_oracle(d)


def compare(case_dir, pv):
    inp = os.path.join(case_dir, "input.xml")
    p = subprocess.run([PCIPLAN, "assign", "--caps", caps_for(inp), inp], capture_output=True, text=True)
    err = os.path.join(case_dir, "expected-error.txt")
    if os.path.exists(err):
        want = open(err).read().strip()
        if p.returncode == 0:
            return ["accepted; libvirt: " + want]
        if want not in p.stderr:
            return ["wrong error: libvirt: %s | pciplan: %s" % (want, p.stderr.strip())]
        return []
    if p.returncode != 0:
        return ["pciplan failed: " + p.stderr.strip()]
    with tempfile.NamedTemporaryFile("w", suffix=".xml", delete=False) as t:
        t.write(p.stdout)
        tmp = t.name
    try:
        return pv.diff(pv.view(os.path.join(case_dir, "expected.xml")), pv.view(tmp))
    finally:
        os.remove(tmp)


def main(argv):
    if len(argv) >= 2 and argv[1] == "gen":
        profile, first, count = argv[2], int(argv[3]), int(argv[4])
        with cf.ThreadPoolExecutor(8) as ex:
            for name, kind in ex.map(lambda s: gen_one(profile, s), range(first, first + count)):
                print(name, kind)
        return 0
    if len(argv) >= 2 and argv[1] == "oracle":
        for d in argv[2:]:
            print(d, ask_oracle(d))
        return 0
    if len(argv) >= 2 and argv[1] == "compare":
        pv = _load_pci_view()
        dirs = argv[2:] or sorted(os.path.join(CASES, d) for d in os.listdir(CASES))
        bad = 0
        with cf.ThreadPoolExecutor(8) as ex:
            for d, diffs in zip(dirs, ex.map(lambda d: compare(d, pv), dirs)):
                if diffs:
                    bad += 1
                    print("DIFF %s" % os.path.basename(d))
                    for l in diffs[:6]:
                        print("   ", l)
        print("agree: %d/%d" % (len(dirs) - bad, len(dirs)))
        return 0
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
