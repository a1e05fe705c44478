"""Training samples as the table-top loop makes them: the reconstructor's inputs from the pipeline, with the truth.

The shipped model trained on clean renders of whole objects (vtr_perception/data/cache.py). In the loop its inputs
are crops of segmented camera frames, made with the track's measured centre, size and axes, with
views through neighbours dropped, from one to ``max_views`` views. To train on that distribution,
each object of a table-top scene gets its first view (``sim.object_views.initial_view``) and then
random views in the planner's band, as the demo's random run, or (``views`` "nbv") the views the
shipped planner chooses from the model's own error estimate, as the demo's NBV run (the inputs the
deployed loop gives the model, which random views alone do not cover); after each view the object's track
gives ``PerceptionPipeline.model_inputs`` (crops and the model's rotations, one reference frame)
and the target: the true mesh voxelised in the same cube, the cube the pipeline's grid is in, so
that IoU against it is what the loop scores.

One ``.npz`` per build (written atomically):

    images      uint8   (views, 3, S, S)   all samples' crops, concatenated
    rotations   float32 (views, 3, 3)      R_ref_virtual, the model's rotations
    directions  float32 (views, 3)         camera minus cube centre, reference axes (pose-head targets)
    voxels      uint8   (samples, R^3 / 8) packed occupancy in the cube
    num_views   int64   (samples,)         views of each sample (its slice of the view arrays)
    object      str     (samples,)         the object's key
    config      str                        the LoopCropConfig as JSON
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from vtr_perception.io_utils import atomic_write
from vtr_perception.nbv.planner import NextBestViewPlanner
from vtr_perception.perception.config import PerceptionConfig
from vtr_perception.perception.pipeline import PerceptionPipeline
from vtr_perception.perception.reference_frame import Cube, resample_cube, yaw_matrix
from vtr_perception.sim.camera import SimCameraConfig
from vtr_perception.sim.loop import SimulatedLoop
from vtr_perception.sim.object_views import initial_view, random_view
from vtr_perception.sim.scenes import SceneObject, make_tabletop_scene
from vtr_perception.sim.truth import truth_in_cube


@dataclass
class LoopCropConfig:
    """Which scenes, views and camera the samples come from (defaults: the demo's camera and views)."""

    source: str = field(
        default="pybullet",
        metadata={
            "help": "mesh source(s) of the scenes' objects, comma-separated (e.g. pybullet,pybullet:named,procedural): "
            "scene i draws from the (i mod n)-th"
        },
    )
    split: str = field(default="train", metadata={"help": "object split the scenes draw from"})
    first_seed: int = field(default=1000, metadata={"help": "first scene seed"})
    scenes: int = field(default=60, metadata={"help": "scenes (seeds first_seed ..)"})
    objects_per_scene: int = field(default=3, metadata={"help": "objects on each table"})
    views_per_object: int = field(default=8, metadata={"help": "views of each object (one sample after each)"})
    width: int = field(default=320, metadata={"help": "image width (sim_camera_node's default)"})
    height: int = field(default=240, metadata={"help": "image height"})
    fov_deg: float = field(default=60.0, metadata={"help": "horizontal field of view"})
    initial_distance: float = field(default=0.5, metadata={"help": "distance of each object's first view (m)"})
    distances: tuple[float, ...] = field(default=(0.6,), metadata={"help": "distances of the random views (m)"})
    elevation_deg: tuple[float, float] = field(default=(15.0, 45.0), metadata={"help": "band of the random views"})
    min_angle_deg: float = field(default=20.0, metadata={"help": "random views this far from the views taken"})
    frames_per_view: int = field(default=15, metadata={"help": "frames at a pose until a view is used (as the demo)"})
    views: str = field(
        default="random",
        metadata={
            "help": "views after the first: random (the demo's random run) "
            "or nbv (the shipped planner's, the demo's NBV run)"
        },
    )

    def __post_init__(self) -> None:
        if self.views not in VIEW_CHOICES:
            raise ValueError(f"LoopCropConfig.views must be one of {', '.join(VIEW_CHOICES)}, got {self.views!r}")


VIEW_CHOICES = ("random", "nbv")


@dataclass
class LoopCropSamples:
    images: list[np.ndarray] = field(default_factory=list)
    rotations: list[np.ndarray] = field(default_factory=list)
    directions: list[np.ndarray] = field(default_factory=list)
    voxels: list[np.ndarray] = field(default_factory=list)
    num_views: list[int] = field(default_factory=list)
    objects: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.num_views)


