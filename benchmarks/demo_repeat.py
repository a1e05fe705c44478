"""The demo, again and again, beside busy loops: does it ever hang, and how long does it take under load?

Each run is `vtr-perception demo` in a subprocess with its own --deadline (stacks of every thread on file
when a run outlives it). ``--busy-loops K`` starts K processes that spin on a core for the whole
benchmark, as other jobs on a user's or CI's machine would. A run counts as hung when the demo ends with
its deadline error or has to be killed after ``--kill-after`` seconds; its log directory (node logs,
stack dumps) is kept under ``--keep``. Writes JSON: per run the exit status, seconds, whether it hung,
the criteria line and, for hung runs, where the stacks are.

    python benchmarks/demo_repeat.py --runs 30 --busy-loops 2 [--objects 3 --steps 5]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import shutil
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
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    t0 = time.monotonic()
    try:
        proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=args.kill_after)
        code, stdout, stderr, killed = proc.returncode, proc.stdout, proc.stderr, False
    except subprocess.TimeoutExpired as exc:
        code, killed = None, True
        stdout = exc.stdout.decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        stderr = exc.stderr.decode() if isinstance(exc.stderr, bytes) else (exc.stderr or "")
    seconds = time.monotonic() - t0
    hung = killed or DEADLINE_MARK in stderr
    row = {
        "run": index,
        "exit_status": code,
        "seconds": round(seconds, 1),
        "hung": hung,
        "killed": killed,
        "criteria": next((ln for ln in stdout.splitlines()[::-1] if "NBV at or above random" in ln), None),
        "error": stderr.strip().splitlines()[-1] if code not in (0, None) and stderr.strip() else None,
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

    stop = mp.Event()
    loops = [mp.Process(target=spin, args=(stop,), daemon=True) for _ in range(args.busy_loops)]
    for p in loops:
        p.start()
    rows = []
    try:
        with tempfile.TemporaryDirectory(prefix="demo_repeat_") as tmp:
            for i in tqdm(range(args.runs), desc="demo runs"):
                rows.append(one_run(args, i, Path(tmp)))
                tqdm.write(f"run {i}: status {rows[-1]['exit_status']} in {rows[-1]['seconds']} s"
                           + (" HUNG" if rows[-1]["hung"] else ""))  # fmt: skip
    finally:
        stop.set()
        for p in loops:
            p.join(timeout=5)
    seconds = sorted(r["seconds"] for r in rows if r["exit_status"] == 0)
    payload = {
        "runs": len(rows),
        "hangs": sum(r["hung"] for r in rows),
        "failures": sum(r["exit_status"] != 0 for r in rows),
        "seconds_p50": seconds[len(seconds) // 2] if seconds else None,
        "seconds_max": seconds[-1] if seconds else None,
        "busy_loops": args.busy_loops,
        "demo": {"objects": args.objects, "steps": args.steps, "seed": args.seed, "deadline_s": args.deadline},
        "per_run": rows,
        **run_metadata(),
    }
    atomic_write_json(args.out, payload)
    print(f"{payload['hangs']} hangs and {payload['failures']} failures in {len(rows)} runs "
          f"(p50 {payload['seconds_p50']} s, max {payload['seconds_max']} s) -> {args.out}")  # fmt: skip
    return 0 if payload["failures"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
