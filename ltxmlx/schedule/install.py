"""Write, load, show and remove the scheduler units (`launchctl` on macOS, `systemctl --user` on Linux)."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

from ltxmlx.schedule.units import Schedule, ScheduleError, launchd_plist, systemd_units

log = logging.getLogger(__name__)


def default_platform() -> str:
    if sys.platform == "darwin":
        return "launchd"
    if sys.platform.startswith("linux"):
        return "systemd"
    raise ScheduleError(f"no supported scheduler on {sys.platform!r}: launchd (macOS) or systemd (Linux)")


def _launch_agents() -> Path:
    return Path.home() / "Library" / "LaunchAgents"


def _systemd_user_dir() -> Path:
    return Path(os.environ.get("XDG_CONFIG_HOME", Path.home() / ".config")) / "systemd" / "user"


def _run(cmd: list[str], check: bool = True) -> subprocess.CompletedProcess:
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True)
    except FileNotFoundError as e:
        raise ScheduleError(f"{cmd[0]} not found; is this the right scheduler for this machine?") from e
    if check and proc.returncode != 0:
        raise ScheduleError(f"{' '.join(cmd)} failed: {(proc.stderr or proc.stdout).strip().splitlines()[-1:]}")
    return proc


def install(s: Schedule, platform: str) -> list[Path]:
    """Write the units and load them; returns the files written."""
    if platform == "launchd":
        path = _launch_agents() / f"{s.label}.plist"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(launchd_plist(s))
        domain = f"gui/{os.getuid()}"
        _run(["launchctl", "bootout", f"{domain}/{s.label}"], check=False)  # an older copy, if loaded
        _run(["launchctl", "bootstrap", domain, str(path)])
        return [path]
    units = systemd_units(s)
    out = _systemd_user_dir()
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, text in units.items():
        (out / name).write_text(text, encoding="utf-8")
        paths.append(out / name)
    _run(["systemctl", "--user", "daemon-reload"])
    _run(["systemctl", "--user", "enable", "--now", f"{s.unit}.timer"])
    log.info("a user timer runs only while you are logged in unless lingering is on: loginctl enable-linger")
    return paths


def show(name: str, platform: str) -> str:
    """The installed unit files and what the scheduler says about them."""
    if platform == "launchd":
        path = _launch_agents() / f"org.ltxmlx.{name}.plist"
        files = [path]
        status = ["launchctl", "print", f"gui/{os.getuid()}/org.ltxmlx.{name}"]
    else:
        files = [_systemd_user_dir() / f"ltxmlx-{name}.{ext}" for ext in ("service", "timer")]
        status = ["systemctl", "--user", "list-timers", f"ltxmlx-{name}.timer", "--all"]
    if not any(f.is_file() for f in files):
        raise ScheduleError(f"no schedule named {name!r} is installed (looked for {', '.join(map(str, files))})")
    parts = [f"# {f}\n{f.read_text(encoding='utf-8')}" for f in files if f.is_file()]
    proc = _run(status, check=False)
    parts.append(f"# {' '.join(status)}\n{(proc.stdout or proc.stderr).strip()}")
    return "\n".join(parts)


def remove(name: str, platform: str) -> list[Path]:
    """Unload and delete the units; returns the files deleted."""
    if platform == "launchd":
        path = _launch_agents() / f"org.ltxmlx.{name}.plist"
        files = [path]
        if path.is_file():
            _run(["launchctl", "bootout", f"gui/{os.getuid()}/org.ltxmlx.{name}"], check=False)
    else:
        files = [_systemd_user_dir() / f"ltxmlx-{name}.{ext}" for ext in ("service", "timer")]
        if files[1].is_file():
            _run(["systemctl", "--user", "disable", "--now", f"ltxmlx-{name}.timer"], check=False)
    removed = [f for f in files if f.is_file()]
    if not removed:
        raise ScheduleError(f"no schedule named {name!r} is installed")
    for f in removed:
        f.unlink()
    if platform == "systemd":
        _run(["systemctl", "--user", "daemon-reload"], check=False)
    return removed
