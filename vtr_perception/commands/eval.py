"""`vtr-perception eval`: evaluate a reconstructor with baselines; JSON and a markdown table."""

from __future__ import annotations

import argparse
from pathlib import Path


def _csv(text: str) -> list[str]:
    return [s.strip() for s in text.split(",") if s.strip()]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", default="models/reconstructor.pt", help="checkpoint (default: the shipped model)")
    parser.add_argument(
        "--source",
        required=True,
        help="dataset cache dir(s), comma-separated, or a mesh source spec (pybullet, procedural:N, meshdir:PATH, ...)",
    )
    parser.add_argument("--split", default="test", help="train | val | test | all (default: test)")
    parser.add_argument("--view-sets", default="aligned,hemisphere,sphere", help="comma-separated view sets")
    parser.add_argument("--num-views", default="1,3", help="comma-separated input view counts (default: 1,3)")
    parser.add_argument(
        "--train-caches", default=None, help="caches of the baselines' training shapes (default: the model's)"
    )
    parser.add_argument("--no-baselines", action="store_true", help="score the model alone (no training caches needed)")
    parser.add_argument("--max-objects", type=int, default=None, help="at most this many objects per cache")
    parser.add_argument("--clusters", type=int, default=32, help="k of the k-means clustering baseline (default: 32)")
    parser.add_argument("--surface-points", type=int, default=2000, help="points per surface for F-score / Chamfer")
    parser.add_argument("--seed", type=int, default=0, help="seed of the input view draws (default: 0)")
    parser.add_argument("--json", default=None, help="write the results JSON here")
    parser.add_argument("--markdown", default=None, help="write the markdown table here (default: beside --json)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")


def run(args: argparse.Namespace) -> int:
    from vtr_perception.geometry.view_sets import VIEW_SETS
    from vtr_perception.io_utils import atomic_write_json, atomic_write_text
    from vtr_perception.train.evaluate import evaluate, markdown_table

    view_sets = tuple(_csv(args.view_sets))
    bad = sorted(set(view_sets) - set(VIEW_SETS))
    if bad or not view_sets:
        raise ValueError(f"--view-sets must be a subset of {list(VIEW_SETS)}, got {args.view_sets!r}")
    try:
        num_views = tuple(int(n) for n in _csv(args.num_views))
    except ValueError as exc:
        raise ValueError(f"--num-views must be comma-separated integers, got {args.num_views!r}") from exc
    if not num_views or min(num_views) < 1:
        raise ValueError(f"--num-views must be positive integers, got {args.num_views!r}")
    result = evaluate(
        args.model,
        args.source,
        split=None if args.split == "all" else args.split,
        view_sets=view_sets,
        num_views=num_views,
        train_caches=_csv(args.train_caches) if args.train_caches else None,
        max_objects=args.max_objects,
        clusters=args.clusters,
        n_points=args.surface_points,
        seed=args.seed,
        with_baselines=not args.no_baselines,
        progress=not args.no_progress,
    )
    table = markdown_table(result)
    if args.json:
        atomic_write_json(args.json, result)
        markdown = args.markdown or str(Path(args.json).with_suffix(".md"))
        atomic_write_text(markdown, table)
    elif args.markdown:
        atomic_write_text(args.markdown, table)
    print(table)
    return 0
