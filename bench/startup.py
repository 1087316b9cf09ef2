"""Start-up: the wall time of ``assay --help`` (the whole command, as a user runs it) against
the floor of importing Typer and Rich alone, in one run, with the ratio.

    .venv/bin/python bench/startup.py [--runs 9]

Each command runs ``--runs`` times, alternating, in fresh processes; the medians are printed.
DESIGN.md asks for ``assay --help`` about as fast as Typer alone (issue 24, item 11).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path


def _wall(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=9)
    args = ap.parse_args()
    exe = shutil.which("assay", path=str(Path(sys.executable).parent)) or "assay"
    commands = {
        "python -c 'import typer, rich'": [sys.executable, "-c", "import typer, rich"],
        "assay --help": [exe, "--help"],
        "assay import --help": [exe, "import", "--help"],
        "assay quality aggregate --help": [exe, "quality", "aggregate", "--help"],
        # what `assay import` loads before it reads a row
        "import assay.services.imports": [sys.executable, "-c", "import assay.services.imports"],
    }
    times: dict[str, list[float]] = {k: [] for k in commands}
    for _ in range(args.runs):
        for name, cmd in commands.items():
            times[name].append(_wall(cmd))
    floor = statistics.median(times["python -c 'import typer, rich'"])
    print(f"{'command':36} {'median s':>9} {'x floor':>8}   ({args.runs} runs each, alternating)")
    for name, ts in times.items():
        med = statistics.median(ts)
        print(f"{name:36} {med:9.3f} {med / floor:8.2f}")


if __name__ == "__main__":
    main()
