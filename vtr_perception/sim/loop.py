"""The demo's closed loop in one process, without DDS: simulated camera, perception pipeline, planner.

``SimulatedLoop`` is one scene as the demo's nodes see it: the simulated camera (sim/camera.py) renders
frames that ``PerceptionPipeline`` takes with the reconstruction node's shipped parameters, the views
each reconstruction used are recorded as nbv_node records them (nbv/taken_views.py), and grids are
handed to the planner as nbv_node rebuilds them (nbv/object_grid.py). ``run_scene`` runs the demo's
per-object schedule on it: a reset, the object's first view, then views chosen by the planner or at
random, scoring IoU against the truth after each. The table-top benchmarks and the loop-crop training
data are built on it.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import numpy as np

from vtr_perception.geometry import cameras
from vtr_perception.nbv.candidates import candidate_distances
from vtr_perception.nbv.config import PlannerConfig
from vtr_perception.nbv.object_grid import ObjectGrid, obstacles_besides
from vtr_perception.nbv.planner import NextBestViewPlanner, PlanResult
from vtr_perception.nbv.taken_views import TakenViews
from vtr_perception.perception.config import PerceptionConfig
from vtr_perception.perception.pipeline import PerceptionPipeline
from vtr_perception.resources import shipped_parameters
from vtr_perception.sim.camera import SimCamera, SimCameraConfig
from vtr_perception.sim.object_views import initial_view, random_view, track_of
from vtr_perception.sim.scenes import SceneObject, TableTopScene
from vtr_perception.sim.truth import grid_iou

PLANNERS = ("nbv", "random")
INITIAL_DISTANCE = 0.5  # metres: the demo's first view of each object
# Camera frames at a new pose after which a view the reconstruction has not used counts as unusable
# (not segmented from there, or too like a view it has); a usable one is taken within ~5. The
# tracker sees all of them: a track missed in 8 of them is retired (PerceptionConfig.retire_misses).
FRAMES_PER_VIEW = 15
FRAME_PERIOD_S = 0.25  # simulated seconds between frames


def shipped_perception_config(**overrides) -> PerceptionConfig:
    """config/reconstruction.yaml's perception parameters, with keyword overrides."""
    return PerceptionConfig(**{**shipped_parameters("reconstruction")["perception"], **overrides})


def demo_planner_config(**overrides) -> PlannerConfig:
    """config/nbv.yaml's planner with both stop gains 0 (the demo's fixed number of views), with overrides."""
    return PlannerConfig(
        **{**shipped_parameters("nbv")["planner"], "stop_gain": 0.0, "stop_information_gain": 0.0, **overrides}
    )


