"""The demo, again and again, beside busy loops: does it ever hang, and how long does it take under load?

Each run is `vtr-perception demo` in a subprocess with its own --deadline (stacks of every thread on file when a run
outlives it). ``--busy-loops K`` starts K processes that spin on a core for the whole benchmark, as other jobs on a
user's or CI's machine would. A run counts as hung when the demo ends with its deadline error or has to be killed
after ``--kill-after`` seconds; its log directory (node logs, stack dumps) is kept under ``--keep``. Writes JSON:
per run the exit status, seconds, whether it hung, the criteria line, the steps that waited out the demo's
--timeout, the 1-minute load average at its start and end and, for failed runs, where the logs and stacks are. The
demo and its nodes run this checkout's package (PYTHONPATH). The JSON is rewritten after every run ("complete":
false until all are done); Ctrl-C (SIGINT to its process group) lets the running demo stop its nodes and writes the
runs so far.

    python benchmarks/demo_repeat.py --runs 30 --busy-loops 2 [--objects 3 --steps 5]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS_DIR, ROOT, run_metadata  # noqa: E402

from vtr_perception.io_utils import atomic_write_json  # noqa: E402

DEADLINE_MARK = "did not finish within"
# the conductor's lines for a step that waited out its --timeout (the run goes on; kept per run)
WAIT_MARKS = ("no next_best_view within", "was not used within", "did not reach the initial view")


def spin(stop: mp.Event) -> None:
    """A busy loop on one core until ``stop`` is set."""
    x = 0
    while not stop.is_set():
        for _ in range(100_000):
            x += 1


def one_run(args: argparse.Namespace, index: int, work: Path) -> dict:
    out = work / f"run_{index:03d}"
    cmd = [sys.executable, "-m", "vtr_perception.cli", "demo", "--objects", str(args.objects), "--steps",
           str(args.steps), "--seed", str(args.seed), "--out", str(out), "--deadline", str(args.deadline)]  # fmt: skip
    # this checkout's package, in the demo and in the node processes it starts (they inherit the environment)
    pythonpath = os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env = dict(os.environ, PYTHONUNBUFFERED="1", PYTHONPATH=pythonpath)
    load = os.getloadavg()[0]
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        stdout, stderr = proc.communicate(timeout=args.kill_after)
        code, killed = proc.returncode, False
    except subprocess.TimeoutExpired:
        proc.kill()
        stdout, stderr = proc.communicate()
        code, killed = None, True
    except KeyboardInterrupt:  # Ctrl-C reached the demo too: let it stop its nodes
        try:
            proc.communicate(timeout=30.0)
        except subprocess.TimeoutExpired:
            proc.kill()
        raise
    seconds = time.monotonic() - t0
    hung = killed or DEADLINE_MARK in stderr
    row = {
        "run": index,
        "exit_status": code,
        "seconds": round(seconds, 1),
        "hung": hung,
        "killed": killed,
        "load_avg_1min_start": round(load, 2),
        "load_avg_1min_end": round(os.getloadavg()[0], 2),
        "criteria": next((ln for ln in stdout.splitlines()[::-1] if "NBV at or above random" in ln), None),
        "error": stderr.strip().splitlines()[-1] if code not in (0, None) and stderr.strip() else None,
        "timed_out_waits": [ln.strip() for ln in stdout.splitlines() if any(m in ln for m in WAIT_MARKS)],
        # requests the demo's conductor sent again while unanswered (lost before DDS matched, or late)
        "resent": [ln.strip() for ln in stdout.splitlines() if ln.startswith("sent again when unanswered")],
        "warnings": [ln.strip() for ln in stdout.splitlines() if ln.startswith("warning:")],  # e.g. another graph
    }
    if hung or code != 0:
        kept = args.keep / f"run_{index:03d}"
        shutil.rmtree(kept, ignore_errors=True)
        if (out / "logs").is_dir():
            shutil.copytree(out / "logs", kept)
        else:
            kept.mkdir(parents=True, exist_ok=True)
        (kept / "stdout.txt").write_text(stdout)
        (kept / "stderr.txt").write_text(stderr)
        row["logs"] = str(kept)
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20, help="demo runs (default: 20)")
    parser.add_argument("--busy-loops", type=int, default=2, help="processes spinning on a core meanwhile")
    parser.add_argument("--objects", type=int, default=3, help="objects per demo (default: 3, as make demo)")
    parser.add_argument("--steps", type=int, default=5, help="steps per object (default: 5, as make demo)")
    parser.add_argument("--seed", type=int, default=0, help="the demo's scene seed")
    parser.add_argument("--deadline", type=float, default=600.0, help="the demo's --deadline per run (s)")
    parser.add_argument("--kill-after", type=float, default=900.0, help="kill a run still alive after this (s)")
    parser.add_argument("--keep", type=Path, default=ROOT / "out" / "demo_repeat", help="logs of failed runs")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR / "demo_repeat.json")
    args = parser.parse_args(argv)
    if args.runs < 1 or args.busy_loops < 0:
        parser.error("--runs must be >= 1 and --busy-loops >= 0")

    # Ctrl-C even when started in the background from a script (which starts it with SIGINT ignored): the demo
    # and the busy loops then inherit a working SIGINT too
    signal.signal(signal.SIGINT, signal.default_int_handler)
    stop = mp.Event()
    loops = [mp.Process(target=spin, args=(stop,), daemon=True) for _ in range(args.busy_loops)]
    for p in loops:
        p.start()
    rows: list[dict] = []
    interrupted = False
    try:
        with tempfile.TemporaryDirectory(prefix="demo_repeat_") as tmp:
            for i in tqdm(range(args.runs), desc="demo runs"):
                rows.append(one_run(args, i, Path(tmp)))
                tqdm.write(f"run {i}: status {rows[-1]['exit_status']} in {rows[-1]['seconds']} s"
                           + (" HUNG" if rows[-1]["hung"] else ""))  # fmt: skip
                atomic_write_json(args.out, summary(rows, args, complete=False))  # what is done so far
    except KeyboardInterrupt:
        interrupted = True
    finally:
        stop.set()
        for p in loops:
            p.join(timeout=5)
    if not rows:
        print("demo_repeat: interrupted before the first run ended; nothing written", file=sys.stderr)
        return 130
    payload = summary(rows, args, complete=not interrupted)
    atomic_write_json(args.out, payload)
    print(f"{payload['hangs']} hangs and {payload['failures']} failures in {len(rows)} runs "
          f"(p50 {payload['seconds_p50']} s, max {payload['seconds_max']} s) -> {args.out}")  # fmt: skip
    if interrupted:
        return 130
    return 0 if payload["failures"] == 0 else 1


def summary(rows: list[dict], args: argparse.Namespace, *, complete: bool) -> dict:
    """The result JSON over the runs so far (``complete``: all of --runs were made)."""
    seconds = sorted(r["seconds"] for r in rows if r["exit_status"] == 0)
    return {
        "runs": len(rows),
        "runs_planned": args.runs,
        "complete": complete,
        "hangs": sum(r["hung"] for r in rows),
        "failures": sum(r["exit_status"] != 0 for r in rows),
        "timed_out_waits": sum(len(r["timed_out_waits"]) for r in rows),
        "runs_with_resent_requests": sum(bool(r["resent"]) for r in rows),
        "seconds_p50": seconds[len(seconds) // 2] if seconds else None,
        "seconds_max": seconds[-1] if seconds else None,
        "busy_loops": args.busy_loops,
        "load_avg_1min_mean": round(sum(r["load_avg_1min_end"] for r in rows) / len(rows), 2),
        "load_avg_1min_max": max(r["load_avg_1min_end"] for r in rows),
        "demo": {"objects": args.objects, "steps": args.steps, "seed": args.seed, "deadline_s": args.deadline},
        "per_run": rows,
        **run_metadata(),
    }


if __name__ == "__main__":
    raise SystemExit(main())
