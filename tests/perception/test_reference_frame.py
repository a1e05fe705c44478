import numpy as np
import pytest

from tests.perception.doubles import FixedShapeBackend
from tests.perception.scenes import Box, camera_on_circle, render
from vtr_perception.geometry.cameras import Intrinsics
from vtr_perception.geometry.voxels import voxel_centers
from vtr_perception.perception.config import PerceptionConfig
from vtr_perception.perception.pipeline import PerceptionPipeline
from vtr_perception.perception.reference_frame import (
    Cube,
    object_axes_cube,
    quarter_turn_yaw,
    resample_cube,
    yaw_matrix,
)

K = Intrinsics.from_fov(320, 240, 60)
BOX = Box((0.03, -0.02), (0.12, 0.06, 0.09), 35)


def _surface_points(box: Box, n: int = 4000, seed: int = 0) -> np.ndarray:
    """Points on the box's vertical faces and top (what fused depth sees of it), world frame."""
    rng = np.random.default_rng(seed)
    local = rng.uniform(-0.5, 0.5, (n, 3)) * np.asarray(box.size)
    axis = rng.integers(0, 3, n)
    local[np.arange(n), axis] = np.where(rng.random(n) < 0.5, -0.5, 0.5) * np.asarray(box.size)[axis]
    return local @ box.R.T + box.center


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max((a | b).sum(), 1))


def _box_in_cube(box: Box, cube: Cube, resolution: int) -> np.ndarray:
    world = voxel_centers(resolution).reshape(-1, 3) * cube.side @ cube.rotation.T + cube.center
    local = (world - box.center) @ box.R
    return np.all(np.abs(local) <= np.asarray(box.size) / 2.0, axis=1).reshape((resolution,) * 3)


@pytest.mark.parametrize(
    ("yaw_deg", "expected"), [(0, 0), (10, 10), (35, 35), (55, -35), (100, 10), (-20, -20), (190, 10)]
)
def test_quarter_turn_yaw_finds_the_sides_of_a_turned_box(yaw_deg, expected):
    points = _surface_points(Box((0.1, 0.2), (0.12, 0.06, 0.09), yaw_deg))
    assert np.degrees(quarter_turn_yaw(points)) == pytest.approx(expected, abs=1.5)


def test_quarter_turn_yaw_of_too_few_points_is_zero():
    assert quarter_turn_yaw(np.zeros((2, 3))) == 0.0


def test_object_axes_cube_is_the_box_in_its_own_axes():
    points = _surface_points(BOX)
    fallback = Cube(np.zeros(3), 1.0, np.eye(3))
    cube = object_axes_cube(points, floor_z=0.0, fallback=fallback)
    assert cube.side == pytest.approx(0.12, abs=2e-3)  # the longest side, not the world-axis extent
    world_extent = float((points.max(0) - points.min(0)).max())
    assert world_extent > 0.125
    np.testing.assert_allclose(cube.center, BOX.center, atol=2e-3)
    np.testing.assert_allclose(cube.rotation, yaw_matrix(np.radians(35)), atol=0.03)
    # the support extends the box down: points of the top half only still give a box standing on z = 0
    top = points[points[:, 2] > 0.05]
    assert object_axes_cube(top, floor_z=0.0, fallback=fallback).center[2] == pytest.approx(cube.center[2], abs=2e-3)
    assert object_axes_cube(points[:5], floor_z=0.0, fallback=fallback) is fallback


def test_resample_cube_maps_the_object_axes_grid_onto_the_world_grid():
    R = 32
    own = Cube(BOX.center, 0.12, BOX.R)
    world = Cube(BOX.center, float(np.ptp(_surface_points(BOX), axis=0).max()), np.eye(3))
    in_own_axes = _box_in_cube(BOX, own, R)
    np.testing.assert_array_equal(resample_cube(in_own_axes, own, own, order=0), in_own_axes)
    resampled = resample_cube(in_own_axes.astype(np.float32), own, world) >= 0.5
    assert _iou(resampled, _box_in_cube(BOX, world, R)) > 0.85
    # read as if it were world-aligned, the same grid is a different box
    assert _iou(in_own_axes, _box_in_cube(BOX, world, R)) < 0.7
    far = Cube(BOX.center + 10.0, 0.12, np.eye(3))
    assert not resample_cube(in_own_axes.astype(np.float32), own, far).any()  # outside the source: empty


def _reconstruct(reference_frame: str, answer: np.ndarray):
    pipe = PerceptionPipeline(
        PerceptionConfig(pixel_stride=2, reference_frame=reference_frame), FixedShapeBackend(answer)
    )
    for i, az in enumerate([0, 25, 50]):
        T = camera_on_circle(az)
        rgb, depth, _ = render([BOX], K, T)
        pipe.process(rgb, depth, K, T, float(i))
    (est,) = pipe.estimates().values()
    grid = Cube(np.asarray(est.grid_center), float(est.grid_extent), np.eye(3))
    return pipe, _iou(est.occupancy >= 0.4, _box_in_cube(BOX, grid, est.occupancy.shape[0]))


def test_pipeline_places_an_answer_given_in_the_object_axes_in_the_world():
    R = 24
    straight = Box((0.0, 0.0), BOX.size, 0.0).occupancy(R)  # a perfect model's answer in the object's own axes
    pipe, iou = _reconstruct("object_axes", straight)
    assert iou > 0.7
    _, iou_world = _reconstruct("world", straight)  # the same answer read in the world's axes is misplaced
    assert iou_world < iou - 0.15
    # the model was told camera rotations in the turned frame: R_ref_virtual = yaw(-35 deg) R_world_virtual
    _, rot_object = pipe.backend.calls[-1]
    pipe_world, _ = _reconstruct("world", BOX.occupancy(R))
    _, rot_world = pipe_world.backend.calls[-1]
    turn = rot_object[0] @ np.swapaxes(rot_world[0], -1, -2)
    for t in turn:
        assert np.degrees(np.arccos(np.clip((np.trace(t @ yaw_matrix(np.radians(35))) - 1) / 2, -1, 1))) < 4.0


def test_world_reference_frame_keeps_the_world_axis_crop():
    R = 24
    _, iou = _reconstruct("world", BOX.occupancy(R))
    assert iou > 0.7


def test_unknown_reference_frame_is_a_clear_error():
    with pytest.raises(ValueError, match="reference_frame"):
        PerceptionConfig(reference_frame="camera")


def test_reference_turns_batch_the_quarter_turned_frames_and_average_them():
    R = 24
    cubic = Box((0.0, 0.0), (0.09, 0.09, 0.09), 0.0).occupancy(R)  # the same answer in every quarter-turned frame
    answers = {}
    for turns in (1, 4):
        pipe = PerceptionPipeline(PerceptionConfig(pixel_stride=2, reference_turns=turns), FixedShapeBackend(cubic))
        for i, az in enumerate([0, 25, 50]):
            T = camera_on_circle(az)
            rgb, depth, _ = render([BOX], K, T)
            pipe.process(rgb, depth, K, T, float(i))
        images, rotations = pipe.backend.calls[-1]
        assert images.shape[0] == rotations.shape[0] == turns  # one batch, one row per frame
        for k in range(turns):
            np.testing.assert_array_equal(images[k], images[0])
            np.testing.assert_allclose(rotations[k], yaw_matrix(np.pi / 2 * k).T @ rotations[0], atol=1e-5)
        (est,) = pipe.estimates().values()
        answers[turns] = est.occupancy
    np.testing.assert_allclose(answers[4], answers[1], atol=1e-4)
    with pytest.raises(ValueError, match="reference_turns"):
        PerceptionConfig(reference_turns=3)
