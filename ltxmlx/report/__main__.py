"""`python -m ltxmlx.report DIR`: write `report.html` for a run directory, or `index.html` (and every
run's `report.html`) for a multirun sweep directory. Prints the path of the page written."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ltxmlx.report.data import is_run_dir
from ltxmlx.report.index_page import write_sweep_index
from ltxmlx.report.run_page import write_run_report


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m ltxmlx.report", description=__doc__)
    ap.add_argument("dir", type=Path, help="a run directory or a multirun sweep directory")
    args = ap.parse_args(argv)
    d: Path = args.dir
    if is_run_dir(d):
        print(write_run_report(d))
        return 0
    if d.is_dir() and any(is_run_dir(sub) for sub in d.iterdir() if sub.is_dir()):
        print(write_sweep_index(d))
        return 0
    print(f"error: {d} is neither a run directory (plan.json / manifest.jsonl) nor a directory of runs",
          file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
