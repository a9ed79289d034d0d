"""`python -m ltxmlx.parity DIR/index.json [--case ID ...] [-v] [--allow-not-run]`: one line per case.

Exit 0 when every selected case passed; 1 when one failed, or was NOT RUN (no runner for its
component) unless --allow-not-run; 2 on bad arguments or an unreadable index.
"""

from __future__ import annotations

import argparse
import fnmatch
import sys

from ltxmlx.errors import LtxmlxError
from ltxmlx.parity.fixtures import load_index
from ltxmlx.parity.harness import FAIL, NOT_RUN, PASS, run_case


def _fmt(x: float) -> str:
    return f"{x:.2e}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ltxmlx.parity", description=__doc__)
    parser.add_argument("index", help="path to the fixture set's index.json")
    parser.add_argument("--case", action="append", default=[], help="case id or glob (repeatable)")
    parser.add_argument("-v", "--verbose", action="store_true", help="one line per output as well")
    parser.add_argument("--allow-not-run", action="store_true",
                        help="exit 0 even when some cases have no runner (NOT RUN); failures still exit 1")
    args = parser.parse_args(argv)
    try:
        _, cases = load_index(args.index)
    except LtxmlxError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.case:
        cases = [c for c in cases if any(fnmatch.fnmatch(c.id, p) for p in args.case)]
        if not cases:
            print(f"error: no case matches {args.case}", file=sys.stderr)
            return 2
    counts = {PASS: 0, FAIL: 0, NOT_RUN: 0}
    print(f"{'case':28} {'component':20} {'gen':6} {'max_abs':>9} {'max_rel':>9} {'worst/tol':>9}  result")
    for case in cases:
        res = run_case(case)
        counts[res.status] += 1
        w = res.worst
        if w is None:
            nums = f"{'-':>9} {'-':>9} {'-':>9}"
        else:
            nums = f"{_fmt(max(r.max_abs for r in res.outputs)):>9} {_fmt(max(r.max_rel for r in res.outputs)):>9} " \
                   f"{w.ratio:>9.3f}"
        print(f"{case.id:28} {case.component:20} {case.generation or '-':6} {nums}  {res.status}"
              + (f" ({res.seconds:.1f}s)" if res.status != NOT_RUN else ""))
        if res.detail and (res.status == FAIL or args.verbose):
            print("    " + res.detail.strip().replace("\n", "\n    "))
        if args.verbose or res.status == FAIL:
            for r in res.outputs:
                if args.verbose or not r.passed:
                    print(f"    {r.name:52} abs {_fmt(r.max_abs)} rel {_fmt(r.max_rel)} atol {_fmt(r.atol)} "
                          f"rtol {_fmt(r.rtol)} worst/tol {r.ratio:.3f} {'ok' if r.passed else 'FAIL ' + r.problem}")
    print(f"{counts[PASS]} passed, {counts[FAIL]} failed, {counts[NOT_RUN]} not run")
    if counts[NOT_RUN] and not args.allow_not_run:
        print(f"{counts[NOT_RUN]} cases were not run (no runner for their component); "
              f"pass --allow-not-run to accept that", file=sys.stderr)
        return 1
    return 1 if counts[FAIL] else 0


if __name__ == "__main__":
    sys.exit(main())
