#!/usr/bin/env python3
"""Build the placement-policy corpus: pciplan plans under a policy, defined in
a live libvirt, libvirt's answer stored.

    run.py gen POLICY FIRST COUNT   for seeds FIRST..FIRST+COUNT-1: write
                                    cases/<policy>-<seed>/input.xml
                                    (gen_policy.py), plan it with
                                    `pciplan assign --policy policies/<policy>.toml
                                    --caps <caps of the arch> input.xml`, and store
                                      expected.xml        libvirt's dumpxml --inactive
                                                          of pciplan's plan, or
                                      libvirt-error.txt   libvirt's refusal of the plan,
                                                          or
                                      pciplan-error.txt   pciplan's refusal (exit 1;
                                                          libvirt is not asked)
                                    and print one line per case; FINDING lines
                                    name every PCI difference between pciplan's
                                    plan and what libvirt made of it
    run.py compare [DIR...]         replay the stored cases with the CLI (all
                                    by default) and print the differences
    run.py size                     cases per policy and the corpus size

The oracle is /work/shared/oracle/libvirt-assign (libvirt 9.0 + QEMU 7.2,
Debian bookworm); only `gen` needs it, the tests never do
(tests/policy_oracle.rs replays the stored cases).
"""
import concurrent.futures as cf
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.dirname(HERE)
CASES = os.path.join(DATA, "cases")
POLICIES = os.path.join(DATA, "policies")
ROOT = os.path.abspath(os.path.join(DATA, "..", "..", ".."))
ORACLE = os.environ.get("ORACLE", "/work/shared/oracle/libvirt-assign")
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
PCIPLAN = os.environ.get("PCIPLAN", os.path.join(TARGET, "release", "pciplan"))
CAPS_DIR = os.path.join(ROOT, "tests", "data", "oracle")
CAPS = {"x86_64": "caps-qemu-7.2.xml", "aarch64": "caps-qemu-7.2-aarch64.xml"}
RESULTS = ("expected.xml", "libvirt-error.txt", "pciplan-error.txt")

sys.path.insert(0, HERE)
import gen_policy  # noqa: E402


