"""Mesh sources: pybullet_data objects, procedural categories, ShapeNet and any mesh directory.

``base`` defines what a source is; ``registry.open_source`` opens one by its spec; each source has its module.
"""

from vtr_perception.data.sources.base import MeshSource, ObjectRecord, color_for, stable_hash
from vtr_perception.data.sources.registry import open_source

__all__ = ["MeshSource", "ObjectRecord", "color_for", "open_source", "stable_hash"]
