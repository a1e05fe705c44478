"""Each object's pose, box, score and mesh in the forms robots read, and the files ``~/save_meshes`` writes.

Plain functions of ``ObjectEstimate`` (no rclpy), shared by the message builders in
``ros/robot_outputs.py`` and the reconstruction node's ``~/save_meshes`` service:

- the object frame ``object_<id>`` (the name of its TF child frame, MoveIt collision object and
  files) is ``T_world_object``: origin at the reconstruction's box centre, z up (world z);
- the box is the mesh's axis-aligned bounds in the object frame (its centre in the world, its
  size along the object's x, y, z); an object without a surface gets a cube of its scale;
- the score is 1 - the mean predicted error (the error head's |truth - occupancy|) over the
  voxels at or above the surface level, in [0, 1]: how sure the reconstruction is of its solid;
- ``save_meshes(estimates, directory)`` writes per object ``object_<id>.ply`` (object frame) and
  ``object_<id>_world.ply`` (world frame; its vertices are the object-frame ones moved by the
  pose) and one ``poses.json`` listing every object of this save, each file written atomically.
  Files of objects from earlier saves into the same directory stay; ``poses.json`` names this
  save's.
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vtr_perception.geometry.cameras import quaternion_from_matrix, transform_points
from vtr_perception.geometry.mesh import MeshData
from vtr_perception.geometry.meshing import save_mesh
from vtr_perception.io_utils import atomic_write_json
from vtr_perception.perception.object_pose import ObjectEstimate

POSES_FILE = "poses.json"


def object_name(object_id: int) -> str:
    """The object's frame, collision-object and file name: ``object_<id>``."""
    return f"object_{int(object_id)}"


def object_matrix(est: ObjectEstimate) -> np.ndarray:
    """T_world_object (4x4)."""
    T = np.eye(4)
    T[:3, :3], T[:3, 3] = est.rotation, est.position
    return T


def object_frame_vertices(est: ObjectEstimate, vertices_world: np.ndarray | None = None) -> np.ndarray:
    """(N, 3) mesh vertices (the estimate's, or ``vertices_world``) in the object frame."""
    vertices = est.vertices if vertices_world is None else vertices_world
    return transform_points(np.linalg.inv(object_matrix(est)), np.asarray(vertices, dtype=np.float64).reshape(-1, 3))


@dataclass(frozen=True)
class ObjectBox:
    """An oriented box: T_world_box (the object's axes, centred on the mesh's bounds) and its size (m)."""

    T_world_box: np.ndarray
    size: np.ndarray


def object_box(est: ObjectEstimate) -> ObjectBox:
    """The mesh's bounds along the object's axes (a cube of side ``scale`` at the origin without a mesh)."""
    T = object_matrix(est)
    if len(est.vertices) == 0 or len(est.triangles) == 0:
        return ObjectBox(T, np.full(3, float(est.scale)))
    local = object_frame_vertices(est)
    lo, hi = local.min(axis=0), local.max(axis=0)
    T_box = T.copy()
    T_box[:3, 3] = transform_points(T, ((lo + hi) / 2.0)[None])[0]
    return ObjectBox(T_box, hi - lo)


def reconstruction_score(est: ObjectEstimate) -> float:
    """1 - mean predicted error over the voxels at or above the surface level (0 when there are none)."""
    solid = np.asarray(est.occupancy) >= est.surface_threshold
    if not solid.any():
        return 0.0
    return float(np.clip(1.0 - float(np.mean(np.asarray(est.error)[solid])), 0.0, 1.0))


def _quaternion_xyzw(T: np.ndarray) -> list[float]:
    return [float(v) for v in quaternion_from_matrix(T[:3, :3])]


def object_record(est: ObjectEstimate, *, frame_id: str) -> dict:
    """One object of poses.json: id, frames, pose (matrix, position, quaternion x y z w), box, score, views."""
    T, box = object_matrix(est), object_box(est)
    return {
        "id": int(est.id),
        "frame_id": frame_id,
        "child_frame_id": object_name(est.id),
        "T_world_object": T.tolist(),
        "position": T[:3, 3].tolist(),
        "quaternion_xyzw": _quaternion_xyzw(T),
        "box_center": box.T_world_box[:3, 3].tolist(),
        "box_size": box.size.tolist(),
        "score": reconstruction_score(est),
        "views": int(est.num_views),
        "vertices": len(est.vertices),
        "triangles": len(est.triangles),
    }


@dataclass(frozen=True)
class SaveResult:
    """What ``save_meshes`` wrote: the directory, the objects and the files."""

    directory: Path
    objects: int
    meshes: int
    files: list[Path]


class SaveError(Exception):
    """A save that could not be made (nothing to save, or the directory cannot be written); one readable line."""


def resolve_directory(directory: str) -> Path:
    """``~`` expanded, relative paths against the working directory."""
    if not directory.strip():
        raise SaveError("save_meshes_dir is empty")
    return Path(os.path.expanduser(directory)).absolute()


def save_meshes(
    estimates: Mapping[int, ObjectEstimate], directory: str, *, frame_id: str, stamp_s: float
) -> SaveResult:
    """Write every object's PLYs and poses.json into ``directory`` (created if missing); see the module doc."""
    if not estimates:
        raise SaveError("no objects to save (none reconstructed yet, or all forgotten by a reset)")
    root = resolve_directory(directory)
    records, files = [], []
    try:
        root.mkdir(parents=True, exist_ok=True)
        for i in sorted(estimates):
            est = estimates[i]
            record = object_record(est, frame_id=frame_id)
            record["mesh_object"] = record["mesh_world"] = None
            if len(est.triangles):
                name, triangles = object_name(i), np.asarray(est.triangles)
                record["mesh_object"], record["mesh_world"] = f"{name}.ply", f"{name}_world.ply"
                for vertices, key in ((object_frame_vertices(est), "mesh_object"), (est.vertices, "mesh_world")):
                    files.append(save_mesh(MeshData(vertices, triangles, name=name), root / record[key]))
            records.append(record)
        saved_at = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
        scene = {"frame_id": frame_id, "stamp": float(stamp_s), "saved_at": saved_at, "objects": records}
        files.append(atomic_write_json(root / POSES_FILE, scene))
    except OSError as exc:
        raise SaveError(f"cannot write to {root}: {exc.strerror or exc}") from exc
    return SaveResult(root, len(records), sum(r["mesh_object"] is not None for r in records), files)
