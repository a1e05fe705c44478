"""The "render" synthesizer: re-render the true mesh at the target view (the upper bound).

It ignores the source image and needs the object's key to load its mesh from the data
cache that holds it (one or several caches, as the reconstructor trains on several), so it
shows what VTR would gain from perfect view synthesis.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch

from vtr_perception.train.synthesis.base import ViewSynthesizer


class RenderSynthesizer(ViewSynthesizer):
    """Renders the cached ground-truth mesh of each object at the target angles."""

    name = "render"

    def __init__(
        self,
        cache_dirs: str | Path | Sequence[str | Path],
        *,
        load_mesh: Callable | None = None,
        render: Callable | None = None,
    ):
        if isinstance(cache_dirs, (str, Path)):
            cache_dirs = [cache_dirs]
        self.cache_dirs = [Path(c) for c in cache_dirs]
        if not self.cache_dirs:
            raise ValueError("the render synthesizer needs at least one data cache directory")
        if load_mesh is None:
            from vtr_perception.data.dataset import load_cached_mesh as load_mesh
        if render is None:
            from vtr_perception.geometry.renderer import render_object_views as render
        self._load_mesh = load_mesh
        self._render = render
        self._meshes: dict[str, object] = {}
        self._cache_of: dict[str, Path] | None = None

    def _cache_dir(self, key: str) -> Path:
        if len(self.cache_dirs) == 1:
            return self.cache_dirs[0]
        if self._cache_of is None:
            from vtr_perception.data.cache import read_index

            # reversed: a key held by two caches comes from the first one listed
            self._cache_of = {o["key"]: c for c in reversed(self.cache_dirs) for o in read_index(c)["objects"]}
        if key not in self._cache_of:
            raise ValueError(f"object {key!r} is in none of the caches {', '.join(map(str, self.cache_dirs))}")
        return self._cache_of[key]

    def _mesh(self, key: str):
        if key not in self._meshes:
            self._meshes[key] = self._load_mesh(self._cache_dir(key), key)
        return self._meshes[key]

    def _synthesize(self, source_images, source_az_el, target_az_el, *, object_keys: Sequence[str] | None):
        if object_keys is None:
            raise ValueError("the render synthesizer needs object_keys to load each object's true mesh")
        n, _, h, w = source_images.shape
        if h != w:
            raise ValueError(f"the render synthesizer makes square images, got {h}x{w} sources")
        out = torch.empty((n, 3, h, w), dtype=torch.float32)
        tgt = target_az_el.numpy()
        # Group by object so each mesh is rendered once with all its target views.
        by_key: dict[str, list[int]] = {}
        for i, key in enumerate(object_keys):
            by_key.setdefault(key, []).append(i)
        for key, idx in by_key.items():
            images = self._render(self._mesh(key), tgt[idx, 0], tgt[idx, 1], size=h)[0]
            images = np.asarray(images)
            if images.dtype == np.uint8:
                images = images.astype(np.float32) / 255.0
            out[idx] = torch.from_numpy(np.ascontiguousarray(images[..., :3].transpose(0, 3, 1, 2))).float()
        return out
