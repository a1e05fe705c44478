"""The rendered-view dataset cache: per object a voxel grid and rendered views for each view set.

Layout of ``out_dir``:

    index.json                      config, objects (source, id, name, category, split, file), skipped
    objects/<source>_<id>.npz       one compressed file per object (see ``write_object``)

Each object is loaded from its source, normalised into the canonical cube
(geometry/voxels.py ``Normalization.from_bounds``) BEFORE anything else, voxelised part by
part, and rendered from views drawn per view set (geometry/view_sets.py) with a generator
seeded by (seed, object, view set). Canonical frame = world frame of the renders.

Object files and the index are written atomically, and the index is rewritten as objects
finish, so an interrupted build resumes where it stopped: valid object files are kept,
unreadable ones are rebuilt. Objects that cannot be used (unreadable, NaN, empty, fewer
than ``min_occupied`` voxels) are listed under "skipped" with the reason.
"""

from __future__ import annotations

import json
import logging
import multiprocessing as mp
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vtr_perception.data.sources import MeshSource, ObjectRecord, open_source, stable_hash
from vtr_perception.data.splits import DEFAULT_FRACTIONS, split_of_record
from vtr_perception.geometry.mesh import MeshData
from vtr_perception.geometry.view_sets import VIEW_SETS, sample_views
from vtr_perception.io_utils import atomic_write, atomic_write_json

log = logging.getLogger(__name__)

INDEX_NAME = "index.json"
CACHE_VERSION = 1
DEFAULT_VIEWS: dict[str, int] = {"aligned": 12, "hemisphere": 8, "sphere": 8}
# Fewer occupied voxels than this is not a usable object: at 32^3 it skips the thin needles among
# pybullet_data's random objects (178: 3, 578: 8, 292: 13, 350: 13, 167: 15; the next has 26).
MIN_OCCUPIED = 20


@dataclass(frozen=True)
class ObjectJob:
    source_spec: str
    record: dict
    out_path: str
    size: int
    views: tuple[tuple[str, int], ...]
    resolution: int
    seed: int
    min_occupied: int


# The caches the model card and the training configs name, by directory name: `vtr-perception eval` builds a
# missing one of these itself (any parent directory; the card's commands use .cache/data/).
STANDARD_CACHES: dict[str, tuple[str, int | None]] = {
    "pybullet64": ("pybullet", 400),
    "procedural64": ("procedural:100", None),
}


def standard_build_command(path: str | Path) -> str | None:
    """The `vtr-perception data build` command of a standard cache directory, None for other names."""
    spec = STANDARD_CACHES.get(Path(path).name)
    if spec is None:
        return None
    limit = f" --limit {spec[1]}" if spec[1] else ""
    return f"vtr-perception data build --source {spec[0]}{limit} --out {path}"


def ensure_standard_cache(path: str | Path, *, progress: bool = True) -> bool:
    """Build the standard cache at ``path`` if it is missing or incomplete; True when it built anything."""
    spec = STANDARD_CACHES.get(Path(path).name)
    index = Path(path) / INDEX_NAME
    if spec is None or (index.is_file() and read_index(path).get("complete")):
        return False
    log.info("building the missing cache %s (%s)", path, standard_build_command(path))
    build_cache(spec[0], path, limit=spec[1], progress=progress)
    return True


def parse_views(text: str) -> dict[str, int]:
    """'aligned=12,hemisphere=8' -> {'aligned': 12, 'hemisphere': 8}; ValueError on bad input."""
    views: dict[str, int] = {}
    for item in filter(None, (s.strip() for s in text.split(","))):
        name, sep, count = item.partition("=")
        if not sep or not count.strip().isdigit():
            raise ValueError(f"--views items must look like aligned=12, got {item!r}")
        views[name.strip()] = int(count)
    return check_views(views)


def check_views(views: dict[str, int]) -> dict[str, int]:
    unknown = sorted(set(views) - set(VIEW_SETS))
    if unknown or not views:
        raise ValueError(f"view sets must be a non-empty subset of {list(VIEW_SETS)}, got {sorted(views)}")
    if any(n < 1 for n in views.values()):
        raise ValueError(f"each view set needs at least 1 view, got {views}")
    return dict(views)


