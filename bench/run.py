"""Run every benchmark in bench/ (or those named) one after another and print their figures.

Benchmarks are never part of the test suite: each prints ratios against a baseline it measures in the
same process, so the figures mean something on any machine. `make bench` runs this.

    .venv/bin/python bench/run.py [NAME...]      e.g. bench/run.py interpreter lint
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(names: list[str]) -> int:
    scripts = sorted(p for p in HERE.glob("*.py") if p.name != "run.py" and not p.name.startswith("_"))
    if names:
        scripts = [p for p in scripts if p.stem in names]
    failed = 0
    for script in scripts:
        print(f"== {script.stem} ==", flush=True)
        start = time.perf_counter()
        result = subprocess.run([sys.executable, str(script)], cwd=HERE.parent)
        print(f"   ({time.perf_counter() - start:.1f} s)\n", flush=True)
        failed += result.returncode != 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
