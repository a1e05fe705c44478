import pytest

from vtr_perception.ros.sync import FrameAssembler


def test_exact_sync_needs_every_part_with_the_same_stamp():
    a = FrameAssembler(("image", "camera_info", "depth"))
    assert a.add("image", 1.0, "img1") is None
    assert a.add("camera_info", 1.0, "info1") is None
    frame = a.add("depth", 1.0, "depth1")
    assert frame is not None and frame.stamp == 1.0
    assert frame.parts == {"image": "img1", "camera_info": "info1", "depth": "depth1"}
    # a depth image with another stamp does not complete the next frame
    a.add("image", 2.0, "img2")
    a.add("camera_info", 2.0, "info2")
    assert a.add("depth", 2.01, "depth2") is None


def test_approximate_sync_within_slop_and_in_any_order():
    a = FrameAssembler(("image", "camera_info"), mode="approximate", slop=0.02)
    assert a.add("camera_info", 0.995, "info") is None
    frame = a.add("image", 1.0, "img")
    assert frame is not None and frame.parts["camera_info"] == "info"
    assert a.add("image", 1.5, "late") is None  # no camera_info near 1.5


def test_old_frames_are_never_emitted_after_newer_ones():
    a = FrameAssembler(("image", "camera_info"))
    a.add("image", 1.0, "img1")
    a.add("image", 2.0, "img2")
    assert a.add("camera_info", 2.0, "info2").stamp == 2.0
    assert a.add("camera_info", 1.0, "info1") is None


def test_bad_configuration():
    with pytest.raises(ValueError, match="sync mode"):
        FrameAssembler(("image",), mode="nearest")
    with pytest.raises(ValueError, match="image"):
        FrameAssembler(("depth",))
    with pytest.raises(ValueError, match="unknown frame part"):
        FrameAssembler(("image",)).add("mask", 0.0, None)
