"""Deadline: a stuck main thread is interrupted with every thread's stack on file, or the process ends."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from vtr_perception.deadline import Deadline


@pytest.mark.parametrize("sigint", ["default_int_handler", "SIG_IGN"])
def test_a_busy_main_thread_is_interrupted_and_its_stack_is_on_file(tmp_path, sigint):
    """In a process of its own, as the demo runs it, started with SIGINT ignored or not: a background job of a
    non-interactive shell inherits it ignored, and KeyboardInterrupt never came (two test runs hung here)."""
    stacks = tmp_path / "logs" / "stacks.txt"
    script = textwrap.dedent(f"""
        import signal, time
        from vtr_perception.deadline import Deadline, DeadlineExceeded

        def spin_without_waiting():
            while True:  # pure Python, never waits: what no wait's timeout ends
                sum(range(100))

        start = time.monotonic()
        try:
            with Deadline(0.3, {str(stacks)!r}, what="the test run", hard_grace_s=0):
                spin_without_waiting()
        except DeadlineExceeded as exc:
            print(f"{{time.monotonic() - start:.1f}} s: {{exc}}")
        assert signal.getsignal(signal.SIGINT) == signal.{sigint}  # as it was before the block
    """)
    preexec = (lambda: signal.signal(signal.SIGINT, signal.SIG_IGN)) if sigint == "SIG_IGN" else None
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60,
                          preexec_fn=preexec)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    seconds, message = proc.stdout.split(" s: ", 1)
    assert float(seconds) < 5.0
    assert re.match(r"the test run did not finish within 0.3 s; .*stacks\.txt", message), message
    text = stacks.read_text()
    assert "spin_without_waiting" in text and "Current thread" in text


def test_a_run_within_its_deadline_leaves_no_files_and_no_timer(tmp_path):
    stacks = tmp_path / "stacks.txt"
    with Deadline(0.5, stacks, hard_grace_s=0.5) as deadline:
        time.sleep(0.05)
    time.sleep(1.2)  # past both: neither the interrupt nor the hard exit comes
    assert not deadline.expired.is_set()
    assert list(tmp_path.iterdir()) == []


def test_other_errors_pass_through_and_a_deadline_must_be_positive(tmp_path):
    with pytest.raises(KeyError), Deadline(5.0, tmp_path / "s.txt", hard_grace_s=0):
        raise KeyError("x")
    with pytest.raises(ValueError, match="must be positive"):
        Deadline(0.0, tmp_path / "s.txt")


def test_a_main_thread_that_never_returns_to_python_ends_the_process(tmp_path):
    script = textwrap.dedent(f"""
        import threading
        from vtr_perception.deadline import Deadline
        lock = threading.Lock()

        def deadlocked():
            lock.acquire()
            lock.acquire()  # blocked in C: KeyboardInterrupt never gets its turn

        with Deadline(0.3, {str(tmp_path / "stacks.txt")!r}, hard_grace_s=0.7):
            deadlocked()
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1, proc.stderr
    assert "in deadlocked" in (tmp_path / "stacks.txt").read_text()
    assert "in deadlocked" in (tmp_path / "stacks.hard.txt").read_text()


def test_an_interrupt_swallowed_by_a_finalizer_is_sent_again(tmp_path):
    """KeyboardInterrupt raised while the main thread runs a __del__ is only reported (sys.unraisablehook), not
    raised: the first one is lost, and without another the run would go on until the hard exit, which leaves the
    demo's node processes running. The deadline sends it again until the block is left."""
    script = textwrap.dedent(f"""
        import sys, time
        from vtr_perception.deadline import Deadline, DeadlineExceeded
        swallowed = []
        sys.unraisablehook = lambda unraisable: swallowed.append(unraisable.exc_type.__name__)

        class Finalized:
            def __del__(self):
                if deadline.expired.is_set() and not swallowed:
                    time.sleep(5.0)  # the interrupt lands here, in the finalizer

        deadline = Deadline(0.3, {str(tmp_path / "stacks.txt")!r}, hard_grace_s=0)
        try:
            with deadline:
                while True:
                    Finalized()
        except DeadlineExceeded:
            print("deadline exceeded after", swallowed)
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    swallowed = proc.stdout.strip().removeprefix("deadline exceeded after ")
    assert swallowed.startswith("['KeyboardInterrupt'") and "deadline" not in swallowed, proc.stdout
