import numpy as np

from vtr_perception.geometry.cameras import camera_from_angles
from vtr_perception.nbv.taken_views import TakenViews

A = camera_from_angles(0.0, 30.0, 0.5)
B = camera_from_angles(90.0, 30.0, 0.5)


def test_a_view_is_recorded_for_every_object_whose_count_grew():
    taken = TakenViews()
    assert taken.update({1: 1, 2: 1}, A) == [1, 2]
    assert taken.update({1: 2, 2: 1}, B) == [1]  # object 2 did not use this frame
    assert [np.allclose(T, A) for T in taken.poses(1)] == [True, False]
    assert len(taken.poses(2)) == 1 and np.allclose(taken.poses(2)[0], A)
    assert taken.poses(3) == []


def test_counts_advance_even_without_a_pose_and_repeats_are_not_recorded():
    taken = TakenViews()
    assert taken.update({1: 1}, None) == []
    assert taken.update({1: 1}, A) == []  # the count did not grow since
    assert taken.update({1: 2}, A) == [1]
    assert taken.update({1: 3}, A) == []  # the same pose again
    assert taken.record(1, B) and not taken.record(1, B)
    assert len(taken.poses(1)) == 2


def test_poses_are_copies():
    taken = TakenViews()
    taken.update({1: 1}, A)
    taken.poses(1)[0][0, 3] = 99.0
    taken.poses(1).clear()
    assert np.allclose(taken.poses(1)[0], A)
