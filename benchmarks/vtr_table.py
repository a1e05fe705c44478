"""VTR table: IoU at 0.4 and F-score on held-out test objects, 3 input views, per view set.

Rows: base (aligned training), random+diffusion, error+diffusion, error+render, random+render
and none (the same fine-tuning without synthesized batches), each a checkpoint under models/ made
by `vtr-perception train-vtr` with the same synthesizer image count. A checkpoint that does not
exist yet is listed under "pending" with the command that makes it, never silently skipped.
Paired per-object differences (error vs random with the same synthesizer, each method vs base)
come with their standard errors. Writes benchmarks/results/vtr_table.json (+ .md). Choose
settings with ``--split val``; report ``--split test``.

    python benchmarks/vtr_table.py [--data-cache .cache/data/pybullet64] [--limit 80] [--split val]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import RESULTS_DIR, write_result  # noqa: E402
from vtr_perception.io_utils import atomic_write_text  # noqa: E402

METHODS: dict[str, tuple[str, str]] = {
    "base": ("models/reconstructor.pt", "vtr-perception train (aligned views)"),
    "random+diffusion": ("models/vtr_random_diffusion.pt", "--selection random --synth diffusion"),
    "error+diffusion": ("models/vtr_error_diffusion.pt", "--selection error --synth diffusion"),
    "error+render": ("models/vtr_error_render.pt", "--selection error --synth render"),
    # same synthesizer and image count as error+render: isolates the effect of the selection
    "random+render": ("models/vtr_random_render.pt", "--selection random --synth render"),
    # the same fine-tuning steps on aligned batches only: what fine-tuning alone changes
    "none": ("models/vtr_none.pt", "--selection none --synth render"),
}
VIEW_SETS = ("aligned", "hemisphere", "sphere")


def evaluate(
    checkpoint: str, data_cache: str, view_set: str, *, num_views: int, limit: int | None, split: str = "test"
) -> dict:
    from vtr_perception.data.dataset import ViewDataset
    from vtr_perception.geometry.metrics import grid_metrics_batch
    from vtr_perception.models.checkpoint import load_checkpoint

    model, _, _ = load_checkpoint(checkpoint)  # same views (seed 0) and metrics as `vtr-perception eval`
    data = ViewDataset(data_cache, split=split, view_set=view_set, num_views=num_views, fixed=True, seed=0)
    n = len(data) if limit is None else min(limit, len(data))
    ious, fscores = [], []
    with torch.no_grad():
        for s in tqdm(range(0, n, 16), desc=f"{Path(checkpoint).name} {view_set}", leave=False):
            items = [data[i] for i in range(s, min(s + 16, n))]
            images = torch.stack([it["images"] for it in items])
            rotations = torch.stack([it["rotations"] for it in items])
            occ = model(images, rotations if model.pose_aware else None)["occupancy"]
            gt = torch.stack([it["voxels"] for it in items]).numpy() > 0.5
            m = grid_metrics_batch(occ.numpy(), gt, n_points=2000)  # as `vtr-perception eval`
            ious.extend(m["iou"].tolist())
            fscores.extend(m["fscore"].tolist())
    return {"iou": float(np.mean(ious)), "fscore": float(np.mean(fscores)), "objects": n, "per_object_iou": ious}


def paired_differences(rows: list[dict]) -> list[dict]:
    """Mean per-object IoU difference, with its standard error, for error vs random selection with
    the same synthesizer and for every method vs base, per view set (the same objects and views)."""
    by = {(r["method"], r["view_set"]): np.asarray(r["per_object_iou"]) for r in rows}
    methods = {m for m, _ in by}
    pairs = [
        (m, "random+" + m.removeprefix("error+"))
        for m in sorted(methods)
        if m.startswith("error+") and "random+" + m.removeprefix("error+") in methods
    ]
    pairs += [(m, "base") for m in sorted(methods - {"base"})]
    out = []
    for a, b in pairs:
        for view_set in VIEW_SETS:
            if (a, view_set) in by and (b, view_set) in by:
                d = by[(a, view_set)] - by[(b, view_set)]
                se = float(d.std(ddof=1) / np.sqrt(len(d))) if len(d) > 1 else float("nan")
                out.append({"a": a, "b": b, "view_set": view_set, "mean": float(d.mean()), "stderr": se,
                            "objects": len(d)})  # fmt: skip
    return out


def markdown(rows: list[dict], pending: list[dict], paired: list[dict] = ()) -> str:
    lines = ["| method | view set | views | IoU@0.4 | F-score |", "|---|---|---|---|---|"]
    lines += [
        f"| {r['method']} | {r['view_set']} | {r['num_views']} | {r['iou']:.3f} | {r['fscore']:.3f} |" for r in rows
    ]
    if paired:
        lines += [
            "",
            "Paired per-object IoU differences (mean +- standard error):",
            "",
            "| a - b | view set | difference |",
            "|---|---|---|",
        ]
        lines += [f"| {p['a']} - {p['b']} | {p['view_set']} | {p['mean']:+.3f} +- {p['stderr']:.3f} |" for p in paired]
    if pending:
        lines += ["", "Pending (checkpoint not built yet):", ""]
        lines += [f"- {p['method']}: `{p['command']}`" for p in pending]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-cache", default=".cache/data/pybullet64")
    parser.add_argument("--num-views", type=int, default=3)
    parser.add_argument("--limit", type=int, default=None, help="at most this many test objects")
    parser.add_argument(
        "--split",
        default="test",
        choices=("test", "val"),
        help="held-out objects to score on; choose settings on val, report on test",
    )
    parser.add_argument(
        "--checkpoint",
        action="append",
        default=[],
        metavar="NAME=PATH",
        help="score these checkpoints instead of the shipped table (repeatable)",
    )
    parser.add_argument("--out", default=str(RESULTS_DIR / "vtr_table.json"))
    args = parser.parse_args(argv)
    methods = METHODS
    if args.checkpoint:
        if any("=" not in c for c in args.checkpoint):
            parser.error("--checkpoint takes NAME=PATH")
        missing = [c for c in args.checkpoint if not Path(c.split("=", 1)[1]).is_file()]
        if missing:
            parser.error(f"no such checkpoint: {missing[0]}")
        methods = {name: (path, "given with --checkpoint") for name, path in (c.split("=", 1) for c in args.checkpoint)}
    rows, pending = [], []
    for method, (checkpoint, how) in methods.items():
        if not Path(checkpoint).is_file():
            command = (
                how
                if method == "base"
                else (
                    f"vtr-perception train-vtr --base models/reconstructor.pt --caches {args.data_cache} {how} "
                    f"--out {checkpoint}"
                )
            )
            pending.append({"method": method, "checkpoint": checkpoint, "command": command})
            continue
        for view_set in VIEW_SETS:
            r = evaluate(
                checkpoint, args.data_cache, view_set, num_views=args.num_views, limit=args.limit, split=args.split
            )
            rows.append(
                {"method": method, "checkpoint": checkpoint, "view_set": view_set, "num_views": args.num_views, **r}
            )
    paired = paired_differences(rows)
    result = {"rows": rows, "paired": paired, "pending": pending, "data_cache": args.data_cache, "split": args.split}
    out = write_result("vtr_table", result, path=args.out)
    atomic_write_text(Path(out).with_suffix(".md"), markdown(rows, pending, paired))
    print(markdown(rows, pending, paired))
    return 0


if __name__ == "__main__":
    sys.exit(main())
