"""One run's trackers behind one object: the step loop only queues a call; a background thread makes it
on every sink, so a slow or unreachable tracker never slows the loop (only ``start``, before the first
step, and ``finish``, after the outputs, wait for the sinks, each for a bounded time). A sink that
raises warns once (one line naming it) and gets no further calls; the stage never fails for it.

>>> with Tracker([]) as tracker:   # no sinks: every call is a no-op, no thread
...     tracker.log_metrics(1, {"train_loss": 2.0})
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
from collections.abc import Mapping, Sequence
from typing import Any

from pretrainlab.tracking.sink import Sink, numbers

log = logging.getLogger(__name__)

# How long a stage waits for its trackers to start (import, connect) before its first step, so that
# their start does not compete with the steps it times; then it goes on, and they start meanwhile.
START_TIMEOUT_S = 60.0
# How long the end of a stage waits for its trackers to take the last calls (an upload, a server that
# stopped answering); then the stage goes on and the run may be incomplete in that tracker.
FINISH_TIMEOUT_S = 60.0


class Tracker:
    def __init__(self, sinks: Sequence[Sink] = ()):
        self._sinks = list(sinks)
        self._calls: queue.SimpleQueue[tuple[str, tuple[Any, ...]] | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._started = threading.Event()
        if self._sinks:
            self._thread = threading.Thread(target=self._run, name="pretrainlab-tracking", daemon=True)
            self._thread.start()

    def start(
        self, run_name: str, group: str, config: Mapping[str, Any], timeout: float = START_TIMEOUT_S
    ) -> None:
        """Open the run in every sink; returns once they did (or failed), or after ``timeout`` seconds."""
        if self._thread is None:
            return
        self._queue("start", run_name, group, dict(config))
        if not self._started.wait(timeout):
            log.warning("tracking: still starting after %g s; the stage goes on meanwhile", timeout)

    def log_metrics(self, step: int, metrics: Mapping[str, Any]) -> None:
        """The finite numbers of ``metrics`` at ``step`` (None and NaN left out)."""
        if self._thread is not None and (values := numbers(metrics)):
            self._queue("log_metrics", step, values)

    def log_summary(self, metrics: Mapping[str, Any]) -> None:
        """A run's results (a nested record: its numbers, flattened)."""
        if self._thread is not None and (values := numbers(metrics)):
            self._queue("log_summary", values)

    def finish(self, ok: bool = True, timeout: float = FINISH_TIMEOUT_S) -> None:
        """End the run in every sink (``ok``: the stage succeeded), waiting at most ``timeout`` seconds."""
        if self._thread is None:
            return
        self._queue("finish", ok)
        self._calls.put(None)
        self._thread.join(timeout)
        if self._thread.is_alive():
            names = ", ".join(sink.name for sink in self._sinks)
            log.warning("tracking: %s did not finish within %g s; its run may be incomplete", names, timeout)
        self._thread = None

    def __enter__(self) -> Tracker:
        return self

    def __exit__(self, kind: object, error: object, traceback: object) -> None:
        self.finish(ok=error is None)

    def _queue(self, method: str, *args: Any) -> None:
        if self._thread is not None:
            self._calls.put((method, args))

    def _run(self) -> None:
        while (call := self._calls.get()) is not None:
            method, args = call
            for sink in list(self._sinks):
                try:
                    getattr(sink, method)(*args)
                except Exception as error:  # any failure of a tracker: dropped, never the stage's
                    self._drop(sink, method, error)
            if method == "start":
                self._started.set()

    def _drop(self, sink: Sink, method: str, error: Exception) -> None:
        first_line = (str(error).strip().splitlines() or [""])[0][:200]
        log.warning(
            "tracking: %s failed in %s (%s: %s); nothing more is logged to it in this run",
            sink.name,
            method,
            type(error).__name__,
            first_line,
        )
        self._sinks.remove(sink)
        if method != "finish":
            with contextlib.suppress(Exception):
                sink.finish(ok=False)  # close what it opened
