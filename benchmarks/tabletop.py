"""The demo's closed loop without DDS, over many table-top scenes: does NBV beat random views there?

`make demo` runs one scene (3 objects) through the ROS 2 nodes; one scene is too few to tell
a planner setting from luck. This benchmark runs the same loop in one process (sim/loop.py: the
simulated camera, PerceptionPipeline with the reconstruction node's shipped parameters,
NextBestViewPlanner with nbv_node's and ``stop_gain`` 0 as in the demo, nbv_node's views-taken
rule and the demo's initial and random views) over many scenes. Per object, after
a reset of the pipeline as in the demo (none with ``--keep-tracks``): an initial view, then
``--steps`` - 1 views chosen by the planner or at random; IoU against the true object after
each, in the reconstruction's grid, as the demo measures it.

Each step also scores F-score at 1% and Chamfer-L1 (geometry/metrics.py grid_metrics) and the surface
coverage: the share of true surface points within 1% of the cube side of a depth point the track fused.
Planners: ``nbv`` (config/nbv.yaml with ``--set``), ``nbv_today`` (the same with ``estimator`` error_head,
the planner before information gain), ``random``. ``--fusion off`` publishes the network alone;
``--depth-noise`` picks the simulated sensor (sim/depth_noise.py). Every JSON records both.

Choose settings on ``--split val`` scenes; report ``--split test``. Writes JSON and a PNG.

    python benchmarks/tabletop.py --split val --scenes 8 [--set candidates=fibonacci ...]
        [--set-perception merge_fragments=false ...] [--fusion on|off] [--depth-noise realsense_d435]
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS_DIR, run_metadata  # noqa: E402
from scipy.spatial import cKDTree  # noqa: E402

from vtr_perception.geometry.meshing import sample_surface  # noqa: E402
from vtr_perception.geometry.metrics import CHAMFER_EMPTY, grid_metrics  # noqa: E402
from vtr_perception.io_utils import atomic_write, atomic_write_json  # noqa: E402
from vtr_perception.nbv.config import PlannerConfig  # noqa: E402
from vtr_perception.perception.config import PerceptionConfig  # noqa: E402
from vtr_perception.sim.camera import SimCameraConfig  # noqa: E402
from vtr_perception.sim.depth_noise import PROFILES  # noqa: E402
from vtr_perception.sim.loop import demo_planner_config, run_scene, shipped_perception_config  # noqa: E402
from vtr_perception.sim.scenes import make_tabletop_scene  # noqa: E402
from vtr_perception.sim.truth import true_grid  # noqa: E402

METRICS = ("iou", "fscore", "chamfer", "coverage")
_SURFACES: dict[int, np.ndarray] = {}


def loop_metrics(loop, obj, grid) -> dict[str, float]:
    """IoU at 0.4, F-score at 1%, Chamfer-L1 (cube units) and surface coverage of ``obj``'s reconstruction now."""
    if grid is None:
        return {"iou": 0.0, "fscore": 0.0, "chamfer": CHAMFER_EMPTY, "coverage": 0.0}
    m = grid_metrics(grid.occupancy, true_grid(obj, grid), threshold=0.4, n_points=2000)
    key = id(obj)
    if key not in _SURFACES:
        _SURFACES[key] = sample_surface(obj.mesh, 2000, seed=0)
    track = loop.track(obj)
    points = np.zeros((0, 3)) if track is None else np.asarray(track.points)
    coverage = 0.0
    if len(points):
        coverage = float(np.mean(cKDTree(points).query(_SURFACES[key])[0] <= 0.01 * grid.extent))
    return {"iou": m["iou"], "fscore": m["fscore"], "chamfer": m["chamfer"], "coverage": coverage}


def _override(params: dict, defaults: object, overrides: list[str], flag: str) -> dict:
    for item in overrides:
        key, _, value = item.partition("=")
        if not hasattr(defaults, key):
            raise ValueError(f"{flag} {item}: {type(defaults).__name__} has no field {key!r}")
        kind = type(getattr(defaults, key))
        if kind is tuple:
            params[key] = tuple(float(v) for v in value.split(","))
        elif kind is bool:
            params[key] = value.lower() in ("1", "true", "yes")
        else:
            params[key] = kind(value)
    return params


def planner_config(overrides: list[str]) -> PlannerConfig:
    """The demo's planner (config/nbv.yaml, ``stop_gain`` 0) with FIELD=VALUE overrides."""
    return demo_planner_config(**_override({}, PlannerConfig(), overrides, "--set"))


def perception_config(overrides: list[str]) -> PerceptionConfig:
    """config/reconstruction.yaml's perception parameters with FIELD=VALUE overrides."""
    return shipped_perception_config(**_override({}, PerceptionConfig(), overrides, "--set-perception"))


