"""VTR table: IoU at 0.4 and F-score on held-out test objects, 3 input views, per view set.

Rows: base (aligned training), random+diffusion, error+diffusion, error+render, each a
checkpoint under models/ made by `vtr-perception train-vtr` with the same synthesizer image
count. A checkpoint that does not exist yet is listed under "pending" with the command that
makes it, never silently skipped. Writes benchmarks/results/vtr_table.json (+ .md).

    python benchmarks/vtr_table.py [--data-cache .cache/data/pybullet64] [--limit 80]
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
}
VIEW_SETS = ("aligned", "hemisphere", "sphere")


def evaluate(checkpoint: str, data_cache: str, view_set: str, *, num_views: int, limit: int | None) -> dict:
    from vtr_perception.data.dataset import ViewDataset
    from vtr_perception.geometry.metrics import grid_metrics_batch
    from vtr_perception.models.checkpoint import load_checkpoint

    model, _, _ = load_checkpoint(checkpoint)  # same views (seed 0) and metrics as `vtr-perception eval`
    data = ViewDataset(data_cache, split="test", view_set=view_set, num_views=num_views, fixed=True, seed=0)
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
    return {"iou": float(np.mean(ious)), "fscore": float(np.mean(fscores)), "objects": n}


def markdown(rows: list[dict], pending: list[dict]) -> str:
    lines = ["| method | view set | views | IoU@0.4 | F-score |", "|---|---|---|---|---|"]
    lines += [f"| {r['method']} | {r['view_set']} | {r['num_views']} | {r['iou']:.3f} | {r['fscore']:.3f} |"
              for r in rows]
    if pending:
        lines += ["", "Pending (checkpoint not built yet):", ""]
        lines += [f"- {p['method']}: `{p['command']}`" for p in pending]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-cache", default=".cache/data/pybullet64")
    parser.add_argument("--num-views", type=int, default=3)
    parser.add_argument("--limit", type=int, default=None, help="at most this many test objects")
    parser.add_argument("--out", default=str(RESULTS_DIR / "vtr_table.json"))
    args = parser.parse_args(argv)
    rows, pending = [], []
    for method, (checkpoint, how) in METHODS.items():
        if not Path(checkpoint).is_file():
            command = how if method == "base" else (
                f"vtr-perception train-vtr --base models/reconstructor.pt {how} --out {checkpoint}")
            pending.append({"method": method, "checkpoint": checkpoint, "command": command})
            continue
        for view_set in VIEW_SETS:
            r = evaluate(checkpoint, args.data_cache, view_set, num_views=args.num_views, limit=args.limit)
            rows.append({"method": method, "checkpoint": checkpoint, "view_set": view_set,
                         "num_views": args.num_views, **r})
    out = write_result("vtr_table", {"rows": rows, "pending": pending, "data_cache": args.data_cache}, path=args.out)
    atomic_write_text(Path(out).with_suffix(".md"), markdown(rows, pending))
    print(markdown(rows, pending))
    return 0


if __name__ == "__main__":
    sys.exit(main())
