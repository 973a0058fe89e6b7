"""Time to the first derivative value in a fresh process, with a cold and a
warm disk cache.

For the seed (``rs`` of ``examples/gaussian_fit.py`` w.r.t. ``xs``) and for
a larger function (the mini-batch MLP loss of ``examples/mlp_training.py``
w.r.t. its four weight arrays, a loop over batches calling two user
functions), each run is a new Python process that imports numpy, s2s and
the example, then asks for the derivative once. Cold: an empty cache
directory, so s2s parses and generates. Warm: the directory the cold run
filled, so s2s only reads the module. Medians (and the range) over several
runs, in milliseconds, with Python's bytecode cache in use, as for users.

Run: python benchmarks/first_call.py [--runs N]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent

PROBE = """
import json, sys, time
t0 = time.perf_counter()
import numpy as np
t1 = time.perf_counter()
import s2s
t2 = time.perf_counter()
sys.path.insert(0, {examples!r})
{setup}
t3 = time.perf_counter()
{call}
t4 = time.perf_counter()
print(json.dumps({{"numpy": t1 - t0, "s2s": t2 - t1, "first": t4 - t3,
                   "compiler": "s2s.generate" in sys.modules}}))
"""

CASES = {
    "seed: rs w.r.t. xs (forward)": (
        "import gaussian_fit as ex\nd = ex.f(0.4)",
        "ex.rs.derivative(d, 0.3)",
    ),
    "MLP loss w.r.t. 4 weight arrays (reverse)": (
        "import mlp_training as ex\n"
        "rng = np.random.default_rng(0)\n"
        "X = np.linspace(-1.0, 1.0, 256).reshape(-1, 1); y = np.sin(3.0 * X)\n"
        "p = [rng.normal(size=(1, 16)), np.zeros(16), rng.normal(size=(16, 1)), np.zeros(1)]",
        "ex.loss.derivative(*p, X, y, 64)",
    ),
}


def probe(setup: str, call: str, cache_dir: str) -> dict:
    script = PROBE.format(examples=str(REPO / "examples"), setup=setup, call=call)
    env = dict(os.environ, S2S_CACHE_DIR=cache_dir)
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # as users run: imports read compiled bytecode
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, check=True)
    return json.loads(done.stdout)


def summary(values: list[float]) -> str:
    ms = np.array(values) * 1e3
    return f"{np.median(ms):7.1f} ms  ({ms.min():.1f} to {ms.max():.1f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7)
    runs = parser.parse_args().runs
    print(f"medians over {runs} fresh processes each (range in parentheses)\n")
    for label, (setup, call) in CASES.items():
        with tempfile.TemporaryDirectory() as cache_dir:  # a first run writes the bytecode of every import
            probe(setup, call, cache_dir)
        cold, warm = [], []
        for _ in range(runs):
            with tempfile.TemporaryDirectory() as cache_dir:
                cold.append(probe(setup, call, cache_dir))
                warm.append(probe(setup, call, cache_dir))
        assert all(r["compiler"] for r in cold) and not any(r["compiler"] for r in warm)
        print(label)
        print(f"  import numpy                     {summary([r['numpy'] for r in cold + warm])}")
        print(f"  import s2s (beyond numpy)        {summary([r['s2s'] for r in cold + warm])}")
        print(f"  first derivative, cold cache     {summary([r['first'] for r in cold])}")
        print(f"  first derivative, warm cache     {summary([r['first'] for r in warm])}")
        print()


if __name__ == "__main__":
    main()
