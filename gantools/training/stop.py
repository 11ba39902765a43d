"""Stopping training cleanly on Ctrl+C or SIGTERM: the signal asks, the training loops stop between steps.

Inside ``stoppable()`` the first SIGINT/SIGTERM only sets a flag; ``check_stop()``, called by every training
loop before each step (and the lift estimate between its classifiers), turns it into ``KeyboardInterrupt``
there, so the networks, optimisers and random streams are left at a step boundary: what a checkpoint needs to
resume exactly. A second signal before the loop reaches its check (a user pressing Ctrl+C twice) interrupts at
once. Blocks nest: the workflows hold one around fitting *and saving*, so a signal that comes after the
training loops (calibration, validation, writing the folder: seconds) lets the model be completed and saved
instead of losing it. Outside the main thread (where Python allows no signal handlers) the signals keep their
usual behaviour.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_pending = False
_depth = 0  # stoppable() blocks entered: the outermost installs the handlers and restores them


def _ask_to_stop(signum: int, frame: object) -> None:
    global _pending
    if _pending:  # asked twice: do not wait for the step to end
        _pending = False
        raise KeyboardInterrupt
    _pending = True


def check_stop() -> None:
    """Raise ``KeyboardInterrupt`` (once) when a stop was asked for since the last check."""
    global _pending
    if _pending:
        _pending = False
        raise KeyboardInterrupt


@contextmanager
def stoppable() -> Iterator[None]:
    """Within the block, SIGINT and SIGTERM ask the training loops to stop at their next step (a block inside
    another changes nothing: the outer one's handlers stay, and a stop asked for stays pending)."""
    global _pending, _depth
    if threading.current_thread() is not threading.main_thread() or _depth > 0:
        yield
        return
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    _pending = False
    _depth += 1
    try:  # the count is restored first: a signal while the handlers are put back must not leave it raised
        for sig in previous:
            signal.signal(sig, _ask_to_stop)
        yield
    finally:
        _depth -= 1
        _pending = False
        for sig, handler in previous.items():
            signal.signal(sig, handler)
