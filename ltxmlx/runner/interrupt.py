"""Ctrl-C / SIGTERM as a request to stop at the next batch boundary.

Inside `StopOnSignal` the first SIGINT or SIGTERM only sets a flag (the runner's `should_stop`), so the
batch in flight finishes and is saved; a second one stops at once (KeyboardInterrupt). The previous
handlers come back on exit.
"""

from __future__ import annotations

import logging
import signal

log = logging.getLogger(__name__)

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StopOnSignal:
    def __init__(self):
        self.requested = False
        self._previous: dict = {}

    def __call__(self) -> bool:
        return self.requested

    def _handle(self, signum, frame) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        log.warning("%s received: stopping after the current batch (send it again to stop at once)",
                    signal.Signals(signum).name)

    def __enter__(self) -> StopOnSignal:
        for sig in SIGNALS:
            self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