def summarise(rows: dict[str, list[list]], objects_per_scene: int = 1) -> dict:
    """Per planner and step; ``nbv_vs_random`` (``nbv``, else ``nbv_today``, against ``random``) per object and
    per scene (``objects_per_scene`` consecutive rows), since the demo's criteria are judged on one scene. Rows
    hold IoUs or ``loop_metrics`` dicts."""
    out: dict = {"planners": {}}
    extra = {}
    for name, r in rows.items():
        if r and r[0] and isinstance(r[0][0], dict):
            extra[name] = {k: np.asarray([[step[k] for step in row] for row in r]) for k in METRICS}
            rows = {**rows, name: [[step["iou"] for step in row] for row in r]}
    for name, r in rows.items():
        iou = np.asarray(r)
        out["planners"][name] = {
            "iou_per_step": [round(float(v), 4) for v in iou.mean(axis=0)],
            "iou_std_per_step": [round(float(v), 4) for v in iou.std(axis=0)],
            "share_last_above_first": round(float(np.mean(iou[:, -1] > iou[:, 0])), 3),
            "per_object": [[round(float(v), 4) for v in row] for row in iou],
        }
        for key, values in extra.get(name, {}).items():
            if key != "iou":
                out["planners"][name][f"{key}_per_step"] = [round(float(v), 4) for v in values.mean(axis=0)]
    nbv_name = "nbv" if "nbv" in rows else "nbv_today"  # the configured planner, else the shipped error head
    if {nbv_name, "random"} <= rows.keys():
        nbv, rnd = np.asarray(rows[nbv_name]), np.asarray(rows["random"])
        if nbv_name == "nbv" and "nbv_today" in rows:
            today = np.asarray(rows["nbv_today"])
            out["nbv_today_vs_random_mean_difference_per_step"] = [round(float(v), 4) for v in (today - rnd).mean(0)]
        out["nbv_vs_random"] = {
            "planner": nbv_name,
            "share_last_at_or_above_random": round(float(np.mean(nbv[:, -1] >= rnd[:, -1])), 3),
            "share_both_demo_criteria": round(float(np.mean((nbv[:, -1] > nbv[:, 0]) & (nbv[:, -1] >= rnd[:, -1]))), 3),
            "mean_difference_per_step": [round(float(v), 4) for v in (nbv - rnd).mean(axis=0)],
        }
        if objects_per_scene > 1 and len(nbv) % objects_per_scene == 0:
            last_n, last_r = (a[:, -1].reshape(-1, objects_per_scene) for a in (nbv, rnd))
            every_up = (nbv[:, -1] > nbv[:, 0]).reshape(-1, objects_per_scene).all(axis=1)
            every_above = (last_n >= last_r).all(axis=1)
            mean_above = last_n.mean(axis=1) >= last_r.mean(axis=1)
            out["nbv_vs_random"]["scenes"] = {
                "share_last_above_first_for_every_object": round(float(every_up.mean()), 3),
                "share_nbv_at_or_above_random_for_every_object": round(float(every_above.mean()), 3),
                "share_nbv_mean_at_or_above_random_mean": round(float(mean_above.mean()), 3),
                "share_demo_criteria_per_object": round(float((every_up & every_above).mean()), 3),
                "share_demo_criteria_scene_mean": round(float((every_up & mean_above).mean()), 3),
            }
    return out


def plot(summary: dict, path: Path, *, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for name, p in summary["planners"].items():
        per_object = np.asarray(p["per_object"])
        x = np.arange(1, per_object.shape[1] + 1)
        line = ax.plot(x, per_object.mean(axis=0), marker="o", label=name, linewidth=2)[0]
        for row in per_object:
            ax.plot(x, row, color=line.get_color(), alpha=0.12, linewidth=0.8)
    ax.set_xticks(x)
    ax.set_xlabel("views of the object (1 = initial view)")
    ax.set_ylabel("IoU at 0.4")
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=120, format="png"))
    plt.close(fig)


def add_scene_arguments(parser: argparse.ArgumentParser) -> None:
    """The scenes and steps of the loop (shared with benchmarks/view_oracle.py)."""
    parser.add_argument("--split", default="val", help="object split the scenes draw from (default: val)")
    parser.add_argument("--scenes", type=int, default=8, help="scenes (seeds first-seed..first-seed+N-1)")
    parser.add_argument("--first-seed", type=int, default=1, help="first scene seed (the demo's scene is seed 0)")
    parser.add_argument("--objects", type=int, default=3, help="objects per scene (default: 3, as the demo)")
    parser.add_argument("--steps", type=int, default=5, help="views per object (default: 5, as the demo)")
    parser.add_argument("--source", default="pybullet", help="mesh source (default: pybullet, as the demo)")
    parser.add_argument("--fusion", choices=("on", "off"), default="on",
                        help="fuse measured depth with the network (PerceptionConfig.evidence_fusion)")  # fmt: skip
    parser.add_argument("--depth-noise", default=SimCameraConfig().depth_noise, choices=list(PROFILES),
                        help="simulated depth sensor (default: SimCameraConfig's)")  # fmt: skip


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_scene_arguments(parser)
    parser.add_argument("--backend", default="onnxruntime", help="inference backend (default: onnxruntime)")
    parser.add_argument(
        "--checkpoint",
        type=Path,
        default=None,
        help="reconstructor checkpoint to use instead of the shipped model (runs on torch)",
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="override a PlannerConfig field of config/nbv.yaml (repeatable)",
    )
    parser.add_argument("--set-perception", action="append", default=[], metavar="FIELD=VALUE",
                        help="override a PerceptionConfig field of config/reconstruction.yaml")  # fmt: skip
    parser.add_argument(
        "--keep-tracks",
        action="store_true",
        help="no reset before each object (as `vtr-perception demo --keep-tracks`)",
    )
    parser.add_argument("--planners", default="nbv,nbv_today,random",
                        help="comma-separated: nbv (configured), nbv_today (estimator error_head), random")  # fmt: skip
    parser.add_argument("--out", type=Path, default=RESULTS_DIR / "tabletop.json")
    return parser


