"""One install path for pip and colcon (ament_python)."""

from pathlib import Path

from setuptools import find_packages, setup

PACKAGE = "vtr_perception"
HERE = Path(__file__).resolve().parent
# What the nodes and the CLI load from share/vtr_perception/models (vtr_perception/infer/paths.py) and its
# card; the other checkpoints in models/ are experiments that stay in the source checkout.
SHIPPED_MODELS = ["models/reconstructor.onnx", "models/reconstructor.pt", "models/MODEL_CARD.md"]


def share_files(folder: str) -> list[tuple[str, list[str]]]:
    """(install dir, files) pairs that copy `folder` into share/<package>/ with its sub-folders."""
    entries: dict[str, list[str]] = {}
    for path in sorted((HERE / folder).rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            rel = path.relative_to(HERE)
            entries.setdefault(f"share/{PACKAGE}/{rel.parent}", []).append(str(rel))
    return sorted(entries.items())


def requirements(name: str) -> list[str]:
    lines = (HERE / "requirements" / f"{name}.txt").read_text().splitlines()
    return [req for req in (line.split("#")[0].strip() for line in lines) if req]


setup(
    name=PACKAGE,
    version="0.1.0",
    packages=find_packages(include=[PACKAGE, f"{PACKAGE}.*", "onnx_export"]),
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
        *share_files("launch"),
        *share_files("config"),
        *share_files("rviz"),
        (f"share/{PACKAGE}/models", SHIPPED_MODELS),
    ],
    # What the nodes need; the training, simulation and pip-ROS sets are extras (requirements/README.md).
    install_requires=requirements("runtime"),
    extras_require={name: requirements(name) for name in ("train", "sim", "ros", "dev")},
    python_requires=">=3.10,<3.13",
    zip_safe=False,
    maintainer="vtr_perception maintainers",
    maintainer_email="maintainers@vtr-perception.dev",
    description="Active multi-view 3D object reconstruction for ROS 2 with VTR-trained models.",
    license="Apache-2.0",
    entry_points={
        "console_scripts": [
            "vtr-perception = vtr_perception.cli:main",
            "reconstruction_node = vtr_perception.ros.reconstruction_node:main",
            "nbv_node = vtr_perception.ros.nbv_node:main",
            "sim_camera_node = vtr_perception.ros.sim_camera_node:main",
        ],
    },
)
