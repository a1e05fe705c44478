import numpy as np

from tests.nbv.test_planner import _cube, _direction, _planner
from vtr_perception.nbv.object_grid import ObjectGrid, obstacles_besides
from vtr_perception.nbv.occlusion import occluded_fraction, occupied_box, target_points


def test_a_sightline_through_a_box_is_blocked_and_one_beside_or_short_of_it_is_not():
    box = (np.array([1.0, -0.5, -0.5]), np.array([2.0, 0.5, 0.5]))
    targets = np.zeros((1, 3))
    cams = np.array(
        [
            [3.0, 0.0, 0.0],  # the box between camera and target
            [3.0, 2.0, 0.0],  # beside it
            [-3.0, 0.0, 0.0],  # behind the target: the box is past the target
            [1.5, 0.0, 0.0],  # inside the box
            [0.0, 0.0, 3.0],
        ]
    )  # along an axis the segment runs parallel to, outside the slab
    np.testing.assert_array_equal(occluded_fraction(cams, targets, [box]), [1.0, 0.0, 0.0, 1.0, 0.0])
    assert occluded_fraction(cams, targets, [box], margin=1.0)[4] == 0.0
    np.testing.assert_array_equal(occluded_fraction(cams, targets, []), np.zeros(5))
    # half the targets behind the box from +x, none from +y
    two = np.array([[0.0, 0.0, 0.0], [0.0, 3.0, 0.0]])
    np.testing.assert_allclose(occluded_fraction(cams[:1], two, [box]), [0.5])
    # a target inside a box tells nothing: left out
    np.testing.assert_array_equal(occluded_fraction(cams[:1], np.array([[1.5, 0.0, 0.0]]), [box]), [0.0])


def test_boxes_and_targets_come_from_the_occupied_voxels():
    occ = _cube()  # voxels 4..11 of 16 in a grid of side 1.6 centred at (1, 0, 0)
    lo, hi = occupied_box(occ, (1.0, 0.0, 0.0), 1.6, 0.5)
    np.testing.assert_allclose(lo, [1.0 - 0.4, -0.4, -0.4])
    np.testing.assert_allclose(hi, [1.0 + 0.4, 0.4, 0.4])
    assert occupied_box(np.zeros_like(occ), (0, 0, 0), 1.0, 0.5) is None
    pts = target_points(occ, (1.0, 0.0, 0.0), 1.6, 0.5, max_points=64)
    assert len(pts) == 64 and np.all(np.abs(pts - [1.0, 0.0, 0.0]) < 0.4)
    np.testing.assert_array_equal(target_points(np.zeros_like(occ), (1.0, 2.0, 3.0), 1.0, 0.5), [[1.0, 2.0, 3.0]])


def test_the_planner_does_not_look_through_a_neighbour():
    occupancy = _cube()
    error = np.zeros_like(occupancy)
    error[11, 4:12, 4:12] = 1.0  # the +x face: best seen from +x ...
    free = _planner().plan(error, occupancy)
    assert _direction(free.best_pose)[0] > 0.9
    neighbour = ObjectGrid(2, _cube(), np.zeros_like(occupancy), 1.2 * _direction(free.best_pose), 1.0, 1)
    target = ObjectGrid(1, occupancy, error, np.zeros(3), 1.0, 1)
    obstacles = obstacles_besides({1: target, 2: neighbour}, 1, 0.4)
    assert len(obstacles) == 1
    blocked = _planner().plan(error, occupancy, obstacles=obstacles)  # ... where a neighbour stands
    assert len(blocked.poses) < len(free.poses)
    cams = blocked.poses[:, :3, 3]
    assert occluded_fraction(cams, target_points(occupancy, (0, 0, 0), 1.0, 0.4), obstacles, 0.01).max() <= 0.1
    assert not np.allclose(blocked.best_pose, free.best_pose) and blocked.gains[0] > 0.0  # over or around it
    off = _planner(max_occluded_fraction=1.0).plan(error, occupancy, obstacles=obstacles)
    np.testing.assert_array_equal(off.poses, free.poses)
    walls = []  # six slabs around the object, beyond 0.9 from its centre: every candidate stands in one
    for axis in range(3):
        for sign in (-1.0, 1.0):
            lo, hi = np.full(3, -5.0), np.full(3, 5.0)
            (lo if sign > 0 else hi)[axis] = sign * 0.9
            walls.append((lo, hi))
    walled = _planner().plan(error, occupancy, obstacles=walls)
    assert walled.best_pose is None and walled.stop and "limits" in walled.reason  # a defined answer