def print_summary(summary: dict) -> None:
    """The per-planner lines and the demo criteria."""
    for name, p in summary["planners"].items():
        print(f"{name:>7}: IoU {' '.join(f'{v:.3f}' for v in p['iou_per_step'])}  "
              f"last > first for {p['share_last_above_first']:.0%} of objects")  # fmt: skip
    if "nbv_vs_random" in summary:
        c = summary["nbv_vs_random"]
        print(f"nbv last >= random last for {c['share_last_at_or_above_random']:.0%} of objects; both demo criteria "
              f"for {c['share_both_demo_criteria']:.0%}")  # fmt: skip
        if "scenes" in c:
            sc = c["scenes"]
            print(f"scenes where every object ends above its first view and at or above random: "
                  f"{sc['share_demo_criteria_per_object']:.0%}; with NBV's mean at or above random's instead: "
                  f"{sc['share_demo_criteria_scene_mean']:.0%}")  # fmt: skip


def _payload(args, rows: dict[str, list[list]], planners: list[str], config: PlannerConfig, backend, seeds,
             start: float) -> dict:  # fmt: skip
    """The result JSON of the scenes ``seeds`` run so far."""
    return {
        **summarise(rows, objects_per_scene=args.objects),
        "fusion": args.fusion == "on",
        "depth_noise": args.depth_noise,
        "wall_s": round(time.perf_counter() - start, 1),
        "objects": len(rows[planners[0]]),
        "scenes": {"split": args.split, "source": args.source, "seeds": list(seeds), "objects_per_scene": args.objects},
        "scenes_done": len(seeds),
        "scenes_asked": args.scenes,
        "steps": args.steps,
        "reset_per_object": not args.keep_tracks,
        "planner_overrides": args.set,
        "perception_overrides": args.set_perception,
        "checkpoint": None if args.checkpoint is None else str(args.checkpoint),
        "planner_config": {k: list(v) if isinstance(v, tuple) else v for k, v in vars(config).items()},
        "backend": backend.name,
        **run_metadata(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)

    from vtr_perception.infer import load_backend

    config = planner_config(args.set)
    configs = {"nbv": config, "nbv_today": dataclasses.replace(config, estimator="error_head"), "random": config}
    planners = [p for p in args.planners.split(",") if p]
    if not planners or any(p not in configs for p in planners):
        parser.error(f"--planners takes a comma-separated subset of {', '.join(configs)}")
    perception = dataclasses.replace(perception_config(args.set_perception), evidence_fusion=args.fusion == "on")
    camera = SimCameraConfig(depth_noise=args.depth_noise)
    if args.checkpoint is not None and not args.checkpoint.is_file():
        parser.error(f"no such checkpoint: {args.checkpoint}")
    backend = (load_backend("torch", checkpoint=args.checkpoint) if args.checkpoint is not None
               else load_backend(args.backend))  # fmt: skip
    rows: dict[str, list[list]] = {name: [] for name in planners}
    seeds = range(args.first_seed, args.first_seed + args.scenes)
    start = time.perf_counter()
    for done, seed in enumerate(tqdm(seeds, desc="table-top scenes"), start=1):
        scene = make_tabletop_scene(args.source, num_objects=args.objects, split=args.split, seed=seed)
        for name in planners:
            rows[name].extend(
                run_scene(
                    scene,
                    backend,
                    configs[name],
                    "random" if name == "random" else "nbv",
                    seed=seed,
                    steps=args.steps,
                    perception=perception,
                    camera=camera,
                    score=loop_metrics,
                    reset_per_object=not args.keep_tracks,
                )
            )
        # Written after every scene, so a run stopped early leaves the scenes it finished (``scenes_done``).
        payload = _payload(args, rows, planners, config, backend, seeds[:done], start)
        atomic_write_json(args.out, payload)
        overrides = args.set + args.set_perception
        title = (f"{payload['objects']} objects in {done} {args.split}-split table-top scenes"
                 + (f" ({', '.join(overrides)})" if overrides else ""))  # fmt: skip
        plot(payload, args.out.with_suffix(".png"), title=title)
    summary = summarise(rows, objects_per_scene=args.objects)
    print_summary(summary)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
