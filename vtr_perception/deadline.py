"""A wall-clock deadline for a long run in the main thread, that leaves a record of where it was stuck.

Every wait of the demo's conductor has its own timeout, so a run that outlives the sum of them is
stuck outside any wait (one demo run spun at 100% CPU for 8 minutes, cause unknown). At the deadline
every thread's stack goes to ``stacks_path`` and the main thread gets KeyboardInterrupt, which the
``with`` block turns into DeadlineExceeded, so the run's ``finally`` clauses still stop its node
processes. A process started with SIGINT ignored (a background job of a non-interactive shell, nohup
scripts) has no KeyboardInterrupt at all: the block puts Python's default SIGINT handler in for its
duration. A KeyboardInterrupt that lands while the main thread runs a finalizer (``__del__``, a weakref
or gc callback) is only reported by the interpreter, never raised, so it is sent again every
``RESEND_S`` until the block is left: keep slow clean-up outside the block. A main thread stuck in C
code that never returns to Python cannot be interrupted: ``hard_grace_s`` later faulthandler writes
the stacks again and ends the process (exit status 1).
"""

from __future__ import annotations

import _thread
import faulthandler
import signal
import threading
from pathlib import Path
from types import TracebackType


class DeadlineExceeded(RuntimeError):
    """The run outlived its deadline; the message names the file with every thread's stack."""


class Deadline:
    """``with Deadline(seconds, stacks_path, what="the NBV run"):`` around a run in the main thread."""

    RESEND_S = 1.0

    def __init__(self, seconds: float, stacks_path: str | Path, *, what: str = "the run",
                 hard_grace_s: float = 60.0) -> None:  # fmt: skip
        if not seconds > 0:
            raise ValueError(f"a deadline must be positive, got {seconds}")
        self.seconds, self.stacks_path, self.what = float(seconds), Path(stacks_path), what
        self.hard_grace_s = float(hard_grace_s)
        self.expired = threading.Event()
        self._left = threading.Event()
        self._sigint: object = None  # SIGINT's handler before the block
        self._timer: threading.Timer | None = None
        self._hard_file = None

    def _expire(self) -> None:
        self.expired.set()
        with open(self.stacks_path, "w") as f:
            faulthandler.dump_traceback(f, all_threads=True)
        while True:
            _thread.interrupt_main()
            if self._left.wait(self.RESEND_S):
                return

    def __enter__(self) -> Deadline:
        if threading.current_thread() is not threading.main_thread():
            raise RuntimeError("Deadline interrupts the main thread: enter it there")
        self.stacks_path.parent.mkdir(parents=True, exist_ok=True)
        self._left.clear()
        self._sigint = signal.getsignal(signal.SIGINT)
        if not callable(self._sigint):  # ignored or default at the C level: interrupt_main would do nothing
            signal.signal(signal.SIGINT, signal.default_int_handler)
        self._timer = threading.Timer(self.seconds, self._expire)
        self._timer.daemon = True
        self._timer.start()
        if self.hard_grace_s > 0:
            self._hard_file = open(self.stacks_path.with_suffix(".hard.txt"), "w")  # noqa: SIM115 - closed in __exit__
            faulthandler.dump_traceback_later(self.seconds + self.hard_grace_s, exit=True, file=self._hard_file)
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> bool:
        self._left.set()
        if not callable(self._sigint) and self._sigint is not None:
            signal.signal(signal.SIGINT, self._sigint)
        if self._timer is not None:
            self._timer.cancel()
        if self._hard_file is not None:
            faulthandler.cancel_dump_traceback_later()
            self._hard_file.close()
            Path(self._hard_file.name).unlink(missing_ok=True)
            self._hard_file = None
        if kind is KeyboardInterrupt and self.expired.is_set():
            raise DeadlineExceeded(f"{self.what} did not finish within {self.seconds:g} s; every thread's stack at "
                                   f"that moment is in {self.stacks_path}") from exc  # fmt: skip
        return False