def scene_source(config: LoopCropConfig, seed: int) -> str:
    """The mesh source of scene ``seed``: the sources of ``config.source`` in turn."""
    sources = [s.strip() for s in config.source.split(",") if s.strip()]
    return sources[(seed - config.first_seed) % len(sources)]


def scene_keys(source: str, split: str, seed: int, count: int) -> list[str]:
    """``count`` objects of ``split`` for scene ``seed``, drawn from the objects that both split rules put there.

    The dataset caches split by index within a category (``split_of_record``), the scenes by a hash of the id
    (``split_of``): taking only objects on which they agree keeps every crop's object out of the caches' val and
    test splits, which the quality gate and the model card evaluate on."""
    from vtr_perception.data.sources import open_source
    from vtr_perception.data.splits import split_of, split_of_record

    records = [r for r in open_source(source).list_objects()
               if split_of_record(r) == split and split_of(r.object_id) == split]  # fmt: skip
    if not records:
        raise ValueError(f"source {source!r} has no {split} objects under both split rules")
    order = np.random.default_rng([seed, 7]).permutation(len(records))[:count]
    return [records[i].key for i in order]


def collect_scene(seed: int, config: LoopCropConfig, perception: PerceptionConfig, backend,
                  samples: LoopCropSamples, planner: NextBestViewPlanner | None = None) -> None:  # fmt: skip
    """Add the samples of one scene (every object: first view, then random or planned views) to ``samples``.

    ``planner``: needed for ``config.views`` "nbv"; where it has no view (none allowed), a random one."""
    if config.views == "nbv" and planner is None:
        raise ValueError("loop crops with planned views (views=nbv) need a planner")
    source = scene_source(config, seed)
    keys = scene_keys(source, config.split, seed, 2 * config.objects_per_scene)
    scene = make_tabletop_scene(source, num_objects=config.objects_per_scene, split=config.split, seed=seed,
                                object_keys=keys)  # fmt: skip
    camera = SimCameraConfig(width=config.width, height=config.height, fov_deg=config.fov_deg)
    loop = SimulatedLoop(scene, backend, planner, perception, camera=camera, look_at_start=False)
    resolution = backend.info.resolution
    rng = np.random.default_rng([seed, 1])
    for obj in scene.objects:
        loop.pipeline.reset()  # as the demo: each object is reconstructed from its own first view
        poses = [initial_view(obj, seed, config.initial_distance)]
        for step in range(config.views_per_object):
            loop.look(poses[-1], obj, frames=config.frames_per_view)
            track = loop.track(obj)
            if track is not None and len(track.buffer):
                _add_sample(samples, loop.pipeline, track, obj, resolution)
            if step + 1 < config.views_per_object:
                planned = None
                if config.views == "nbv" and track is not None:
                    planned = loop.planned_view(track.id, poses)
                poses.append(planned if planned is not None else random_view(
                    obj, rng, float(rng.choice(config.distances)), config.elevation_deg, taken=poses,
                    min_angle_deg=config.min_angle_deg))  # fmt: skip


def _add_sample(samples: LoopCropSamples, pipeline: PerceptionPipeline, track, obj: SceneObject, resolution: int):
    """The track's model inputs now, with the truth in the same cube."""
    inputs = pipeline.model_inputs(track)
    cube = inputs.cubes[0]
    samples.images.append(np.round(inputs.images * 255).astype(np.uint8))
    samples.rotations.append((cube.rotation.T @ inputs.rotations).astype(np.float32))
    views = track.buffer.views[-len(inputs.images) :]
    samples.directions.append((np.stack([v.T_world_camera[:3, 3] for v in views]) - cube.center) @ cube.rotation)
    truth = truth_in_cube(obj, cube.center, cube.side, resolution, rotation=cube.rotation)
    samples.voxels.append(np.packbits(truth.reshape(-1)))
    samples.num_views.append(len(inputs.images))
    samples.objects.append(obj.key)


def write_loop_crops(path: str | Path, samples: LoopCropSamples, config: LoopCropConfig) -> Path:
    if not len(samples):
        raise ValueError("no samples: no object was reconstructed in the scenes asked for")
    arrays = {
        "images": np.concatenate(samples.images), "rotations": np.concatenate(samples.rotations),
        "directions": np.concatenate(samples.directions).astype(np.float32), "voxels": np.stack(samples.voxels),
        "num_views": np.asarray(samples.num_views, dtype=np.int64), "object": np.asarray(samples.objects),
        "config": np.asarray(json.dumps(asdict(config))),
    }  # fmt: skip

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)

    return atomic_write(path, write)


