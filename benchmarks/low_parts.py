"""How much of each table-top object lies within the support's noise band, where depth segmentation cannot see it.

    python benchmarks/low_parts.py                      # val split, 24 scenes, both sources
    python benchmarks/low_parts.py --split test --scenes 8

Segmentation keeps a point as an object's only when it stands more than the noise threshold above the
table (``perception.support.noise_threshold``: 2.5 depth sigmas, 7.5 mm at 0.6 m and 8.9 mm at 0.7 m with
the default sensor model). A saucer under a cup, a lamp's base plate, a plate or a tool lying down is
partly or wholly inside that band, so its track and cube are made from what stands above it, while the
table-top benchmarks score against the whole object. For every object of the scenes this reports the
share of its true voxels (32^3, in a cube around the object) whose centres lie in the band, per category.

Writes benchmarks/results/low_parts.json.
"""

from __future__ import annotations

import argparse
import collections
import sys
from pathlib import Path

import numpy as np
from tqdm import tqdm

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks._common import write_result  # noqa: E402
from vtr_perception.geometry.voxels import voxel_centers  # noqa: E402
from vtr_perception.perception.config import PerceptionConfig  # noqa: E402
from vtr_perception.perception.support import noise_threshold  # noqa: E402
from vtr_perception.sim.scenes import SceneObject, make_tabletop_scene  # noqa: E402
from vtr_perception.sim.truth import truth_in_cube  # noqa: E402


def share_in_band(obj: SceneObject, band_m: float, resolution: int = 32) -> float:
    """Share of ``obj``'s true voxels whose centres lie less than ``band_m`` above the table it stands on."""
    lo, hi = obj.mesh.vertices.min(axis=0), obj.mesh.vertices.max(axis=0)
    center, side = 0.5 * (lo + hi), 1.1 * float((hi - lo).max())
    occupied = truth_in_cube(obj, center, side, resolution).reshape(-1)
    z = voxel_centers(resolution).reshape(-1, 3)[:, 2] * side + center[2]
    return float((occupied & (z < lo[2] + band_m)).sum() / max(int(occupied.sum()), 1))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--split", default="val", choices=("train", "val", "test"))
    parser.add_argument("--scenes", type=int, default=24, help="scene seeds 0..N-1 (default 24)")
    parser.add_argument("--sources", default="procedural,pybullet", help="comma-separated mesh sources")
    parser.add_argument("--distance", type=float, default=0.65, help="camera distance (m) the band is taken at")
    parser.add_argument("--out", default=None, help="result path (default benchmarks/results/low_parts.json)")
    args = parser.parse_args(argv)
    band = float(noise_threshold(np.array(args.distance), PerceptionConfig()))
    per_category: dict[str, dict[str, list[float]]] = collections.defaultdict(lambda: collections.defaultdict(list))
    sources = args.sources.split(",")
    with tqdm(total=len(sources) * args.scenes, desc="scenes", unit="scene") as bar:
        for source in sources:
            for seed in range(args.scenes):
                scene = make_tabletop_scene(source, num_objects=3, split=args.split, seed=seed)
                for obj in scene.objects:
                    per_category[source][obj.category].append(share_in_band(obj, band))
                bar.update()
    summary = {
        source: {
            category: {"objects": len(v), "mean": round(float(np.mean(v)), 3), "max": round(float(np.max(v)), 3)}
            for category, v in sorted(categories.items())
        }
        for source, categories in per_category.items()
    }
    for source, categories in summary.items():
        for category, row in categories.items():
            print(f"{source:10s} {category:8s} {row['objects']:3d} objects: {row['mean']:.2f} of the true voxels "
                  f"in the band (max {row['max']:.2f})")  # fmt: skip
    path = write_result("low_parts", {
        "band_m": band, "camera_distance_m": args.distance, "split": args.split, "scenes": args.scenes,
        "resolution": 32, "share_of_true_voxels_in_band": summary,
    }, path=args.out)  # fmt: skip
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