def render_and_voxelize(mesh: MeshData, *, size: int, views: dict[str, int], resolution: int, rng_seed: int) -> dict:
    """Arrays of one object's cache file (everything but the metadata); the mesh is in source units."""
    from vtr_perception.geometry import renderer, voxels

    mesh.validate()
    normalization = voxels.Normalization.from_bounds(*mesh.bounds)
    canonical = normalization.mesh_to_canonical(mesh)
    grid, _ = voxels.voxelize(canonical, resolution=resolution, normalization=voxels.Normalization.identity())
    arrays: dict = {
        "voxels": np.packbits(np.asarray(grid, dtype=bool).reshape(-1)),
        "voxel_shape": np.asarray(grid.shape, dtype=np.int32),
        "occupied": np.int64(np.count_nonzero(grid)),
        "normalization": np.asarray(json.dumps(normalization.to_dict())),
    }
    for i, (view_set, n) in enumerate(views.items()):
        rng = np.random.default_rng([rng_seed, i])
        az, el = sample_views(view_set, n, rng)
        images, masks, T_world_cameras, intrinsics = renderer.render_object_views(canonical, az, el, size=size)
        arrays[f"{view_set}/images"] = np.asarray(images, dtype=np.uint8)
        arrays[f"{view_set}/masks"] = np.packbits(np.asarray(masks, dtype=bool), axis=-1)
        arrays[f"{view_set}/azimuth"] = np.asarray(az, dtype=np.float32)
        arrays[f"{view_set}/elevation"] = np.asarray(el, dtype=np.float32)
        arrays[f"{view_set}/T_world_camera"] = np.asarray(T_world_cameras, dtype=np.float32)
        arrays["K"] = np.asarray(intrinsics.K, dtype=np.float32)
    return arrays


def write_object(path: Path, arrays: dict) -> None:
    atomic_write(path, lambda tmp: np.savez_compressed(tmp.open("wb"), **arrays))


def read_object(path: str | Path, keys: tuple[str, ...] | None = None) -> dict[str, np.ndarray]:
    """Arrays of an object file (all, or ``keys`` plus the voxels), voxels unpacked to bool (R, R, R).

    ValueError naming the file if it is unreadable or lacks a requested array.
    """
    try:
        with np.load(path, allow_pickle=False) as z:
            wanted = z.files if keys is None else ("voxels", "voxel_shape", *keys)
            arrays = {k: z[k] for k in wanted}
    except Exception as exc:  # zipfile/OSError/ValueError/KeyError: all mean a broken or missing file
        raise ValueError(f"cannot read cache object {path}: {exc}") from exc
    if "voxels" not in arrays or "voxel_shape" not in arrays:
        raise ValueError(f"cache object {path} has no voxel grid")
    shape = tuple(int(s) for s in arrays["voxel_shape"])
    arrays["voxels"] = np.unpackbits(arrays["voxels"], count=int(np.prod(shape))).astype(bool).reshape(shape)
    return arrays


def object_is_valid(path: Path, views: dict[str, int], size: int, resolution: int) -> bool:
    if not path.is_file():
        return False
    try:
        arrays = read_object(path)
    except ValueError:
        return False
    if arrays["voxels"].shape != (resolution,) * 3:
        return False
    return all(arrays.get(f"{vs}/images", np.empty(0)).shape == (n, size, size, 3) for vs, n in views.items())


_SOURCES: dict[str, MeshSource] = {}


def _source(spec: str) -> MeshSource:
    if spec not in _SOURCES:
        _SOURCES[spec] = open_source(spec)
    return _SOURCES[spec]


