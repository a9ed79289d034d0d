"""Hydra launcher presets (conf/hydra/launcher/) and the optional extra each one needs."""

from __future__ import annotations

from ltxmlx.extras import MissingExtraError, available

# choice of `hydra/launcher=` -> (plugin module, extra that installs it)
LAUNCHER_PLUGINS = {
    "joblib": ("hydra_plugins.hydra_joblib_launcher", "joblib"),
    "submitit_local": ("hydra_plugins.hydra_submitit_launcher", "slurm"),
    "submitit_slurm": ("hydra_plugins.hydra_submitit_launcher", "slurm"),
    "ray": ("hydra_plugins.hydra_ray_launcher", "ray"),
}


def check_launcher(overrides: list[str]) -> None:
    """Raise MissingExtraError when the command line picks a launcher whose plugin is not installed."""
    for o in overrides:
        key, _, value = o.partition("=")
        if key.lstrip("+") == "hydra/launcher" and value in LAUNCHER_PLUGINS:
            module, extra = LAUNCHER_PLUGINS[value]
            if not available(module):
                raise MissingExtraError(module, extra, f"hydra/launcher={value}")