class SimulatedLoop:
    """One scene: camera, perception pipeline, planner and the views-taken record, as the demo's nodes."""

    def __init__(
        self,
        scene: TableTopScene,
        backend,
        planner: NextBestViewPlanner | None = None,
        perception: PerceptionConfig | None = None,
        *,
        camera: SimCameraConfig | None = None,
        look_at_start: bool = True,
    ) -> None:
        camera = camera or SimCameraConfig()
        self.scene = scene
        self.camera = SimCamera(camera, scene)
        self.intrinsics = self.camera.intrinsics
        self.pipeline = PerceptionPipeline(perception or shipped_perception_config(), backend)
        self.planner = planner or NextBestViewPlanner(demo_planner_config())
        self.taken = TakenViews()
        self.followed: dict[int, int] = {}  # object index -> the track measured for it so far
        self.stamp = 0.0
        first = scene.objects[0].center
        self.pose = cameras.camera_from_angles(camera.start_azimuth_deg, camera.start_elevation_deg, camera.distance,
                                               target=first)  # fmt: skip
        if look_at_start:
            self.look(self.pose, None)

    def track_for(self, obj: SceneObject) -> int | None:
        """As the demo's monitor: the track followed so far while it is near enough, else the nearest."""
        centers = {i: e.grid_center for i, e in self.pipeline.estimates().items()}
        tid = track_of(obj, centers, self.followed.get(obj.index))
        if tid is not None:
            self.followed[obj.index] = tid
        return tid

    def views_of(self, obj: SceneObject) -> int:
        tid = self.track_for(obj)
        return 0 if tid is None else self.pipeline.estimates()[tid].num_views

    def look(self, pose: np.ndarray, obj: SceneObject | None, frames: int = FRAMES_PER_VIEW) -> None:
        """Render frames at ``pose`` until ``obj``'s reconstruction has used one (or ``frames``, as the demo)."""
        self.pose = np.asarray(pose, dtype=np.float64)
        before = self.views_of(obj) if obj is not None else 0
        for _ in range(frames):
            self.camera.move_to(self.pose)
            frame = self.camera.render()
            self.stamp += FRAME_PERIOD_S
            self.pipeline.process(frame.rgb, frame.depth, self.intrinsics, self.pose, self.stamp)
            estimates = self.pipeline.estimates()
            self.taken.update({i: e.num_views for i, e in estimates.items()}, self.pose)
            if obj is None or self.views_of(obj) > before:
                break

    def grids(self) -> dict[int, ObjectGrid]:
        """Every reconstructed object's grid, as nbv_node rebuilds them from the error cloud."""
        return {i: ObjectGrid(i, e.occupancy, e.error, np.asarray(e.grid_center), float(e.grid_extent), e.num_views,
                              e.state) for i, e in self.pipeline.estimates().items()}  # fmt: skip

    def grid(self, obj: SceneObject) -> tuple[int, ObjectGrid] | None:
        tid = self.track_for(obj)
        return None if tid is None else (tid, self.grids()[tid])

    def track(self, obj: SceneObject):
        """``obj``'s confirmed track (perception.tracking.Track), or None."""
        tid = self.track_for(obj)
        return next((t for t in self.pipeline.tracker.confirmed() if t.id == tid), None)

    def planned_view(self, track_id: int, moves: list[np.ndarray]) -> np.ndarray | None:
        """The planner's next view of ``track_id`` as nbv_node plans it, or None when it has none."""
        result = self.plan(track_id, moves)
        return None if result is None else result.best_pose

    def plan(self, track_id: int, moves: list[np.ndarray]) -> PlanResult | None:
        """The planner's ranking of views of ``track_id`` as nbv_node makes it; None without that track.

        As nbv_node: the other objects stand in the line of sight; the views the reconstruction used,
        the moves made for the object after its first view (``moves[1:]``) and the current pose count as taken.
        """
        grid = self.grids().get(track_id)
        if grid is None:
            return None
        obstacles = obstacles_besides(self.grids(), track_id, self.planner.config.occupancy_threshold)
        return self.planner.plan_from_outputs(
            {"occupancy": grid.occupancy, "error": grid.error, "state": grid.state},
            center=grid.center,
            extent=grid.extent,
            current_pose=self.pose,
            taken_poses=[*self.taken.poses(track_id), *moves[1:], self.pose],
            obstacles=obstacles,
            views=grid.views,
        )

    def iou_of(self, obj: SceneObject) -> float:
        """IoU at 0.4 of ``obj``'s reconstruction against its truth now; 0 when it has none."""
        found = self.grid(obj)
        return 0.0 if found is None else grid_iou(obj, found[1])

    def snapshot(self) -> tuple:
        """What a view changes (tracks, views taken, followed tracks, clock, camera, its noise): to try, then undo."""
        backend, self.pipeline.backend = self.pipeline.backend, None  # a runtime session is shared, not copied
        try:
            return copy.deepcopy((self.pipeline, self.taken, self.followed, self.stamp, self.pose, self.camera.rng))
        finally:
            self.pipeline.backend = backend

    def restore(self, snapshot: tuple) -> None:
        backend = self.pipeline.backend
        self.pipeline, self.taken, self.followed, self.stamp, self.pose, self.camera.rng = copy.deepcopy(snapshot)
        self.pipeline.backend = backend


def iou_score(loop: SimulatedLoop, obj: SceneObject, grid: ObjectGrid | None) -> float:
    """``run_scene``'s default score: IoU at 0.4 against the truth, 0 without a reconstruction."""
    return 0.0 if grid is None else grid_iou(obj, grid)


def run_scene(scene: TableTopScene, backend, config: PlannerConfig, planner_name: str, *, seed: int, steps: int,
              perception: PerceptionConfig | None = None, camera: SimCameraConfig | None = None,
              score: Callable[[SimulatedLoop, SceneObject, ObjectGrid | None], Any] = iou_score,
              reset_per_object: bool = True) -> list[list[Any]]:  # fmt: skip
    """``score`` (IoU by default) after each of ``steps`` views, per object, for one planner."""
    loop = SimulatedLoop(scene, backend, NextBestViewPlanner(config), perception, camera=camera)
    rng = np.random.default_rng(seed + 1)  # the demo's monitor seed
    distances = candidate_distances(config)
    rows = []
    for obj in scene.objects:
        if reset_per_object:  # as the demo's monitor calls reconstruction/reset (here before the first frame)
            loop.pipeline.reset()
        moves = [initial_view(obj, seed + 1, INITIAL_DISTANCE)]
        loop.look(moves[-1], obj)
        ious: list[Any] = []
        for step in range(steps):
            found = loop.grid(obj)
            if found is None:
                ious.append(score(loop, obj, None))  # not reconstructed (lost track): the demo would stop here
                continue
            tid, grid = found
            ious.append(score(loop, obj, grid))
            if step + 1 == steps:
                break
            if planner_name == "random":
                pose = random_view(obj, rng, float(rng.choice(distances)),
                                   (config.elevation_min_deg, config.elevation_max_deg),
                                   taken=[*moves, *loop.taken.poses(tid)],
                                   min_angle_deg=config.min_angle_from_taken_deg)  # fmt: skip
            else:
                planned = loop.planned_view(tid, moves)
                pose = loop.pose if planned is None else planned
            moves.append(pose)
            loop.look(pose, obj)
        rows.append(ious)
    return rows