def build_loop_crops(path: str | Path, config: LoopCropConfig, perception: PerceptionConfig, backend, *,
                     planner: NextBestViewPlanner | None = None, progress: bool = True) -> LoopCropSamples:  # fmt: skip
    """Collect every scene's samples and write them to ``path`` (``planner``: for ``config.views`` "nbv")."""
    from tqdm import tqdm

    samples = LoopCropSamples()
    seeds = range(config.first_seed, config.first_seed + config.scenes)
    for seed in tqdm(seeds, desc="loop-crop scenes", disable=not progress):
        collect_scene(seed, config, perception, backend, samples, planner)
    write_loop_crops(path, samples, config)
    return samples


QUARTER_TURNS = [yaw_matrix(k * np.pi / 2) for k in range(4)]


class LoopCropDataset(Dataset):
    """Samples of one or more loop-crop files, items as ViewDataset's (images, rotations, azimuth, elevation, voxels).

    ``augment``: each item's reference frame is turned by a random quarter turn about z (rotations,
    pose targets and voxels together); the object-axes frame is only defined up to one.
    """

    def __init__(self, paths: list[str | Path], *, augment: bool = False) -> None:
        self.items: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, str]] = []
        for path in paths:
            with np.load(path) as f:
                arrays = {k: f[k] for k in ("images", "rotations", "directions", "voxels", "num_views", "object")}
            ends = np.cumsum(arrays["num_views"])
            for i, end in enumerate(ends):
                start = end - arrays["num_views"][i]
                self.items.append(
                    (
                        arrays["images"][start:end],
                        arrays["rotations"][start:end],
                        arrays["directions"][start:end],
                        arrays["voxels"][i],
                        str(arrays["object"][i]),
                    )
                )
        if not self.items:
            raise ValueError(f"no loop-crop samples in {', '.join(map(str, paths))}")
        self.resolution = round((8 * self.items[0][3].size) ** (1.0 / 3.0))
        self.augment = augment

    def __len__(self) -> int:
        return len(self.items)

    def num_views(self, index: int) -> int:
        return len(self.items[index][0])

    def __getitem__(self, index: int) -> dict:
        images, rotations, directions, packed, key = self.items[index]
        R = self.resolution
        voxels = np.unpackbits(packed)[: R**3].reshape(R, R, R).astype(np.float32)
        if self.augment:
            k = int(torch.randint(0, 4, ()).item())
            if k:
                turn = QUARTER_TURNS[k]
                rotations, directions = turn.T @ rotations, directions @ turn
                unit = Cube(np.zeros(3), 1.0, np.eye(3))
                voxels = resample_cube(voxels, unit, Cube(np.zeros(3), 1.0, turn), order=0)
        horizontal = np.linalg.norm(directions[:, :2], axis=1)
        return {
            "images": torch.from_numpy(images.astype(np.float32) / 255.0),
            "rotations": torch.from_numpy(np.ascontiguousarray(rotations, dtype=np.float32)),
            "azimuth": torch.from_numpy(np.degrees(np.arctan2(directions[:, 1], directions[:, 0])).astype(np.float32)),
            "elevation": torch.from_numpy(np.degrees(np.arctan2(directions[:, 2], horizontal)).astype(np.float32)),
            "voxels": torch.from_numpy(voxels),
            "object_id": key,
        }


class SameViewCountBatches(Sampler[list[int]]):
    """Batches of items with the same number of views (a batch is one (B, V, ...) tensor), shuffled."""

    def __init__(self, dataset: LoopCropDataset, batch_size: int, generator: torch.Generator | None = None) -> None:
        self.groups: dict[int, list[int]] = {}
        for i in range(len(dataset)):
            self.groups.setdefault(dataset.num_views(i), []).append(i)
        self.batch_size = batch_size
        self.generator = generator

    def __iter__(self):
        batches = []
        for members in self.groups.values():
            order = torch.randperm(len(members), generator=self.generator).tolist()
            batches += [[members[i] for i in order[s:s + self.batch_size]]
                        for s in range(0, len(order), self.batch_size)]  # fmt: skip
        for b in torch.randperm(len(batches), generator=self.generator).tolist():
            yield batches[b]

    def __len__(self) -> int:
        return sum(-(-len(m) // self.batch_size) for m in self.groups.values())
