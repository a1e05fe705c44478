import numpy as np
import pytest

from tests.perception.scenes import Box, camera_on_circle, render
from vtr_perception.geometry.cameras import RENDER_DISTANCE, RENDER_FOV_DEG, Intrinsics, look_at
from vtr_perception.perception.view_buffer import View, ViewBuffer, virtual_camera

K = Intrinsics.from_fov(320, 240, 60)
BOX = Box((0.05, -0.03), (0.10, 0.06, 0.12), 20)


def _view(azimuth_deg: float, stamp: float = 0.0) -> View:
    T = camera_on_circle(azimuth_deg)
    rgb, _, ids = render([BOX], K, T)
    return View.from_frame(rgb, ids == 2, K, T, stamp, BOX.center)


def test_virtual_camera_field_of_view_matches_training_apparent_size():
    # An object of longest side L at distance 2 L must get exactly the training field of view.
    T = look_at(np.array([0.0, -0.4, 0.0]), np.zeros(3))
    K_v, T_wv = virtual_camera(T, np.zeros(3), 0.2, 64)
    assert K_v.fx == pytest.approx(32 / np.tan(np.radians(RENDER_FOV_DEG / 2)))
    # Twice as far: half the angular size, so tan(fov / 2) halves.
    K_far, _ = virtual_camera(look_at(np.array([0.0, -0.8, 0.0]), np.zeros(3)), np.zeros(3), 0.2, 64)
    assert K_far.fx == pytest.approx(2 * K_v.fx)
    assert np.allclose(T_wv[:3, 2], [0, 1, 0]) and RENDER_DISTANCE == 2.0


def test_virtual_camera_looks_at_the_centre_and_keeps_the_roll():
    T = camera_on_circle(0)
    center = np.array([0.1, 0.2, 0.05])  # off the optical axis
    _, T_wv = virtual_camera(T, center, 0.1, 64)
    z = (center - T[:3, 3]) / np.linalg.norm(center - T[:3, 3])
    assert np.allclose(T_wv[:3, 2], z)
    assert np.allclose(T_wv[:3, 3], T[:3, 3])
    assert T_wv[:3, 1] @ T[:3, 1] > 0.9  # image down stays image down


def test_off_centre_crop_matches_a_centred_render_from_the_virtual_camera():
    # The real camera looks well to the side of the object, so the object is off-centre and
    # seen obliquely; the crop must equal what a camera aimed at the object would see.
    T = look_at(np.array([0.45, 0.2, 0.3]), np.array([0.0, 0.15, 0.1]))
    rgb, _, ids = render([BOX], K, T)
    ys, xs = np.nonzero(ids == 2)
    assert abs(xs.mean() - K.cx) > 80 and xs.min() > 5  # really off-centre, not cut
    size = 0.134  # longest side of the yawed box's world bounding box
    view = View.from_frame(rgb, ids == 2, K, T, 0.0, BOX.center)
    image, R_wv = view.render(BOX.center, size, 64)
    K_v, T_wv = virtual_camera(T, BOX.center, size, 64)
    ref_rgb, _, ref_ids = render([BOX], K_v, T_wv, table=False)
    ref = np.where((ref_ids == 2)[..., None], ref_rgb / 255.0, 1.0).transpose(2, 0, 1)
    obj = image.min(axis=0) < 0.99
    iou = (obj & (ref_ids == 2)).sum() / (obj | (ref_ids == 2)).sum()
    assert iou > 0.9
    assert np.abs(image - ref).mean() < 0.03
    assert np.allclose(R_wv, T_wv[:3, :3])
    # The object fills the frame like a training render: its bounding sphere is inside the image.
    ys, xs = np.nonzero(ref_ids == 2)
    assert xs.min() > 0 and xs.max() < 63 and ys.min() > 0 and ys.max() < 63
    assert xs.max() - xs.min() > 15  # a unit cube spans ~33 of 64 px at distance 2, FOV 52


def test_background_is_white_and_no_table_colour_leaks_in():
    image, _ = _view(30).render(BOX.center, 0.134, 64)
    assert np.allclose(image[:, 0, 0], 1.0)
    table = np.array([120, 100, 80]) / 255.0
    assert not (np.abs(image.transpose(1, 2, 0) - table).max(axis=-1) < 0.05).any()


def test_buffer_drops_near_duplicates_and_stays_bounded_and_diverse():
    buf = ViewBuffer(max_views=3, min_angle_deg=15.0)
    assert buf.consider(_view(0, 0))
    assert not buf.consider(_view(5, 1))  # near-duplicate
    assert buf.consider(_view(40, 2))
    assert buf.consider(_view(90, 3))
    assert len(buf) == 3
    # Full: swapping 60 deg in for any view would not widen the closest pair of viewpoints.
    assert not buf.consider(_view(60, 4))
    # 200 deg is far from all: the view whose removal widens the closest pair most (40) goes.
    assert buf.consider(_view(200, 5))
    stamps = sorted(v.stamp for v in buf.views)
    assert stamps == [0.0, 3.0, 5.0]
    dirs = np.stack([v.direction for v in buf.views])
    pair = np.degrees(np.arccos(np.clip(dirs @ dirs.T, -1, 1)))
    assert pair[~np.eye(3, dtype=bool)].min() >= 15.0
    images, rotations = buf.model_inputs(BOX.center, 0.134, 32)
    assert images.shape == (3, 3, 32, 32) and rotations.shape == (3, 3, 3)
    assert images.dtype == np.float32 and 0.0 <= images.min() and images.max() <= 1.0


def test_empty_mask_cannot_make_a_view():
    with pytest.raises(ValueError, match="empty mask"):
        View.from_frame(
            np.zeros((4, 4, 3), np.uint8),
            np.zeros((4, 4), bool),
            Intrinsics.from_fov(4, 4, 60),
            np.eye(4),
            0.0,
            np.ones(3),
        )


def test_crop_of_a_project_renderer_frame_matches_the_renderer_from_the_virtual_camera():
    # The same check with the Open3D renderer the benchmarks and the simulated camera use.
    from vtr_perception.geometry.renderer import Renderer
    from vtr_perception.sim.boxes import box_mesh

    mesh = box_mesh((0.10, 0.06, 0.12), (0.05, -0.03, 0.06), "box", (0.8, 0.3, 0.2))
    renderer = Renderer([mesh])
    center, size = np.array([0.05, -0.03, 0.06]), 0.12
    T = look_at(np.array([0.45, 0.2, 0.3]), np.array([0.0, 0.15, 0.1]))
    frame = renderer.render(K, T)
    ys, xs = np.nonzero(frame.mask == 1)
    assert abs(xs.mean() - K.cx) > 60 and xs.min() > 5
    image, _ = View.from_frame(frame.rgb, frame.mask == 1, K, T, 0.0, center).render(center, size, 64)
    K_v, T_wv = virtual_camera(T, center, size, 64)
    ref = renderer.render(K_v, T_wv)
    obj = image.min(axis=0) < 0.99
    truth = ref.mask == 1
    assert (obj & truth).sum() / (obj | truth).sum() > 0.9
    # Shading is a headlight, so it differs slightly between the real and the virtual camera.
    assert np.abs(image - ref.rgb.transpose(2, 0, 1) / 255.0).mean() < 0.04
