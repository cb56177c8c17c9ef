#!/usr/bin/env python3
"""Wall times of the CLI beside the floor program, alternated run by run.

On a machine whose speed drifts (a shared VM), criterion's groups run
minutes apart; this runs the floor program, `pciplan assign` (XML and
`--format json`) and an older pciplan one after another, N rounds, and
prints the medians and their ratios.

    python3 benches/alternate.py FLOOR NEW OLD INPUT.xml [ROUNDS]

FLOOR is the cli bench binary (`cargo bench --bench cli --no-run` prints its
path); it runs as the floor program with PCIPLAN_FLOOR set.
"""
import os
import statistics
import subprocess
import sys
import time


def main():
    if len(sys.argv) < 5:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    floor, new, old, xml = sys.argv[1:5]
    rounds = int(sys.argv[5]) if len(sys.argv) > 5 else 100
    env = dict(os.environ, PCIPLAN_FLOOR=xml)
    runs = {
        "floor": ([floor], env),
        "new": ([new, "assign", xml], None),
        "new-json": ([new, "assign", "--format", "json", xml], None),
        "old": ([old, "assign", xml], None),
        "old-json": ([old, "assign", "--format", "json", xml], None),
    }
    times = {name: [] for name in runs}
    with open(os.devnull, "w") as null:
        for _ in range(rounds):
            for name, (cmd, cmd_env) in runs.items():
                start = time.perf_counter()
                subprocess.run(cmd, env=cmd_env, stdout=null, check=True)
                times[name].append(time.perf_counter() - start)
    m = {name: statistics.median(t) * 1e3 for name, t in times.items()}
    print(" ".join(f"{name}={ms:.2f} ms" for name, ms in m.items()))
    print(
        f"new/floor={m['new'] / m['floor']:.3f} old/floor={m['old'] / m['floor']:.3f} "
        f"new-json/new={m['new-json'] / m['new']:.3f} old-json/old={m['old-json'] / m['old']:.3f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