def build_object(job: ObjectJob) -> tuple[str, str | None, float]:
    """Build one object file: (key, skip reason or None, seconds). Never raises for a bad object."""
    t0 = time.perf_counter()
    record = ObjectRecord.from_dict(job.record)
    try:
        mesh = _source(job.source_spec).load(record)
        views = dict(job.views)
        arrays = render_and_voxelize(
            mesh,
            size=job.size,
            views=views,
            resolution=job.resolution,
            rng_seed=stable_hash(f"views:{job.seed}:{record.key}"),
        )
        if int(arrays["occupied"]) < job.min_occupied:
            return record.key, f"nearly empty: {int(arrays['occupied'])} occupied voxels at {job.resolution}^3", 0.0
        write_object(Path(job.out_path), arrays)
    except (ValueError, FileNotFoundError, OSError) as exc:
        return record.key, str(exc), 0.0
    return record.key, None, time.perf_counter() - t0


def select_records(
    records: list[ObjectRecord], *, categories=None, limit: int | None = None, object_ids=None
) -> list[ObjectRecord]:
    """Filter by category and id; ``limit`` takes objects round-robin over categories so every category is present."""
    if object_ids:
        by_id = {r.object_id: r for r in records}
        missing = [i for i in object_ids if i not in by_id]
        if missing:
            raise ValueError(f"unknown object ids {missing[:5]} (e.g. {next(iter(by_id), None)!r} exists)")
        records = [by_id[i] for i in object_ids]
    if categories:
        wanted = set(categories)
        unknown = wanted - {r.category for r in records}
        if unknown:
            raise ValueError(
                f"no objects in categories {sorted(unknown)}; available: {sorted({r.category for r in records})}"
            )
        records = [r for r in records if r.category in wanted]
    if limit is None or limit >= len(records):
        return records
    if limit < 1:
        raise ValueError(f"--limit must be >= 1, got {limit}")
    by_cat: dict[str, list[ObjectRecord]] = defaultdict(list)
    for r in records:
        by_cat[r.category].append(r)
    queues = list(by_cat.values())
    out: list[ObjectRecord] = []
    i = 0
    while len(out) < limit:
        for q in queues:
            if i < len(q) and len(out) < limit:
                out.append(q[i])
        i += 1
    return out


def read_index(cache_dir: str | Path) -> dict:
    path = Path(cache_dir) / INDEX_NAME
    try:
        return json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise FileNotFoundError(
            f"no dataset cache at {cache_dir} ({INDEX_NAME} missing; run `vtr-perception data build`)"
        ) from exc
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"cannot read {path}: {exc}") from exc


def _check_existing(out_dir: Path, source_spec: str, config: dict) -> None:
    """A cache already in ``out_dir`` must have been built from the same source and config (it is resumed)."""
    if (out_dir / INDEX_NAME).is_file():
        old = read_index(out_dir)
        if old.get("source") != source_spec or old.get("config") != config:
            raise ValueError(
                f"{out_dir} already holds a cache built with source {old.get('source')!r} and config "
                f"{old.get('config')}; use another --out or delete it"
            )


class CacheIndex:
    """The cache's ``index.json`` while it is built: every object's entry, which are done, which were skipped."""

    def __init__(self, out_dir: Path, source_spec: str, config: dict, records: list[ObjectRecord], seed: int,
                 fractions: tuple[float, ...]) -> None:  # fmt: skip
        self.path, self.source_spec, self.config, self.records = out_dir / INDEX_NAME, source_spec, config, records
        self.entries = {
            r.key: {**r.to_dict(), "key": r.key, "split": split_of_record(r, fractions, seed),
                    "file": f"objects/{r.key}.npz"}
            for r in records
        }  # fmt: skip
        self.done: set[str] = set()
        self.skipped: dict[str, dict] = {}
        self.times: list[float] = []

    def record(self, key: str, reason: str | None, seconds: float) -> None:
        """One object's build result: done, or skipped with ``reason``."""
        if reason is None:
            self.done.add(key)
            self.times.append(seconds)
            return
        entry = self.entries[key]
        self.skipped[key] = {k: entry[k] for k in ("key", "source", "object_id", "category")} | {"reason": reason}
        log.warning("skipped %s: %s", key, reason)

    def write(self, final: bool) -> dict:
        index = {
            "version": CACHE_VERSION,
            "source": self.source_spec,
            "config": self.config,
            "complete": final,
            "objects": [self.entries[r.key] for r in self.records if r.key in self.done],
            "skipped": [self.skipped[k] for k in sorted(self.skipped)],
            "build_seconds_per_object": round(float(np.mean(self.times)), 4) if self.times else None,
        }
        atomic_write_json(self.path, index)
        return index