def _load_pci_view():
    path = os.path.join(ROOT, "tests", "data", "libvirt-9.0", "tools", "pci_view.py")
    spec = importlib.util.spec_from_file_location("pci_view", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


PV = _load_pci_view()


def policy_of(case_name):
    """`<policy>-<seed>` -> policy."""
    return case_name.rsplit("-", 1)[0]


def caps_for(xml):
    m = re.search(r"<type arch='([^']+)'", xml)
    return os.path.join(CAPS_DIR, CAPS[m.group(1) if m else "x86_64"])


def plan(policy, inp):
    """pciplan's plan of `inp` under the policy: (rc, stdout, stderr)."""
    args = [PCIPLAN, "assign", "--policy", os.path.join(POLICIES, policy + ".toml"),
            "--caps", caps_for(open(inp).read()), inp]
    p = subprocess.run(args, capture_output=True, text=True)
    return p.returncode, p.stdout, p.stderr


def libvirt_error(stderr):
    lines = [l for l in stderr.splitlines() if not l.startswith("libvirt-error:")]
    msg = "\n".join(lines).strip()
    return msg[len("error: "):] if msg.startswith("error: ") else msg


def view_diff(want_path, got_text):
    with tempfile.NamedTemporaryFile("w", suffix=".xml", delete=False) as t:
        t.write(got_text)
        tmp = t.name
    try:
        return PV.diff(PV.view(want_path), PV.view(tmp))
    finally:
        os.remove(tmp)


def gen_one(policy, seed):
    name = "%s-%04d" % (policy, seed)
    d = os.path.join(CASES, name)
    os.makedirs(d, exist_ok=True)
    for f in RESULTS:
        if os.path.exists(os.path.join(d, f)):
            os.remove(os.path.join(d, f))
    inp = os.path.join(d, "input.xml")
    with open(inp, "w") as f:
        f.write(gen_policy.generate(policy, seed))
    rc, out, err = plan(policy, inp)
    if rc == 1:
        with open(os.path.join(d, "pciplan-error.txt"), "w") as f:
            f.write(err.strip() + "\n")
        return name, "pciplan-error", [err.strip()]
    if rc != 0:
        raise RuntimeError("pciplan failed for %s: rc=%d %s" % (name, rc, err))
    with tempfile.NamedTemporaryFile("w", suffix=".xml", delete=False) as t:
        t.write(out)
        planned = t.name
    try:
        p = subprocess.run([ORACLE, planned], capture_output=True, text=True)
    finally:
        os.remove(planned)
    if p.returncode == 1:
        msg = libvirt_error(p.stderr)
        with open(os.path.join(d, "libvirt-error.txt"), "w") as f:
            f.write(msg + "\n")
        return name, "libvirt-error", [msg]
    if p.returncode != 0:
        raise RuntimeError("oracle failed for %s: rc=%d %s" % (name, p.returncode, p.stderr))
    exp = os.path.join(d, "expected.xml")
    with open(exp, "w") as f:
        f.write(p.stdout)
    diffs = view_diff(exp, out)
    return name, "changed" if diffs else "ok", diffs


def compare(case_dir):
    name = os.path.basename(case_dir)
    inp = os.path.join(case_dir, "input.xml")
    rc, out, err = plan(policy_of(name), inp)
    perr = os.path.join(case_dir, "pciplan-error.txt")
    if os.path.exists(perr):
        want = open(perr).read().strip()
        if rc == 0:
            return ["planned; stored refusal: " + want]
        return [] if err.strip() == want else ["other refusal: %s | stored: %s" % (err.strip(), want)]
    if os.path.exists(os.path.join(case_dir, "libvirt-error.txt")):
        return ["libvirt refused the stored plan: "
                + open(os.path.join(case_dir, "libvirt-error.txt")).read().strip()]
    if rc != 0:
        return ["pciplan failed: " + err.strip()]
    return view_diff(os.path.join(case_dir, "expected.xml"), out)


def main(argv):
    if len(argv) == 5 and argv[1] == "gen":
        policy, first, count = argv[2], int(argv[3]), int(argv[4])
        tally = {}
        jobs = int(os.environ.get("JOBS", "3"))
        with cf.ThreadPoolExecutor(jobs) as ex:
            for name, kind, notes in ex.map(lambda s: gen_one(policy, s),
                                            range(first, first + count)):
                tally[kind] = tally.get(kind, 0) + 1
                print(name, kind)
                if kind == "changed":
                    for l in notes:
                        print("    FINDING", l)
                elif kind != "ok":
                    print("    ", notes[0].splitlines()[0] if notes and notes[0] else "")
        print("%s: %s" % (policy, " ".join("%s=%d" % kv for kv in sorted(tally.items()))))
        return 0
    if len(argv) >= 2 and argv[1] == "compare":
        dirs = argv[2:] or sorted(os.path.join(CASES, d) for d in os.listdir(CASES)
                                  if os.path.isdir(os.path.join(CASES, d)))
        bad = 0
        with cf.ThreadPoolExecutor(4) as ex:
            for d, diffs in zip(dirs, ex.map(compare, dirs)):
                if diffs:
                    bad += 1
                    print("DIFF %s" % os.path.basename(d))
                    for l in diffs[:6]:
                        print("   ", l)
        print("agree: %d/%d" % (len(dirs) - bad, len(dirs)))
        return 0
    if len(argv) == 2 and argv[1] == "size":
        per = {}
        total = 0
        for c in sorted(os.listdir(CASES)):
            if not os.path.isdir(os.path.join(CASES, c)):
                continue
            kinds = per.setdefault(policy_of(c), {})
            for f in RESULTS:
                if os.path.exists(os.path.join(CASES, c, f)):
                    kinds[f] = kinds.get(f, 0) + 1
            for f in os.listdir(os.path.join(CASES, c)):
                total += os.path.getsize(os.path.join(CASES, c, f))
        for p, k in sorted(per.items()):
            print(p, " ".join("%s=%d" % kv for kv in sorted(k.items())))
        print("total bytes: %d" % total)
        return 0
    if len(argv) == 3 and argv[1] == "clean":
        for c in os.listdir(CASES):
            if policy_of(c) == argv[2]:
                shutil.rmtree(os.path.join(CASES, c))
        return 0
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
