"""Geometry speed: rendered views per second, voxelisation, metrics and meshing time per object.

    python benchmarks/geometry.py [--objects 20] [--size 128] [--views 36] [--repeats 3]

grid_metrics is timed on the true grid blurred (Gaussian, sigma 1 voxel) as the prediction; the mesh
of that blurred grid at 0.4 (as the node meshes a reconstruction) is decimated to the markers' 2000
triangles and to 1000 by simplify_triangles and by quadric decimation alone, timed, with each one's
Chamfer distance to the full mesh in voxels (``simplify_2000``, ``simplify_1000``).
Uses pybullet_data random objects random_urdfs/000.. (their .obj, o-groups as parts),
each normalised into the canonical cube. Writes benchmarks/results/geometry.json.
Cache build time per object is measured by benchmarks/data_cache.py; its number is
copied here under "cache_build" when benchmarks/results/data_cache.json exists.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
from scipy.ndimage import gaussian_filter
from scipy.spatial import cKDTree

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import RESULTS_DIR, write_result  # noqa: E402
from tqdm import tqdm  # noqa: E402

from vtr_perception.geometry.cameras import RENDER_FOV_DEG, Intrinsics, camera_from_angles  # noqa: E402
from vtr_perception.geometry.mesh import MeshData  # noqa: E402
from vtr_perception.geometry.meshing import grid_to_mesh, load_mesh, sample_surface, simplify_triangles  # noqa: E402
from vtr_perception.geometry.metrics import grid_metrics  # noqa: E402
from vtr_perception.geometry.renderer import Renderer  # noqa: E402
from vtr_perception.geometry.voxels import Normalization, voxelize  # noqa: E402


def stats_ms(seconds: list[float]) -> dict[str, float]:
    a = np.asarray(seconds) * 1e3
    return {"mean_ms": round(float(a.mean()), 3), "p50_ms": round(float(np.median(a)), 3),
            "p95_ms": round(float(np.percentile(a, 95)), 3), "max_ms": round(float(a.max()), 3)}  # fmt: skip


def load_objects(n: int) -> tuple[list, list[str]]:
    import pybullet_data

    root = Path(pybullet_data.getDataPath()) / "random_urdfs"
    meshes, skipped = [], []
    for d in sorted(root.iterdir()):
        if len(meshes) == n:
            break
        try:
            meshes.append(load_mesh(d / f"{d.name}.obj"))
        except (ValueError, FileNotFoundError) as exc:
            skipped.append(f"{d.name}: {exc}")
    return meshes, skipped


def quadric_only(vertices: np.ndarray, triangles: np.ndarray, budget: int) -> tuple[np.ndarray, np.ndarray]:
    import open3d as o3d

    mesh = o3d.geometry.TriangleMesh(o3d.utility.Vector3dVector(vertices),
                                     o3d.utility.Vector3iVector(triangles.astype(np.int32)))  # fmt: skip
    mesh = mesh.simplify_quadric_decimation(budget)
    mesh.remove_unreferenced_vertices()
    return np.asarray(mesh.vertices), np.asarray(mesh.triangles)


def bench_simplify(mesh: MeshData, budget: int = 2000) -> dict | None:
    """simplify_triangles against quadric decimation alone: ms and Chamfer to ``mesh`` (voxels of a 32^3 grid)."""
    if len(mesh.triangles) <= budget:
        return None
    full = sample_surface(mesh, 20000)
    row = {"triangles": len(mesh.triangles)}
    for name, simplify in (("simplify_triangles", simplify_triangles), ("quadric_only", quadric_only)):
        t0 = time.perf_counter()
        v, t = simplify(mesh.vertices, mesh.triangles, budget)
        row[f"{name}_ms"] = 1e3 * (time.perf_counter() - t0)
        small = sample_surface(MeshData(v, t), 20000)
        chamfer = 0.5 * (cKDTree(full).query(small)[0].mean() + cKDTree(small).query(full)[0].mean())
        row[f"{name}_chamfer_voxels"] = float(chamfer) * 32  # the canonical cube's side is 1
    return row


def simplify_summary(rows: list[dict]) -> dict:
    keys = (
        "simplify_triangles_ms",
        "quadric_only_ms",
        "simplify_triangles_chamfer_voxels",
        "quadric_only_chamfer_voxels",
    )
    if not rows:
        return {"meshes": 0}
    return {"meshes": len(rows), "triangles_median": int(np.median([r["triangles"] for r in rows])),
            **{f"{k}_median": round(float(np.median([r[k] for r in rows])), 3) for k in keys}}  # fmt: skip


def bench_render(meshes, *, size: int, views: int, repeats: int) -> dict:
    K = Intrinsics.from_fov(size, size, RENDER_FOV_DEG)
    rng = np.random.default_rng(0)
    batched, single = [], []
    for mesh in tqdm(meshes, desc=f"render {size}px", leave=False):
        r = Renderer([Normalization.of_mesh(mesh).mesh_to_canonical(mesh)])
        Ts = camera_from_angles(rng.uniform(0, 360, views), rng.uniform(-90, 90, views))
        r.render_arrays(K, Ts[:2])  # warm-up
        for _ in range(repeats):
            t0 = time.perf_counter()
            r.render_arrays(K, Ts)
            batched.append((time.perf_counter() - t0) / views)
        t0 = time.perf_counter()
        for T in Ts[:8]:
            r.render(K, T)
        single.append((time.perf_counter() - t0) / 8)
    return {
        "size": size,
        "views_per_call": views,
        "batched": {"views_per_s": round(1.0 / float(np.median(batched)), 1), **stats_ms(batched)},
        "single": {"views_per_s": round(1.0 / float(np.median(single)), 1), **stats_ms(single)},
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=20, help="pybullet_data random objects (default: 20)")
    parser.add_argument("--size", type=int, default=128, help="image side for the render timing (default: 128)")
    parser.add_argument("--views", type=int, default=36, help="views per batched cast_rays call (default: 36)")
    parser.add_argument("--repeats", type=int, default=3, help="timed repeats per object (default: 3)")
    parser.add_argument("--out", default=None, help="result JSON (default: benchmarks/results/geometry.json)")
    args = parser.parse_args()

    meshes, skipped = load_objects(args.objects)
    voxel_s, whole_mesh_error, metric_s, mc_s, occupied = [], [], [], [], []
    simplify_rows: dict[int, list[dict]] = {2000: [], 1000: []}
    for mesh in tqdm(meshes, desc="voxelise"):
        voxelize(mesh, 32)  # warm-up (first Open3D scene)
        times = []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            grid, _ = voxelize(mesh, 32)
            times.append(time.perf_counter() - t0)
        voxel_s.append(min(times))
        occupied.append(float(grid.mean()))
        naive, _ = voxelize(mesh, 32, by_part=False)
        whole_mesh_error.append(float((naive != grid).mean()))
        t0 = time.perf_counter()
        grid_to_mesh(grid)
        mc_s.append(time.perf_counter() - t0)
        blurred = gaussian_filter(grid.astype(np.float32), sigma=1.0)  # a plausible, smooth prediction
        t0 = time.perf_counter()
        grid_metrics(blurred, grid)
        metric_s.append(time.perf_counter() - t0)
        surface = grid_to_mesh(blurred)
        for budget, rows in simplify_rows.items():
            row = bench_simplify(surface, budget)
            if row is not None:
                rows.append(row)

    render = [bench_render(meshes, size=s, views=args.views, repeats=args.repeats) for s in sorted({64, args.size})]
    cache_build = {"source": "benchmarks/results/data_cache.json", "s_per_object": None}
    cache_file = RESULTS_DIR / "data_cache.json"
    if cache_file.is_file():
        cache_build["s_per_object"] = json.loads(cache_file.read_text()).get("cache_build_s_per_object")
    main_render = next(r for r in render if r["size"] == args.size)
    payload = {
        "objects": len(meshes),
        "skipped": skipped,
        "views_per_s": {
            f"{args.size}px_batched": main_render["batched"]["views_per_s"],
            f"{args.size}px_single": main_render["single"]["views_per_s"],
        },
        "render": render,
        "voxelize_32": {
            **stats_ms(voxel_s),
            "occupied_fraction_mean": round(float(np.mean(occupied)), 4),
            "whole_mesh_query_wrong_voxels": {
                "mean": round(float(np.mean(whole_mesh_error)), 5),
                "max": round(float(np.max(whole_mesh_error)), 5),
                "objects_over_1pct": int(np.sum(np.asarray(whole_mesh_error) > 0.01)),
            },
        },
        "marching_cubes_32": stats_ms(mc_s),
        "grid_metrics_32": stats_ms(metric_s),
        **{f"simplify_{budget}": simplify_summary(rows) for budget, rows in simplify_rows.items()},
        "cache_build": cache_build,
        "load_average_1min_at_end": round(os.getloadavg()[0], 2),
    }
    path = write_result("geometry", payload, path=args.out)
    shown = ("views_per_s", "voxelize_32", "grid_metrics_32", "simplify_2000", "simplify_1000")
    print(json.dumps({k: payload[k] for k in shown}, indent=1))
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