def _build_results(todo: list[ObjectJob], workers: int):
    """(key, reason, seconds) per job as they finish, and the pool to close (None when built in this process)."""
    if workers > 1 and len(todo) > 1:
        pool = mp.get_context("spawn").Pool(min(workers, len(todo)))  # Open3D and fork do not mix safely
        return pool.imap_unordered(build_object, todo), pool
    return map(build_object, todo), None


def build_cache(
    source_spec: str,
    out_dir: str | Path,
    *,
    size: int = 64,
    views: dict[str, int] | None = None,
    resolution: int = 32,
    limit: int | None = None,
    categories: list[str] | None = None,
    object_ids: list[str] | None = None,
    splits: tuple[str, ...] | None = None,
    workers: int = 2,
    seed: int = 0,
    fractions: tuple[float, ...] = DEFAULT_FRACTIONS,
    min_occupied: int = MIN_OCCUPIED,
    progress: bool = True,
) -> dict:
    """Build (or resume) the cache in ``out_dir``; returns the index that was written.

    ``splits``: only objects of these splits (before ``limit``), e.g. ("test",) for a small evaluation cache."""
    from tqdm import tqdm

    views = check_views(dict(views or DEFAULT_VIEWS))
    if size < 8:
        raise ValueError(f"--size must be >= 8 pixels, got {size}")
    if resolution < 4:
        raise ValueError(f"--resolution must be >= 4, got {resolution}")
    out_dir = Path(out_dir)
    source = open_source(source_spec)
    records = source.list_objects()
    if splits:
        records = [r for r in records if split_of_record(r, fractions, seed) in splits]
    records = select_records(records, categories=categories, limit=limit, object_ids=object_ids)
    config = {"size": size, "views": views, "resolution": resolution, "seed": seed, "fractions": list(fractions),
              "min_occupied": min_occupied}  # fmt: skip
    if splits:
        config["splits"] = sorted(splits)
    _check_existing(out_dir, source.spec, config)
    (out_dir / "objects").mkdir(parents=True, exist_ok=True)

    index = CacheIndex(out_dir, source.spec, config, records, seed, fractions)
    todo: list[ObjectJob] = []
    for r in records:
        file = out_dir / index.entries[r.key]["file"]
        if object_is_valid(file, views, size, resolution):
            index.done.add(r.key)
        else:
            todo.append(ObjectJob(source.spec, r.to_dict(), str(file), size, tuple(views.items()), resolution, seed,
                                  min_occupied))  # fmt: skip
    log.info("cache %s: %d objects, %d already built, %d to build", out_dir, len(records), len(index.done), len(todo))
    index.write(final=not todo)
    if not todo:
        return index.write(final=True)
    last_write = time.monotonic()
    bar = tqdm(total=len(todo), desc=f"cache {source.name}", unit="obj", disable=not progress)
    results, pool = _build_results(todo, workers)
    try:
        for key, reason, seconds in results:
            bar.update(1)
            index.record(key, reason, seconds)
            if time.monotonic() - last_write > 10.0:
                index.write(final=False)
                last_write = time.monotonic()
    finally:
        bar.close()
        if pool is not None:
            pool.terminate()
            pool.join()
    return index.write(final=True)


def cache_summary(index: dict) -> dict:
    """Counts per split and per category (and skipped) of a cache index."""
    per_split: dict[str, int] = defaultdict(int)
    per_category: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for o in index.get("objects", []):
        per_split[o["split"]] += 1
        per_category[o["category"]][o["split"]] += 1
    return {
        "source": index.get("source"),
        "objects": len(index.get("objects", [])),
        "skipped": len(index.get("skipped", [])),
        "per_split": dict(per_split),
        "per_category": {c: dict(v) for c, v in sorted(per_category.items())},
        "config": index.get("config"),
    }
