"""`python -m ltxmlx.schedule install|show|remove`: drain the render queue every night.

  install --at 01:00 --until 07:00 [--db PATH] [--name NAME] [--dry-run]
  show [--name NAME]
  remove [--name NAME]

macOS gets a launchd agent (`launchctl bootstrap gui/$UID`), Linux a systemd user service + timer
(`systemctl --user`). The scheduled command is `python -m ltxmlx.queue run --after AT --until UNTIL`,
run from the current directory with this Python. `--dry-run` prints the unit files instead.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ltxmlx.errors import LtxmlxError
from ltxmlx.schedule.install import default_platform, install, remove, show
from ltxmlx.schedule.units import PLATFORMS, Schedule, describe


def _default_db() -> Path:
    from ltxmlx.config.compose import compose_config

    return (Path(compose_config([]).output_root).expanduser() / "queue.sqlite").absolute()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m ltxmlx.schedule", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="command", required=True)
    inst = sub.add_parser("install")
    inst.add_argument("--at", required=True, help="local start time HH:MM")
    inst.add_argument("--until", required=True, help="local stop time HH:MM (at the next batch boundary)")
    inst.add_argument("--db", type=Path, default=None, help="queue database (default <output_root>/queue.sqlite)")
    inst.add_argument("--dry-run", action="store_true", help="print the unit files, install nothing")
    for p in (inst, sub.add_parser("show"), sub.add_parser("remove")):
        p.add_argument("--name", default="queue", help="schedule name, for several schedules (default queue)")
        p.add_argument("--scheduler", choices=PLATFORMS, default=None, help="default: this machine's")
    args = ap.parse_args(argv)
    try:
        platform = args.scheduler or default_platform()
        if args.command == "install":
            db = (args.db or _default_db()).expanduser().absolute()
            s = Schedule(at=args.at, until=args.until, db=db, name=args.name)
            if args.dry_run:
                print(describe(s, platform))
                return 0
            for path in install(s, platform):
                print(f"installed {path}")
        elif args.command == "show":
            print(show(args.name, platform))
        else:
            for path in remove(args.name, platform):
                print(f"removed {path}")
    except LtxmlxError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
