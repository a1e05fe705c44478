"""How much can the next view's choice matter to the shipped model? A greedy oracle in the demo's loop.

In the loop of benchmarks/tabletop.py (same scenes, same reset and initial view), at each step it
tries, from the same state, the planner's first choice and ``--alternatives`` other candidates of
its ranking (drawn uniformly), measures the IoU after each against the true object, and follows
the best one. That oracle sees the truth, so its IoU bounds what choosing among these candidates
one step ahead can reach. Reported per step: the oracle's IoU, the mean IoU gain of the planner's
choice, of an alternative and of the best one, the share of alternatives the planner's choice is
at or above, and, within each state, the Spearman correlation of the IoU after a view with the
planner's score and with plain geometry (elevation, distance, angle to the nearest view taken).
The NBV and random runs of tabletop.py on the same scenes come alongside. Writes JSON and a PNG.

    python benchmarks/view_oracle.py --split val --scenes 24 [--alternatives 10] [--fusion on|off] [--depth-noise P]
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

import numpy as np
from scipy.stats import spearmanr
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS_DIR, run_metadata  # noqa: E402
from tabletop import add_scene_arguments, perception_config, planner_config  # noqa: E402
from tabletop import summarise as summarise_planners  # noqa: E402

from vtr_perception.io_utils import atomic_write, atomic_write_json  # noqa: E402
from vtr_perception.nbv.candidates import view_directions  # noqa: E402
from vtr_perception.nbv.config import PlannerConfig  # noqa: E402
from vtr_perception.nbv.planner import NextBestViewPlanner  # noqa: E402
from vtr_perception.perception.config import PerceptionConfig  # noqa: E402
from vtr_perception.sim.camera import SimCameraConfig  # noqa: E402
from vtr_perception.sim.loop import INITIAL_DISTANCE, SimulatedLoop, run_scene  # noqa: E402
from vtr_perception.sim.object_views import initial_view  # noqa: E402
from vtr_perception.sim.scenes import make_tabletop_scene  # noqa: E402

FEATURES = ("score", "elevation_deg", "distance_m", "nearest_taken_deg")


def candidate_features(pose: np.ndarray, score: float, center: np.ndarray, taken: np.ndarray) -> dict:
    offset = pose[:3, 3] - center
    distance = float(np.linalg.norm(offset))
    direction = offset / distance
    nearest = np.degrees(np.arccos(np.clip(view_directions(taken, center) @ direction, -1.0, 1.0))).min()
    return {"score": float(score), "elevation_deg": float(np.degrees(np.arcsin(direction[2]))),
            "distance_m": distance, "nearest_taken_deg": float(nearest)}  # fmt: skip


def oracle_scene(scene, backend, config: PlannerConfig, *, seed: int, steps: int, alternatives: int,
                 perception: PerceptionConfig, camera: SimCameraConfig
                 ) -> tuple[list[list[float]], list[dict]]:  # fmt: skip
    """(IoU after each view along the oracle's path per object, the states with their tried candidates)."""
    loop = SimulatedLoop(scene, backend, NextBestViewPlanner(config), perception, camera=camera)
    rng = np.random.default_rng(seed)
    paths, states = [], []
    for obj in scene.objects:
        loop.pipeline.reset()
        moves = [initial_view(obj, seed + 1, INITIAL_DISTANCE)]
        loop.look(moves[-1], obj)
        path = [loop.iou_of(obj)]
        for step in range(1, steps):
            found = loop.grid(obj)
            if found is None:
                path.append(0.0)  # lost track, scored as tabletop.run_scene scores it
                continue
            tid, grid = found
            taken = np.asarray([*loop.taken.poses(tid), *moves[1:], loop.pose]).reshape(-1, 4, 4)
            result = loop.plan(tid, moves)
            if result is None or result.best_pose is None:
                path.append(path[-1])
                continue
            others = np.arange(1, len(result.poses))
            picks = [0, *sorted(rng.choice(others, size=min(alternatives, len(others)), replace=False).tolist())]
            before = loop.snapshot()
            tried = []
            for rank in picks:
                loop.look(result.poses[rank], obj)
                tried.append(
                    {
                        "rank": rank,
                        "iou_after": loop.iou_of(obj),
                        **candidate_features(result.poses[rank], result.scores[rank], grid.center, taken),
                    }
                )
                loop.restore(before)
            states.append({"seed": seed, "object": obj.index, "step": step, "iou_before": path[-1],
                           "candidates": len(result.poses), "tried": tried})  # fmt: skip
            best = max(range(len(tried)), key=lambda i: tried[i]["iou_after"])
            moves.append(result.poses[picks[best]])
            loop.look(moves[-1], obj)
            path.append(loop.iou_of(obj))
        paths.append(path)
    return paths, states


def _mean_se(values: list[float]) -> dict:
    v = np.asarray(values, dtype=np.float64)
    if len(v) == 0:
        return {"mean": None, "standard_error": None, "n": 0}
    se = float(v.std(ddof=1) / np.sqrt(len(v))) if len(v) > 1 else None
    return {"mean": round(float(v.mean()), 4), "standard_error": None if se is None else round(se, 4), "n": len(v)}


def summarise(paths: list[list[float]], states: list[dict]) -> dict:
    """Oracle IoU per step, gains of the planner's choice / an alternative / the best per step, correlations."""
    steps = len(paths[0]) if paths else 0
    per_step = []
    for step in range(1, steps):
        rows = [s for s in states if s["step"] == step and len(s["tried"]) > 1]
        top = [s["tried"][0]["iou_after"] - s["iou_before"] for s in rows]
        alt = [np.mean([c["iou_after"] for c in s["tried"][1:]]) - s["iou_before"] for s in rows]
        best = [max(c["iou_after"] for c in s["tried"]) - s["iou_before"] for s in rows]
        beaten = [np.mean([c["iou_after"] <= s["tried"][0]["iou_after"] for c in s["tried"][1:]]) for s in rows]
        per_step.append({"step": step + 1, "states": len(rows),
                         "gain_planner_choice": _mean_se(top)["mean"], "gain_alternative": _mean_se(alt)["mean"],
                         "gain_best": _mean_se(best)["mean"],
                         "share_alternatives_at_or_below_planner_choice": _mean_se(beaten)["mean"]})  # fmt: skip
    rho: dict[str, list[float]] = {f: [] for f in FEATURES}
    beaten_all = []
    for s in states:
        if len(s["tried"]) < 4:
            continue
        y = np.array([c["iou_after"] for c in s["tried"]])
        beaten_all.append(float(np.mean(y[1:] <= y[0])))
        if np.ptp(y) == 0:
            continue
        for f in FEATURES:
            x = np.array([c[f] for c in s["tried"]])
            if np.ptp(x) > 0:
                rho[f].append(float(spearmanr(x, y)[0]))
    return {
        "oracle_iou_per_step": [round(float(v), 4) for v in np.asarray(paths).mean(axis=0)] if paths else [],
        "oracle_per_object": [[round(float(v), 4) for v in p] for p in paths],
        "per_step": per_step,
        "share_alternatives_at_or_below_planner_choice": _mean_se(beaten_all),
        "spearman_within_state": {f: _mean_se(v) for f, v in rho.items()},
    }


def plot(summary: dict, planners: dict, path: Path, *, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    oracle = summary["oracle_iou_per_step"]
    x = np.arange(1, len(oracle) + 1)
    colors = {"oracle": "tab:green", "nbv": "tab:blue", "random": "tab:orange"}  # as the bars: best, choice, other
    left.plot(x, oracle, marker="o", linewidth=2, color=colors["oracle"], label="greedy oracle (truth)")
    for name, p in planners.items():
        left.plot(x, p["iou_per_step"], marker="o", linewidth=2, color=colors.get(name), label=name)
    left.set_xticks(x)
    left.set_xlabel("views of the object (1 = initial view)")
    left.set_ylabel("IoU at 0.4")
    left.grid(alpha=0.3)
    left.legend()
    rows = summary["per_step"]
    xs = np.array([r["step"] for r in rows])
    bars = (("gain_planner_choice", "planner's choice", "nbv"), ("gain_alternative", "other candidate", "random"),
            ("gain_best", "best tried (oracle)", "oracle"))  # fmt: skip
    for i, (key, label, color) in enumerate(bars):
        right.bar(xs + (i - 1) * 0.27, [r[key] for r in rows], width=0.27, color=colors[color], label=label)
    right.axhline(0.0, color="black", linewidth=0.8)
    right.set_xticks(xs)
    right.set_xlabel("view added (from the oracle's state)")
    right.set_ylabel("mean IoU gain of that view")
    right.grid(alpha=0.3, axis="y")
    right.legend()
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=120, format="png"))
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_scene_arguments(parser)
    parser.add_argument("--alternatives", type=int, default=10, help="candidates tried besides the planner's choice")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR / "view_oracle.json")
    args = parser.parse_args(argv)
    if args.scenes < 1 or args.steps < 2 or args.alternatives < 1:
        parser.error("--scenes and --alternatives must be >= 1 and --steps >= 2")

    from vtr_perception.infer import load_backend

    config = planner_config([])
    perception = dataclasses.replace(perception_config([]), evidence_fusion=args.fusion == "on")
    camera = SimCameraConfig(depth_noise=args.depth_noise)
    backend = load_backend("onnxruntime")
    paths, states = [], []
    runs: dict[str, list[list[float]]] = {"nbv": [], "random": []}
    seeds = range(args.first_seed, args.first_seed + args.scenes)
    for seed in tqdm(seeds, desc="table-top scenes"):
        scene = make_tabletop_scene(args.source, num_objects=args.objects, split=args.split, seed=seed)
        p, s = oracle_scene(scene, backend, config, seed=seed, steps=args.steps, alternatives=args.alternatives,
                            perception=perception, camera=camera)  # fmt: skip
        paths += p
        states += s
        for name in runs:
            runs[name] += run_scene(scene, backend, config, name, seed=seed, steps=args.steps, perception=perception,
                                    camera=camera)  # fmt: skip
    summary = summarise(paths, states)
    planners = summarise_planners(runs, objects_per_scene=args.objects)["planners"]
    payload = {
        **summary,
        "planners": {name: {k: p[k] for k in ("iou_per_step", "iou_std_per_step")} for name, p in planners.items()},
        "objects": len(paths),
        "scenes": {"split": args.split, "source": args.source, "seeds": list(seeds), "objects_per_scene": args.objects},
        "steps": args.steps,
        "fusion": args.fusion == "on",
        "depth_noise": args.depth_noise,
        "alternatives": args.alternatives,
        "states": states,
        "backend": backend.name,
        **run_metadata(),
    }
    atomic_write_json(args.out, payload)
    plot(summary, payload["planners"], args.out.with_suffix(".png"),
         title=f"{len(paths)} objects in {len(seeds)} {args.split}-split table-top scenes, "
               f"planner's choice + {args.alternatives} other candidates tried per step")  # fmt: skip
    print("oracle: IoU " + " ".join(f"{v:.3f}" for v in summary["oracle_iou_per_step"]))
    for name, p in payload["planners"].items():
        print(f"{name:>6}: IoU " + " ".join(f"{v:.3f}" for v in p["iou_per_step"]))
    share = summary["share_alternatives_at_or_below_planner_choice"]
    print(f"the planner's choice is at or above {share['mean']:.0%} of the other candidates tried")
    for f, r in summary["spearman_within_state"].items():
        print(f"  Spearman(IoU after, {f}) within a state: {r['mean']:+.3f} (standard error {r['standard_error']})")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
