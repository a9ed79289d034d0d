"""The operating system's scheduler units that start `queue run` every night.

macOS: a launchd agent (`StartCalendarInterval`; launchd runs a slot missed while asleep on wake),
wrapped in `caffeinate -i` so the Mac does not idle-sleep mid-render. Linux: a systemd user service
(oneshot, no start timeout) and a timer with `Persistent=true` (a slot missed while off runs at the
next boot). The command carries `--after` and `--until`, so a late catch-up start outside the window
exits at once instead of rendering into the working day.
"""

from __future__ import annotations

import os
import plistlib
import shlex
import sys
from dataclasses import dataclass, field
from pathlib import Path

from ltxmlx.errors import LtxmlxError

PLATFORMS = ("launchd", "systemd")
# Passed through to the scheduled run when set at install time.
ENV_KEYS = ("LTXMLX_CACHE_DIR", "LTXMLX_JOBS_DIR", "HF_HOME", "HF_HUB_OFFLINE", "HF_TOKEN_PATH", "PATH")


class ScheduleError(LtxmlxError):
    """A schedule that cannot be written, loaded or found."""


def parse_hhmm(text: str, flag: str) -> tuple[int, int]:
    try:
        hour, minute = (int(x) for x in text.split(":"))
    except ValueError as e:
        raise ScheduleError(f"{flag} {text!r}: expected a local time HH:MM (e.g. 01:00)") from e
    if not (0 <= hour < 24 and 0 <= minute < 60):
        raise ScheduleError(f"{flag} {text!r}: hour 0-23 and minute 0-59 expected")
    return hour, minute


@dataclass(frozen=True)
class Schedule:
    at: str  # HH:MM start
    until: str  # HH:MM stop (at the next batch boundary)
    db: Path
    name: str = "queue"
    workdir: Path = field(default_factory=Path.cwd)
    python: str = sys.executable
    env: dict[str, str] = field(default_factory=lambda: {k: os.environ[k] for k in ENV_KEYS if k in os.environ})

    def __post_init__(self):
        parse_hhmm(self.at, "--at")
        parse_hhmm(self.until, "--until")
        if self.at == self.until:
            raise ScheduleError(f"--at and --until are both {self.at}: the window would be empty")
        if not self.name.replace("-", "").replace("_", "").isalnum():
            raise ScheduleError(f"--name {self.name!r}: letters, digits, '-' and '_' only")

    @property
    def label(self) -> str:
        return f"org.ltxmlx.{self.name}"

    @property
    def unit(self) -> str:
        return f"ltxmlx-{self.name}"

    def command(self) -> list[str]:
        return [self.python, "-m", "ltxmlx.queue", "run", "--after", self.at, "--until", self.until,
                "--db", str(self.db)]


def launchd_plist(s: Schedule) -> bytes:
    hour, minute = parse_hhmm(s.at, "--at")
    log = str(Path(s.db).parent / f"{s.unit}.log")
    return plistlib.dumps({
        "Label": s.label,
        "ProgramArguments": ["/usr/bin/caffeinate", "-i", *s.command()],
        "StartCalendarInterval": {"Hour": hour, "Minute": minute},
        "WorkingDirectory": str(s.workdir),
        "EnvironmentVariables": dict(s.env),
        "StandardOutPath": log,
        "StandardErrorPath": log,
        "ProcessType": "Standard",
    })


def _quote(arg: str) -> str:
    """systemd's ExecStart quoting: double quotes, backslash-escaped; `%` and `$` doubled."""
    arg = arg.replace("%", "%%").replace("$", "$$")
    if arg and all(c.isalnum() or c in "/._-:=+,@" for c in arg):
        return arg
    return '"' + arg.replace("\\", "\\\\").replace('"', '\\"') + '"'


def systemd_units(s: Schedule) -> dict[str, str]:
    """{file name: content} of the service and its timer."""
    hour, minute = parse_hhmm(s.at, "--at")
    env = "".join(f"Environment={_quote(f'{k}={v}')}\n" for k, v in sorted(s.env.items()))
    service = (
        "[Unit]\n"
        f"Description=ltxmlx render queue {s.db} (window {s.at}-{s.until})\n\n"
        "[Service]\n"
        "Type=oneshot\n"
        f"WorkingDirectory={str(s.workdir).replace('%', '%%')}\n"  # taken verbatim: no quotes
        f"{env}"
        f"ExecStart={' '.join(_quote(a) for a in s.command())}\n"
        "TimeoutStartSec=infinity\n"
    )
    timer = (
        "[Unit]\n"
        f"Description=start the ltxmlx render queue at {s.at}\n\n"
        "[Timer]\n"
        f"OnCalendar=*-*-* {hour:02d}:{minute:02d}:00\n"
        "Persistent=true\n"
        f"Unit={s.unit}.service\n\n"
        "[Install]\n"
        "WantedBy=timers.target\n"
    )
    return {f"{s.unit}.service": service, f"{s.unit}.timer": timer}


def describe(s: Schedule, platform: str) -> str:
    """The unit files as `--dry-run` prints them."""
    if platform == "launchd":
        return f"# ~/Library/LaunchAgents/{s.label}.plist\n" + launchd_plist(s).decode()
    if platform == "systemd":
        return "\n".join(f"# ~/.config/systemd/user/{name}\n{text}" for name, text in systemd_units(s).items())
    raise ScheduleError(f"unknown scheduler {platform!r}; valid: {', '.join(PLATFORMS)}")


def shell_line(s: Schedule) -> str:
    return " ".join(shlex.quote(a) for a in s.command())
