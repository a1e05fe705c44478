"""Mesh sources behind one interface, and ``open_source`` to pick one by a spec string.

A source lists object records and loads each as a MeshData in its own units (metres
for pybullet_data and the procedural shapes, ShapeNet's unit cube otherwise), z up, NOT
normalised: the cache normalises into the canonical cube (geometry/voxels.py) itself.

Specs:
    pybullet, pybullet:random   the 1000 pybullet_data random_urdfs objects
    pybullet:named              pybullet_data's named meshes (teddy, duck, bunny, ...)
    pybullet:all                both
    procedural[:N]              the project's procedural categories, N per category (default 100)
    shapenet:PATH               ShapeNetCore (<PATH>/<synset>/<model>/models/model_normalized.obj)
    meshdir:PATH                any directory tree of .obj/.ply/.stl/.off files
"""

from __future__ import annotations

import colorsys
import hashlib
from dataclasses import asdict, dataclass, field
from typing import Protocol, runtime_checkable

from vtr_perception.geometry.mesh import MeshData


@dataclass
class ObjectRecord:
    """One object of a source: enough to load it again and to place it in a split."""

    source: str
    object_id: str
    name: str
    category: str
    path: str | None = None
    params: dict = field(default_factory=dict)

    @property
    def key(self) -> str:
        """Unique, file-name-safe key across sources, e.g. 'pybullet_042'."""
        safe = "".join(c if c.isalnum() or c in "-_." else "-" for c in self.object_id)
        return f"{self.source}_{safe}"

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> ObjectRecord:
        return cls(**{k: d[k] for k in ("source", "object_id", "name", "category", "path", "params") if k in d})


@runtime_checkable
class MeshSource(Protocol):
    """Lists and loads meshes; ``spec`` re-opens the same source (open_source(spec))."""

    name: str
    spec: str

    def list_objects(self) -> list[ObjectRecord]: ...

    def load(self, record: ObjectRecord) -> MeshData: ...


# Saturated, well separated colours; objects get one by a stable hash of their id.
PALETTE: tuple[tuple[float, float, float], ...] = tuple(
    colorsys.hsv_to_rgb(h / 12.0, s, v) for h in range(12) for s, v in ((0.85, 0.9), (0.6, 0.75))
)


def stable_hash(text: str) -> int:
    """A 64-bit hash of ``text`` that is the same in every process and Python version."""
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")


def color_for(object_id: str) -> tuple[float, float, float]:
    """A palette colour picked deterministically from an object id."""
    return PALETTE[stable_hash(object_id) % len(PALETTE)]


def _split_spec(spec: str) -> tuple[str, str]:
    kind, _, arg = spec.partition(":")
    return kind.strip().lower(), arg.strip()


def open_source(spec: str) -> MeshSource:
    """The mesh source named by ``spec`` (see the module docstring); ValueError for unknown specs."""
    kind, arg = _split_spec(spec)
    if kind == "pybullet":
        from vtr_perception.data.pybullet_source import PybulletSource

        return PybulletSource(subset=arg or "random")
    if kind == "procedural":
        from vtr_perception.data.procedural import ProceduralSource

        if arg and not arg.isdigit():
            raise ValueError(f"procedural source takes a count per category, e.g. procedural:100, got {spec!r}")
        return ProceduralSource(per_category=int(arg) if arg else 100)
    if kind == "shapenet":
        from vtr_perception.data.shapenet import ShapeNetCoreSource

        if not arg:
            raise ValueError("shapenet source needs a path: shapenet:/path/to/ShapeNetCore.v2")
        return ShapeNetCoreSource(arg)
    if kind == "meshdir":
        from vtr_perception.data.meshdir import MeshDirSource

        if not arg:
            raise ValueError("meshdir source needs a path: meshdir:/path/to/meshes")
        return MeshDirSource(arg)
    raise ValueError(
        f"unknown mesh source {spec!r}; expected pybullet[:random|named|all], procedural[:N], "
        "shapenet:PATH or meshdir:PATH"
    )
