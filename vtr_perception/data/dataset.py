"""Torch Dataset over a rendered-view cache (cache.py), and re-loading a cached object's mesh.

An item is one object with ``num_views`` of its views from one view set:

    images     float32 (V, 3, H, W) RGB in [0, 1], background as rendered
    rotations  float32 (V, 3, 3)    R_world_camera, world = the object's canonical frame
    azimuth    float32 (V,) degrees;  elevation float32 (V,) degrees
    voxels     float32 (R, R, R)    occupancy in the canonical cube, (i, j, k) = (x, y, z)
    index int, object_id str (the cache key, e.g. 'pybullet_042'), category str

Views are drawn at random on every call from torch's generator (so DataLoader workers
differ and ``torch.manual_seed`` reproduces a run); ``fixed=True`` draws them from a
generator seeded by (seed, index) so evaluation sees the same views on every pass.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from vtr_perception.data.cache import read_index, read_object
from vtr_perception.data.sources import ObjectRecord, open_source
from vtr_perception.geometry.mesh import MeshData


class ViewDataset(Dataset):
    """Objects of one split of a cache, ``num_views`` views each from ``view_set``."""

    def __init__(
        self,
        cache_dir: str | Path,
        *,
        split: str | None = "train",
        view_set: str = "aligned",
        num_views: int = 3,
        categories: list[str] | None = None,
        seed: int = 0,
        fixed: bool = False,
    ) -> None:
        self.cache_dir = Path(cache_dir)
        self.index = read_index(self.cache_dir)
        available = self.index["config"]["views"]
        if view_set not in available:
            raise ValueError(f"cache {cache_dir} has no view set {view_set!r}; it has {sorted(available)}")
        if not 1 <= num_views <= available[view_set]:
            raise ValueError(f"num_views must be in 1..{available[view_set]} for {view_set!r}, got {num_views}")
        objects = self.index["objects"]
        if split is not None:
            objects = [o for o in objects if o["split"] == split]
        if categories:
            objects = [o for o in objects if o["category"] in set(categories)]
        self.objects = objects
        self.view_set = view_set
        self.num_views = num_views
        self.seed = seed
        self.fixed = fixed

    def __len__(self) -> int:
        return len(self.objects)

    def categories(self) -> list[str]:
        return [o["category"] for o in self.objects]

    def load_object(self, index: int, keys: tuple[str, ...] | None = None) -> dict[str, np.ndarray]:
        """Cached arrays of one object (all, or ``keys`` and the voxels; voxels unpacked)."""
        return read_object(self.cache_dir / self.objects[index]["file"], keys)

    def __getitem__(self, index: int) -> dict:
        if not 0 <= index < len(self.objects):
            raise IndexError(f"index {index} out of range for {len(self.objects)} objects")
        entry = self.objects[index]
        vs = self.view_set
        arrays = self.load_object(
            index, tuple(f"{vs}/{k}" for k in ("images", "azimuth", "elevation", "T_world_camera"))
        )
        n_available = len(arrays[f"{vs}/azimuth"])
        if self.fixed:
            rng = np.random.default_rng([self.seed, index])
        else:  # torch's generator: seeded per DataLoader worker and by torch.manual_seed
            rng = np.random.default_rng(int(torch.randint(0, 2**62, ()).item()))
        pick = np.sort(rng.choice(n_available, size=self.num_views, replace=False))
        images = arrays[f"{vs}/images"][pick].astype(np.float32) / 255.0
        return {
            "images": torch.from_numpy(np.ascontiguousarray(images.transpose(0, 3, 1, 2))),
            "rotations": torch.from_numpy(arrays[f"{vs}/T_world_camera"][pick, :3, :3].astype(np.float32)),
            "azimuth": torch.from_numpy(arrays[f"{vs}/azimuth"][pick].astype(np.float32)),
            "elevation": torch.from_numpy(arrays[f"{vs}/elevation"][pick].astype(np.float32)),
            "voxels": torch.from_numpy(arrays["voxels"].astype(np.float32)),
            "index": index,
            "object_id": entry["key"],
            "category": entry["category"],
        }


def cached_records(cache_dir: str | Path, *, split: str | None = None) -> list[dict]:
    """The index entries (source, object_id, name, category, split, file, key, ...) of a cache."""
    objects = read_index(cache_dir)["objects"]
    return [o for o in objects if split is None or o["split"] == split]


def load_cached_mesh(cache_dir: str | Path, object_key: str) -> MeshData:
    """The true mesh of a cached object, in the canonical cube exactly as it was rendered and voxelised.

    Re-opens the cache's source and applies the stored normalisation, so synthesizers
    can render the object from new viewpoints consistent with the cached views.
    """
    from vtr_perception.geometry.voxels import Normalization

    index = read_index(cache_dir)
    entry = next((o for o in index["objects"] if o["key"] == object_key), None)
    if entry is None:
        raise ValueError(f"object {object_key!r} is not in the cache at {cache_dir}")
    arrays = read_object(Path(cache_dir) / entry["file"])
    normalization = Normalization.from_dict(json.loads(str(arrays["normalization"])))
    mesh = open_source(index["source"]).load(ObjectRecord.from_dict(entry))
    return normalization.mesh_to_canonical(mesh)
