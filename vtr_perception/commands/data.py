"""`vtr-perception data build|info|loop-crops`: build a rendered-view dataset cache, summarise one, or collect
the reconstructor's inputs in the simulated table-top loop (train/loop_crops.py)."""

from __future__ import annotations

import argparse
import json
import logging
import os

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="data_command", metavar="<build|info|loop-crops>", required=True)
    build = sub.add_parser("build", help="render views and voxelise objects of a mesh source into a cache")
    build.add_argument(
        "--source",
        required=True,
        help="pybullet[:random|named|all] | procedural[:N per category] | shapenet:PATH | meshdir:PATH",
    )
    build.add_argument("--out", required=True, help="cache directory (created; an existing cache is resumed)")
    build.add_argument("--size", type=int, default=64, help="image side in pixels (default: 64)")
    build.add_argument("--resolution", type=int, default=32, help="voxel grid resolution (default: 32)")
    build.add_argument(
        "--limit", type=int, default=None, help="at most this many objects (round-robin over categories)"
    )
    build.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1), help="worker processes (default: 2)")
    build.add_argument(
        "--views",
        default="aligned=12,hemisphere=8,sphere=8",
        help="views per view set (default: aligned=12,hemisphere=8,sphere=8)",
    )
    build.add_argument("--categories", nargs="+", default=None, help="only objects of these categories")
    build.add_argument("--ids", nargs="+", default=None, help="only these object ids of the source")
    build.add_argument(
        "--split", nargs="+", default=None, help="only objects of these splits, chosen before --limit (e.g. test)"
    )
    build.add_argument("--seed", type=int, default=0, help="seed of the view draws and the splits (default: 0)")
    build.add_argument(
        "--fractions",
        type=float,
        nargs="+",
        default=[0.8, 0.1, 0.1],
        help="train val test [synth] fractions of the hashed split (default: 0.8 0.1 0.1)",
    )
    build.add_argument("--no-progress", action="store_true", help="no progress bar")
    from vtr_perception import config as cfg
    from vtr_perception.train.loop_crops import LoopCropConfig

    crops = sub.add_parser("loop-crops", help="the reconstructor's inputs in simulated table-top scenes, with truth")
    crops.add_argument("--out", required=True, help="the .npz file to write")
    crops.add_argument("--backend", default="onnxruntime", help="backend the pipeline runs while collecting")
    crops.add_argument("--no-progress", action="store_true", help="no progress bar")
    cfg.add_arguments(crops, LoopCropConfig)
    info = sub.add_parser("info", help="counts per split and category of a cache")
    info.add_argument("--cache", required=True, help="cache directory")
    info.add_argument("--json", action="store_true", help="print the summary as JSON")


def run(args: argparse.Namespace) -> int:
    from vtr_perception.data.cache import build_cache, cache_summary, parse_views, read_index

    if args.data_command == "loop-crops":
        return _loop_crops(args)
    if args.data_command == "build":
        index = build_cache(
            args.source,
            args.out,
            size=args.size,
            views=parse_views(args.views),
            resolution=args.resolution,
            limit=args.limit,
            categories=args.categories,
            object_ids=args.ids,
            splits=tuple(args.split) if args.split else None,
            workers=args.workers,
            seed=args.seed,
            fractions=tuple(args.fractions),
            progress=not args.no_progress,
        )
        summary = cache_summary(index)
        print(f"{args.out}: {summary['objects']} objects ({summary['per_split']}), {summary['skipped']} skipped")
        for s in index["skipped"]:
            print(f"  skipped {s['key']}: {s['reason']}")
        return 0
    summary = cache_summary(read_index(args.cache))
    if args.json:
        print(json.dumps(summary, indent=2))
        return 0
    print(f"cache {args.cache}: source {summary['source']}, {summary['objects']} objects, {summary['skipped']} skipped")
    print(f"  config: {summary['config']}")
    print("  per split: " + ", ".join(f"{k} {v}" for k, v in sorted(summary["per_split"].items())))
    for category, counts in summary["per_category"].items():
        print(f"  {category}: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    return 0


def _loop_crops(args: argparse.Namespace) -> int:
    from vtr_perception import config as cfg
    from vtr_perception.infer import load_backend
    from vtr_perception.sim.loop import demo_planner_config, shipped_perception_config
    from vtr_perception.train.loop_crops import LoopCropConfig, build_loop_crops

    config = cfg.from_args(LoopCropConfig, args)
    backend = load_backend(args.backend)
    if not backend.info.needs_rotations:
        raise ValueError("loop crops are the inputs of a pose-aware model; the backend's model is canonical")
    planner = None
    if config.views == "nbv":
        from vtr_perception.nbv.planner import NextBestViewPlanner

        planner = NextBestViewPlanner(demo_planner_config())
    samples = build_loop_crops(args.out, config, shipped_perception_config(), backend, planner=planner,
                               progress=not args.no_progress)  # fmt: skip
    views = sum(samples.num_views)
    print(
        f"{args.out}: {len(samples)} samples ({views} views) from {config.scenes} {config.split} scenes, "
        f"{config.views} views"
    )
    return 0
