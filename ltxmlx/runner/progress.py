"""Console progress (rich): one overall bar across every stage (with ETA), the current stage's items
and its steps, plus the summary table at the end. The runner reports through this small interface only.

Overall work is counted in stage outputs to compute (an item's text encoding, its stage-1 latent, ...),
so the ETA assumes their mean cost so far holds for the rest."""

from __future__ import annotations

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table


class NullProgress:
    """Progress sink that shows nothing (tests, library use)."""

    def start_run(self, total_units: int) -> None: ...

    def start_stage(self, name: str, n_items: int, n_cached: int) -> None: ...

    def start_batch(self, n_items: int) -> None: ...

    def step(self, step: int, total: int) -> None: ...

    def items_done(self, n: int) -> None: ...

    def end_stage(self) -> None: ...


class RichProgress(NullProgress):
    def __init__(self, console: Console | None = None):
        self.console = console or Console(stderr=True)
        self.bar = Progress(
            TextColumn("{task.description:<22}"), BarColumn(), MofNCompleteColumn(),
            TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn(),
            console=self.console, transient=False,
        )
        self.stage_task = self.step_task = self.overall_task = None
        self.stage_tasks: dict[str, object] = {}  # item-major order revisits stages: one bar each

    def __enter__(self) -> "RichProgress":
        self.bar.start()
        return self

    def __exit__(self, *exc) -> None:
        self.bar.stop()

    def start_run(self, total_units: int) -> None:
        self.overall_task = self.bar.add_task("overall", total=max(total_units, 1))

    def start_stage(self, name: str, n_items: int, n_cached: int) -> None:
        if name in self.stage_tasks:
            self.stage_task = self.stage_tasks[name]
            total = self.bar.tasks[self.bar.task_ids.index(self.stage_task)].total or 0
            self.bar.update(self.stage_task, total=total + n_items)
            return
        note = f" ({n_cached} cached)" if n_cached else ""
        self.stage_task = self.stage_tasks[name] = self.bar.add_task(f"{name}: items{note}", total=n_items)

    def start_batch(self, n_items: int) -> None:
        if self.step_task is not None:
            self.bar.remove_task(self.step_task)
        self.step_task = self.bar.add_task(f"  steps (batch of {n_items})", total=None)

    def step(self, step: int, total: int) -> None:
        # `step` counts steps done (some stages report 0-based tiles): never past the total.
        self.bar.update(self.step_task, completed=min(max(step, 0), total), total=total)

    def items_done(self, n: int) -> None:
        self.bar.advance(self.stage_task, n)
        if self.overall_task is not None:
            self.bar.advance(self.overall_task, n)

    def end_stage(self) -> None:
        if self.step_task is not None:
            self.bar.remove_task(self.step_task)
            self.step_task = None


def summary_table(stats: list[dict], n_videos: int, n_finished_before: int, run_dir: str) -> Table:
    t = Table(title=f"{n_videos} outputs in {run_dir}" + (f" ({n_finished_before} from an earlier run)" if n_finished_before else ""))
    for col in ("stage", "computed", "cached", "seconds", "s / item", "peak GiB"):
        t.add_column(col, justify="right" if col != "stage" else "left")
    for s in stats:
        per = s["seconds"] / s["computed"] if s["computed"] else 0.0
        t.add_row(s["stage"], str(s["computed"]), str(s["cached"]), f"{s['seconds']:.1f}", f"{per:.2f}",
                  f"{s['peak_bytes'] / 1024**3:.2f}")
    return t
