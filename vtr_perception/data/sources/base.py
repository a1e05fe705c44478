"""What every mesh source is: an object record, the source protocol, and stable per-object colours."""

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

    @staticmethod
    def source_of_key(key: str) -> str:
        """The source name of a ``key`` (source names have no underscore)."""
        return key.split("_", 1)[0]

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
