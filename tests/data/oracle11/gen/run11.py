#!/usr/bin/env python3
"""Generate cases with ../../oracle/gen/gen.py and ask the live libvirt 11.3 oracle.

    run11.py gen PROFILE FIRST COUNT   write ../cases/<profile>-<seed>/input.xml and libvirt
                                       11.3's answer (expected.xml or expected-error.txt)
    run11.py oracle DIR...             (re)ask libvirt 11.3 for hand-written case dirs
    run11.py ask9 OUTDIR [DIR...]      ask libvirt 9.0 (/work/shared/oracle/libvirt-assign)
                                       the same inputs; writes OUTDIR/<case>/expected.xml or
                                       expected-error.txt (for DIFFS.md; not kept in the corpus)

The generator is the 9.0 corpus's gen.py, imported unchanged, so <profile>-<seed> here is
the same input as <profile>-<seed> there. The 11.3 oracle is
/work/shared/oracle/libvirt11/libvirt11-assign (override with ORACLE11=...); the 9.0 one is
/work/shared/oracle/libvirt-assign (ORACLE=...). Neither is needed by tests.
"""
import concurrent.futures as cf
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.dirname(HERE)
CASES = os.path.join(DATA, "cases")
ORACLE11 = os.environ.get("ORACLE11", "/work/shared/oracle/libvirt11/libvirt11-assign")
ORACLE9 = os.environ.get("ORACLE", "/work/shared/oracle/libvirt-assign")
JOBS = int(os.environ.get("JOBS", "2"))

sys.path.insert(0, os.path.join(DATA, "..", "oracle", "gen"))
import gen  # noqa: E402


def ask(oracle, case_dir, out_dir=None):
    """Same storage contract as ../../oracle/gen/run.py ask_oracle."""
    out_dir = out_dir or case_dir
    os.makedirs(out_dir, exist_ok=True)
    inp = os.path.join(case_dir, "input.xml")
    p = subprocess.run([oracle, inp], capture_output=True, text=True)
    for f in ("expected.xml", "expected-error.txt"):
        try:
            os.remove(os.path.join(out_dir, f))
        except FileNotFoundError:
            pass
    if p.returncode == 0:
        with open(os.path.join(out_dir, "expected.xml"), "w") as f:
            f.write(p.stdout)
        return "ok"
    if p.returncode == 1:
        lines = [l for l in p.stderr.splitlines() if not l.startswith("libvirt-error:")]
        msg = "\n".join(lines).strip()
        if msg.startswith("error: "):
            msg = msg[len("error: "):]
        with open(os.path.join(out_dir, "expected-error.txt"), "w") as f:
            f.write(msg + "\n")
        return "error"
    raise RuntimeError("oracle %s failed for %s: rc=%d %s" % (oracle, case_dir, p.returncode, p.stderr))


def gen_one(profile, seed):
    name = "%s-%04d" % (profile, seed)
    d = os.path.join(CASES, name)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "input.xml"), "w") as f:
        f.write(gen.generate(profile, seed))
    return name, ask(ORACLE11, d)


def main(argv):
    if len(argv) == 5 and argv[1] == "gen":
        profile, first, count = argv[2], int(argv[3]), int(argv[4])
        with cf.ThreadPoolExecutor(JOBS) as ex:
            for name, kind in ex.map(lambda s: gen_one(profile, s), range(first, first + count)):
                print(name, kind, flush=True)
        return 0
    if len(argv) >= 2 and argv[1] == "oracle":
        for d in argv[2:]:
            print(d, ask(ORACLE11, d), flush=True)
        return 0
    if len(argv) >= 3 and argv[1] == "ask9":
        out = argv[2]
        dirs = argv[3:] or sorted(os.path.join(CASES, d) for d in os.listdir(CASES))
        with cf.ThreadPoolExecutor(JOBS) as ex:
            for d, kind in zip(dirs, ex.map(
                    lambda d: ask(ORACLE9, d, os.path.join(out, os.path.basename(d))), dirs)):
                print(os.path.basename(d), kind, flush=True)
        return 0
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
