"""Where the items of one job render: this process (`fleet=none`) or a fleet of machines (`fleet=ray`).

Each fleet is one module plus one entry in `FLEETS`; every one of them calls the same `render` path
(plan, record, `Runner`) and writes one run directory.
"""

from __future__ import annotations

from typing import Callable

from ltxmlx.config.schema import RunConfig
from ltxmlx.errors import ConfigError
from ltxmlx.extras import MissingExtraError, available


def _ray_render(*args, **kwargs):
    from ltxmlx.fleet.ray_fleet import render_on_ray

    return render_on_ray(*args, **kwargs)


def _local_render(*args, **kwargs):
    from ltxmlx.runner.job import render

    return render(*args, **kwargs)


# fleet.name -> (renderer with `render`'s signature, (module, extra) it needs or None)
FLEETS: dict[str, tuple[Callable, tuple[str, str] | None]] = {
    "none": (_local_render, None),
    "ray": (_ray_render, ("ray", "ray")),
}


def check_fleet(cfg: RunConfig) -> None:
    """Pre-flight: a known fleet, its extra installed, sane settings."""
    if cfg.fleet.name not in FLEETS:
        raise ConfigError("fleet.name", cfg.fleet.name, f"one of {', '.join(FLEETS)}")
    needs = FLEETS[cfg.fleet.name][1]
    if needs and not available(needs[0]):
        raise MissingExtraError(needs[0], needs[1], f"fleet={cfg.fleet.name}")
    if cfg.fleet.workers is not None and cfg.fleet.workers < 1:
        raise ConfigError("fleet.workers", cfg.fleet.workers, "an integer >= 1, or null for one per machine")


def job_renderer(cfg: RunConfig) -> Callable:
    """The function that renders `cfg` (same signature as `ltxmlx.runner.job.render`)."""
    check_fleet(cfg)
    return FLEETS[cfg.fleet.name][0]
