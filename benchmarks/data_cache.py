"""Dataset cache build time per object, and ViewDataset item time.

    python benchmarks/data_cache.py [--objects 24] [--size 64] [--workers 2]

Builds fresh caches of ``--objects`` pybullet_data random objects and as many procedural
objects (default view counts: aligned 12, hemisphere 8, sphere 8 at 64x64, 32^3 voxels)
in a temporary directory, and writes benchmarks/results/data_cache.json.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import write_result  # noqa: E402

from vtr_perception.data.cache import DEFAULT_VIEWS, build_cache  # noqa: E402
from vtr_perception.data.dataset import ViewDataset  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=24, help="objects per source")
    parser.add_argument("--size", type=int, default=64, help="image side")
    parser.add_argument("--workers", type=int, default=2, help="worker processes for the parallel run")
    parser.add_argument("--out", default=None, help="result JSON path (default benchmarks/results/data_cache.json)")
    args = parser.parse_args()
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        for source in ("pybullet", "procedural"):
            for workers in sorted({1, args.workers}):
                out = Path(tmp) / f"{source}_{workers}"
                t0 = time.perf_counter()
                index = build_cache(source, out, size=args.size, limit=args.objects, workers=workers, progress=False)
                wall = time.perf_counter() - t0
                n = len(index["objects"]) + len(index["skipped"])
                runs.append(
                    {
                        "source": source,
                        "workers": workers,
                        "objects": n,
                        "built": len(index["objects"]),
                        "wall_s": round(wall, 3),
                        "wall_s_per_object": round(wall / n, 4),
                        "worker_s_per_object": index["build_seconds_per_object"],
                    }
                )
                print(runs[-1])
            ds = ViewDataset(out, split=None, num_views=3)
            t0 = time.perf_counter()
            for i in range(len(ds)):
                ds[i]
            item_ms = (time.perf_counter() - t0) / len(ds) * 1e3
            runs[-1]["dataset_item_ms"] = round(item_ms, 3)
            runs[-1]["bytes_per_object"] = int(sum(f.stat().st_size for f in (out / "objects").iterdir()) / len(ds))
    payload = {
        "size": args.size,
        "views": DEFAULT_VIEWS,
        "resolution": 32,
        "runs": runs,
        "load_average_1min_at_end": round(os.getloadavg()[0], 2),
        # best observed wall time per object over sources and worker counts (the machine is shared: see load)
        "cache_build_s_per_object": min(r["wall_s_per_object"] for r in runs),
    }
    path = write_result("data_cache", payload, path=args.out)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
