"""report.png of the demo: per object the truth, the first and last reconstruction, the camera
path and IoU against the number of views (next-best-view vs random)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from vtr_perception.io_utils import atomic_write


def _render_mesh(mesh, center: np.ndarray, size: float, px: int = 160) -> np.ndarray:
    from vtr_perception.geometry import cameras
    from vtr_perception.geometry.renderer import BACKGROUND_RGB, Renderer

    if mesh is None or len(mesh.triangles) == 0:
        return np.full((px, px, 3), BACKGROUND_RGB, np.uint8)
    K = cameras.Intrinsics.from_fov(px, px, 40.0)
    T = cameras.camera_from_angles(35.0, 30.0, 2.2 * size / np.tan(np.radians(20.0)) / 2.0, target=center)
    return Renderer([mesh]).render(K, T).rgb


def _grid_mesh(run, color):
    from vtr_perception.geometry.meshing import grid_to_mesh
    from vtr_perception.geometry.voxels import Normalization

    if run is None or run.grid_last is None:
        return None, None
    g = run.grid_last
    norm = Normalization(center=np.asarray(g.center), scale=1.0 / g.extent)
    meshes = []
    for occ in (run.occupancy_first, run.occupancy_last):
        m = grid_to_mesh(occ, threshold=0.4, normalization=norm)
        m.color = color
        meshes.append(m)
    return meshes[0], meshes[1]


def write_report(path: Path, scene, nbv_runs: list, random_runs: list) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    n = len(scene.objects)
    fig, axes = plt.subplots(n, 5, figsize=(17, 3.4 * n), squeeze=False)
    for row, obj in enumerate(scene.objects):
        run = next((r for r in nbv_runs if r.object_index == obj.index), None)
        rnd = next((r for r in random_runs if r.object_index == obj.index), None)
        first, last = _grid_mesh(run, obj.mesh.color)
        ious = [s.iou for s in run.steps] if run else []
        first_title = f"first step, {run.steps[0].views} views: IoU {ious[0]:.2f}" if ious else "no estimate"
        last_title = f"last step, {run.steps[-1].views} views: IoU {ious[-1]:.2f}" if ious else "no estimate"
        state = None if run is None or run.grid_last is None else run.grid_last.state
        if ious and state is not None and (state > 0).any():  # the posterior: network + measured depth
            last_title += f"\nfused, {np.mean(state > 0):.0%} of voxels measured"
        panels = [
            (_render_mesh(obj.mesh, obj.center, obj.size), f"{obj.key} ({obj.category}): truth"),
            (_render_mesh(first, obj.center, obj.size), first_title),
            (_render_mesh(last, obj.center, obj.size), last_title),
        ]
        for ax, (img, title) in zip(axes[row, :3], panels, strict=True):
            ax.imshow(img)
            ax.set_title(title, fontsize=9)
            ax.axis("off")
        ax = axes[row, 3]
        xy = obj.mesh.vertices[:, :2]
        ax.scatter(xy[:, 0], xy[:, 1], s=1, c=[obj.mesh.color], alpha=0.3)
        if run and run.steps:
            P = np.array([np.array(s.camera_pose)[:3, 3] for s in run.steps])
            Z = np.array([np.array(s.camera_pose)[:3, 2] for s in run.steps])
            ax.plot(P[:, 0], P[:, 1], "-", color="0.5", lw=1)
            ax.quiver(P[:, 0], P[:, 1], Z[:, 0], Z[:, 1], angles="xy", scale=12, color="tab:red", width=0.008)
            for k, p in enumerate(P):
                ax.annotate(f"{k + 1} ({np.degrees(np.arcsin(np.clip(Z[k, 2] * -1, -1, 1))):.0f}°)", p[:2], fontsize=7)
        ax.set_aspect("equal")
        ax.set_title("camera path (top view; elevation)", fontsize=9)
        ax.tick_params(labelsize=7)
        ax = axes[row, 4]
        if run and run.steps:
            ax.plot([s.views for s in run.steps], ious, "o-", label="next-best-view", color="tab:blue")
        if rnd and rnd.steps:
            ax.plot([s.views for s in rnd.steps], [s.iou for s in rnd.steps], "s--", label="random", color="tab:gray")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # views are whole numbers
        ax.set_xlabel("views", fontsize=8)
        ax.set_ylabel("IoU@0.4", fontsize=8)
        ax.set_ylim(0, 1)
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:  # an object never reconstructed has no curve
            ax.legend(fontsize=7)
        ax.tick_params(labelsize=7)
    fig.suptitle("vtr_perception demo: closed-loop active reconstruction (simulated table-top)", fontsize=12)
    fig.tight_layout()
    atomic_write(path, lambda p: fig.savefig(p, dpi=80, format="png"))
    plt.close(fig)
    return path
