"""What limits the fused reconstruction: the table-top loop with the layers scored apart, per view.

Runs ``benchmarks/tabletop.py``'s loop (one planner) and, after each view of each object, scores in the
published grid's cube (IoU at 0.4 against the truth voxelised there):

- ``fused``: the published posterior; ``network``: the network's occupancy alone;
- ``evidence_unknown_empty`` / ``evidence_unknown_full``: the evidence alone, unmeasured voxels empty / full;
- ``oracle_unknown``: measured voxels as the evidence says, unmeasured ones from the truth (the cap the
  measurement's errors leave); ``oracle_measured``: measured voxels from the truth, unmeasured ones as
  published (the cap the prior's errors leave);
- the errors of the published grid by measured state, as shares of the union (false positives and
  false negatives among unknown, free and occupied voxels);
- the cube against the truth's bounding box: centre error and side error in voxels, and the IoU of the
  truth voxelised in the estimated cube against the truth in the true cube resampled into it.

    python benchmarks/fusion_ablation.py --split val --scenes 4 --steps 5 [--set-perception FIELD=VALUE ...]
        [--depth-noise none] [--planner nbv|random] [--out benchmarks/results/fusion_ablation_val.json]
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

import numpy as np
from scipy import ndimage
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS_DIR, run_metadata  # noqa: E402
from tabletop import add_scene_arguments, perception_config, planner_config  # noqa: E402

from vtr_perception.io_utils import atomic_write_json  # noqa: E402
from vtr_perception.perception.evidence import EvidenceFrame, EvidenceGrid  # noqa: E402
from vtr_perception.perception.fusion import FREE, OCCUPIED, UNKNOWN, below_support, fuse  # noqa: E402
from vtr_perception.perception.reference_frame import Cube, resample_cube  # noqa: E402
from vtr_perception.sim.camera import SimCameraConfig  # noqa: E402
from vtr_perception.sim.depth_noise import PROFILES  # noqa: E402
from vtr_perception.sim.loop import run_scene  # noqa: E402
from vtr_perception.sim.scenes import make_tabletop_scene  # noqa: E402
from vtr_perception.sim.truth import truth_in_cube  # noqa: E402


def _iou(pred: np.ndarray, truth: np.ndarray) -> float:
    union = int((pred | truth).sum())
    return 1.0 if union == 0 else float((pred & truth).sum()) / union


BEST2 = {"evidence_occupied_offset_m": 0.0015, "evidence_guard_px": 0, "evidence_miss_logodds": -0.85}
VARIANTS: dict[str, dict] = {
    "shipped": {},
    "offset1.5mm_guard0_miss-0.85": BEST2,
    "offset1.5mm_guard0_miss-0.85_margin1.5mm": {**BEST2, "evidence_margin_m": 0.0015},
    "offset1.5mm_guard0_miss-1.2": {**BEST2, "evidence_miss_logodds": -1.2},
    "offset1.5mm_guard0_miss-0.85_hit0.6": {**BEST2, "evidence_hit_logodds": 0.6},
    "offset1mm_guard0_miss-0.85": {**BEST2, "evidence_occupied_offset_m": 0.001},
    "offset2mm_guard0_miss-0.85_margin2mm": {**BEST2, "evidence_occupied_offset_m": 0.002, "evidence_margin_m": 0.002},
    "offset1.5mm_guard0_miss-0.85_weight0.5": {**BEST2, "measured_network_weight": 0.5},
}


def _regrid(frame: EvidenceFrame, config) -> EvidenceFrame:
    """``frame`` with its guard recomputed for ``config.evidence_guard_px``."""
    if frame.depth is None:
        return frame
    r = int(config.evidence_guard_px)
    d = np.where(np.isnan(frame.depth), np.float32(np.inf), frame.depth)
    guard = ndimage.minimum_filter(d, size=2 * r + 1, mode="nearest").astype(np.float32)
    return dataclasses.replace(frame, guard=guard)


def variant_ious(track, cube: Cube, truth: np.ndarray, config, floor_z: float) -> dict[str, float]:
    """IoU of the posterior re-integrated from the track's kept frames under each of ``VARIANTS``."""
    net = track.network
    occ = np.asarray(net.outputs["occupancy"])[0].astype(np.float32)
    err = np.asarray(net.outputs["error"])[0].astype(np.float32)
    res = occ.shape[0]
    out = {}
    frames = [] if track.evidence is None else list(track.evidence.frames)
    for name, overrides in VARIANTS.items():
        fine = int(overrides.get("resolution", res))
        cfg = dataclasses.replace(config, **{k: v for k, v in overrides.items() if k != "resolution"})
        grid = EvidenceGrid(cfg, fine)
        grid.follow(net.cube.center, net.cube.side)
        kept = frames if cfg.evidence_guard_px == config.evidence_guard_px else [_regrid(f, cfg) for f in frames]
        for frame in kept:
            grid._apply(frame, grid._world_centers())
        ev = grid.logodds
        if fine != res:
            ev = ev.reshape(res, fine // res, res, fine // res, res, fine // res).mean(axis=(1, 3, 5))
        free = below_support(net.cube.center, net.cube.side, res, floor_z)
        post = fuse(occ, err, ev, cfg, free_mask=free)
        out[f"variant_{name}"] = _iou(post.occupancy >= cfg.occupancy_threshold, truth)
    return out


def layer_scores(loop, obj, grid) -> dict[str, float] | None:
    """The scores of the module docstring for ``obj`` now (None without a reconstruction)."""
    track = loop.track(obj)
    if grid is None or track is None or track.network is None:
        return None
    res = grid.occupancy.shape[0]
    cube = Cube(np.asarray(grid.center, dtype=np.float64), float(grid.extent), np.eye(3))
    truth = truth_in_cube(obj, cube.center, cube.side, res)
    fused = grid.occupancy >= 0.4
    net_cube = track.network.cube
    network = resample_cube(np.asarray(track.network.outputs["occupancy"])[0], net_cube, cube) >= 0.4
    ev = np.zeros_like(grid.occupancy)
    if track.evidence is not None and len(track.evidence):
        e = track.evidence
        ev = resample_cube(e.logodds, Cube(e.center, e.side, np.eye(3)), cube)
    known = loop.pipeline.config.evidence_known_logodds
    state = np.asarray(grid.state)
    measured = state != UNKNOWN
    ev_occ = state == OCCUPIED
    lo, hi = obj.mesh.vertices.min(axis=0), obj.mesh.vertices.max(axis=0)
    true_cube = Cube(0.5 * (lo + hi), float((hi - lo).max()), np.eye(3))
    truth_true = truth_in_cube(obj, true_cube.center, true_cube.side, res).astype(np.float32)
    union = max(int((fused | truth).sum()), 1)
    out = {
        "fused": _iou(fused, truth),
        "network": _iou(network, truth),
        "evidence_unknown_empty": _iou(ev >= known, truth),
        "evidence_unknown_full": _iou(ev > -known, truth),
        "oracle_unknown": _iou(np.where(measured, ev_occ, truth), truth),
        "oracle_measured": _iou(np.where(measured, truth, fused), truth),
        "measured_share": float(measured.mean()),
        "center_error_voxels": float(np.abs(cube.center - true_cube.center).max() / (true_cube.side / res)),
        "side_error_voxels": float((cube.side - true_cube.side) / (true_cube.side / res)),
        "truth_alignment_iou": _iou(resample_cube(truth_true, true_cube, cube) >= 0.5, truth),
    }
    out["frames"] = 0 if track.evidence is None else len(track.evidence)
    out.update(variant_ious(track, cube, truth, loop.pipeline.config, track.floor_z))
    for name, s in (("unknown", UNKNOWN), ("free", FREE), ("occupied", OCCUPIED)):
        out[f"fp_{name}"] = float((fused & ~truth & (state == s)).sum()) / union
        out[f"fn_{name}"] = float((~fused & truth & (state == s)).sum()) / union
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_scene_arguments(parser)
    parser.add_argument("--planner", default="nbv", choices=("nbv", "random"))
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE", help="PlannerConfig override")
    parser.add_argument("--set-perception", action="append", default=[], metavar="FIELD=VALUE",
                        help="PerceptionConfig override")  # fmt: skip
    parser.add_argument("--depth-noise", default=SimCameraConfig().depth_noise, choices=list(PROFILES))
    parser.add_argument("--label", default="", help="name of this run in the output JSON (default: the overrides)")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR / "fusion_ablation_val.json")
    args = parser.parse_args(argv)

    from vtr_perception.infer import load_backend

    backend = load_backend("onnxruntime")
    perception = perception_config(args.set_perception)
    camera = SimCameraConfig(depth_noise=args.depth_noise)
    rows: list[list] = []
    start = time.perf_counter()
    seeds = range(args.first_seed, args.first_seed + args.scenes)
    for seed in tqdm(seeds, desc="scenes"):
        scene = make_tabletop_scene(args.source, num_objects=args.objects, split=args.split, seed=seed)
        rows += run_scene(scene, backend, planner_config(args.set), args.planner, seed=seed, steps=args.steps,
                          perception=perception, camera=camera, score=layer_scores)  # fmt: skip
    keys = next(s for row in rows for s in row if s is not None).keys()
    per_step = {k: [round(float(np.mean([row[i][k] if row[i] else 0.0 for row in rows])), 4)
                    for i in range(args.steps)] for k in keys}  # fmt: skip
    label = args.label or ",".join(args.set_perception + args.set) or "shipped"
    run = {
        "label": label,
        "source": args.source,
        "split": args.split,
        "depth_noise": args.depth_noise,
        "planner": args.planner,
        "objects": len(rows),
        "perception_overrides": args.set_perception,
        "planner_overrides": args.set,
        "per_step": per_step,
        "wall_s": round(time.perf_counter() - start, 1),
        **run_metadata(),
    }
    print(f"{label} [{args.source}, {args.depth_noise}]")
    for k, v in per_step.items():
        print(f"  {k:>24}: {' '.join(f'{x:.3f}' for x in v)}")
    atomic_write_json(args.out, run)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
