"""The package as ROS and pip see it: package.xml, the requirement sets, the rclpy-free core, a real colcon build."""

from __future__ import annotations

import ast
import os
import runpy
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from unittest import mock

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[1]
PACKAGE_DIR = REPO / "vtr_perception"
SHARE_DIRS = ("launch", "config", "rviz")  # installed whole; models/ only in part (SHIPPED_MODELS)
SHIPPED_MODELS = {"reconstructor.onnx", "reconstructor.pt", "MODEL_CARD.md"}
REQUIRED_EXEC_DEPENDS = {
    "rclpy",
    "sensor_msgs",
    "geometry_msgs",
    "visualization_msgs",
    "std_msgs",
    "diagnostic_msgs",
    "tf2_ros_py",
    "python3-numpy",
    "python3-yaml",
}
ROS_ONLY_MODULES = ("rclpy", "tf2_ros", "rosidl_runtime_py", "message_filters", "launch", "launch_ros", "cv_bridge")
# Imported where installed (ros/robot_outputs.py), named in a package.xml comment, never a dependency
OPTIONAL_ROS_PACKAGES = {"vision_msgs", "moveit_msgs", "shape_msgs"}
# ROS packages whose Python module has another name
ROS_PACKAGE_OF_MODULE = {"tf2_ros": "tf2_ros_py"}
# Training, simulation and report packages: never a run-time dependency (DESIGN.md, "Run time and training time")
TRAINING_PACKAGES = {"torch", "diffusers", "accelerate", "transformers", "pybullet", "matplotlib"}
# runtime.txt's packages: the rosdep key that installs each one from apt, or None where it comes from pip only
ROSDEP_KEY_OF = {
    "numpy": "python3-numpy",
    "scipy": "python3-scipy",
    "pyyaml": "python3-yaml",
    "scikit-image": "python3-skimage",
    "filelock": "python3-filelock",
    "onnx": None,
    "onnxruntime": None,
    "open3d": None,
    "open3d-cpu": None,
    "rosbags": None,
}


def is_ros_module(name: str) -> bool:
    top = name.split(".")[0]
    return top in ROS_ONLY_MODULES or top.endswith(("_msgs", "_interfaces"))


def imported_modules(path: Path) -> list[str]:
    """Every absolute import in a file, nested ones (inside functions or try blocks) included."""
    names = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.append(node.module)
    return names


def requirements_of(name: str) -> list[Requirement]:
    lines = (REPO / "requirements" / f"{name}.txt").read_text().splitlines()
    return [Requirement(req) for req in (line.split("#")[0].strip() for line in lines) if req]


def parsed_package():
    parse_package = pytest.importorskip("catkin_pkg.package", reason="catkin_pkg not installed").parse_package
    return parse_package(str(REPO / "package.xml"))


@pytest.fixture(scope="module")
def setup_kwargs() -> dict:
    """The keyword arguments setup.py passes to setup(), from the repository root as pip and colcon run it."""
    captured: dict = {}
    with pytest.MonkeyPatch.context() as patch, mock.patch("setuptools.setup", lambda **kw: captured.update(kw)):
        patch.chdir(REPO)
        runpy.run_path(str(REPO / "setup.py"), run_name="__main__")
    return captured


# ---------------------------------------------------------------- (a) package.xml


def test_package_xml_is_a_valid_ament_python_manifest():
    package = parsed_package()
    package.validate()  # raises InvalidPackage with the reasons
    assert package.name == "vtr_perception" and package.package_format == 3
    assert package.get_build_type() == "ament_python"
    exec_depends = {d.name for d in package.exec_depends}
    assert REQUIRED_EXEC_DEPENDS <= exec_depends, f"missing exec_depend: {REQUIRED_EXEC_DEPENDS - exec_depends}"
    assert "python3-pytest" in {d.name for d in package.test_depends}
    assert (REPO / "resource" / "vtr_perception").is_file(), "ament index marker missing"


def test_package_xml_declares_every_ros_package_the_code_imports():
    exec_depends = {d.name for d in parsed_package().exec_depends}
    files = sorted(PACKAGE_DIR.rglob("*.py")) + sorted((REPO / "launch").glob("*.py"))
    needed = {}
    for path in files:
        for name in imported_modules(path):
            top = name.split(".")[0]
            if is_ros_module(top) or top == "ament_index_python":
                needed.setdefault(ROS_PACKAGE_OF_MODULE.get(top, top), path.relative_to(REPO))
    assert "rclpy" in needed and "tf2_ros_py" in needed  # the scan sees the node modules
    missing = {package: str(where) for package, where in needed.items()
               if package not in exec_depends | OPTIONAL_ROS_PACKAGES}  # fmt: skip
    assert not missing, f"imported but not an exec_depend of package.xml: {missing}"
    manifest = (REPO / "package.xml").read_text()
    unnamed = sorted(p for p in OPTIONAL_ROS_PACKAGES if p not in manifest or p in exec_depends)
    assert not unnamed, f"optional ROS packages must be named in a package.xml comment, not depended on: {unnamed}"


def test_package_xml_has_run_time_dependencies_only_with_apt_rosdep_keys():
    exec_depends = {d.name for d in parsed_package().exec_depends}
    training = {key for key in exec_depends if any(name in key for name in TRAINING_PACKAGES)}
    assert not training, f"training packages are pip extras, not run-time dependencies: {training}"
    pip_keys = {key for key in exec_depends if key.endswith("-pip")}
    assert not pip_keys, f"pip-only packages go in requirements/runtime.txt (ros2_ws/README.md): {pip_keys}"
    # Python dependencies are exactly runtime.txt's packages that Ubuntu (and rosdep) provide
    runtime = {canonicalize_name(r.name) for r in requirements_of("runtime")}
    assert runtime <= set(ROSDEP_KEY_OF), f"say how these reach a robot (ROSDEP_KEY_OF): {runtime - set(ROSDEP_KEY_OF)}"
    python_keys = {key for key in exec_depends if key.startswith("python3-")}
    assert python_keys == {ROSDEP_KEY_OF[name] for name in runtime} - {None}


# ---------------------------------------------------------------- (b) requirement sets and setup.py


def test_runtime_requirements_leave_out_training_packages_and_are_ranges():
    for name in ("runtime", "train", "sim"):
        for req in requirements_of(name):
            operators = {spec.operator for spec in req.specifier}
            assert {">=", "<"} <= operators, f"requirements/{name}.txt: {req} needs a range (>=, <), not a pin"
    runtime = {canonicalize_name(r.name) for r in requirements_of("runtime")}
    assert not runtime & TRAINING_PACKAGES, f"training packages in runtime.txt: {runtime & TRAINING_PACKAGES}"
    extras = {canonicalize_name(r.name) for r in requirements_of("train") + requirements_of("sim")}
    assert TRAINING_PACKAGES <= extras


def test_development_pins_lie_inside_the_declared_ranges():
    """core.txt (what `make test` installs) pins exactly runtime + train + sim, each pin inside its range."""
    ranges = {}
    for name in ("runtime", "train", "sim"):
        for req in requirements_of(name):
            ranges[(canonicalize_name(req.name), str(req.marker))] = (name, req)
    pinned = {}
    for pin in requirements_of("core"):
        (spec,) = pin.specifier
        assert spec.operator == "==", f"core.txt pins: {pin}"
        pinned[(canonicalize_name(pin.name), str(pin.marker))] = spec.version
    assert set(pinned) == set(ranges), (
        f"only in core.txt: {set(pinned) - set(ranges)}; only in the ranges: {set(ranges) - set(pinned)}"
    )
    outside = [f"{key[0]}=={version} is outside {ranges[key][0]}.txt's {ranges[key][1]}"
               for key, version in pinned.items() if not ranges[key][1].specifier.contains(version)]  # fmt: skip
    assert not outside, outside


def test_setup_py_installs_the_runtime_set_with_training_simulation_and_ros_as_extras(setup_kwargs):
    install_requires = {canonicalize_name(Requirement(r).name) for r in setup_kwargs["install_requires"]}
    assert install_requires == {canonicalize_name(r.name) for r in requirements_of("runtime")}
    extras = setup_kwargs["extras_require"]
    assert {"train", "sim", "ros", "dev"} <= set(extras)
    assert "torch" in {canonicalize_name(Requirement(r).name) for r in extras["train"]}
    assert "onnx_export" in setup_kwargs["packages"] and "vtr_perception.ros" in setup_kwargs["packages"]


def test_setup_py_installs_only_the_shipped_models(setup_kwargs):
    from vtr_perception.infer.paths import CHECKPOINT_NAME, ONNX_NAME

    models = {Path(f).name for dest, files in setup_kwargs["data_files"] if dest.endswith("/models") for f in files}
    assert models == SHIPPED_MODELS
    assert {ONNX_NAME, CHECKPOINT_NAME} <= models  # what the nodes and the CLI load (infer/paths.py)
    assert all((REPO / "models" / name).is_file() for name in SHIPPED_MODELS)


def test_onnx_export_is_imported_as_a_package_not_through_sys_path():
    files = [*sorted((REPO / "onnx_export").glob("*.py")), *sorted(PACKAGE_DIR.rglob("*.py")),
             REPO / "benchmarks" / "inference.py"]  # fmt: skip
    edits = [str(f.relative_to(REPO)) for f in files if "sys.path.insert" in f.read_text()]
    assert not edits, f"sys.path edits (onnx_export is installed by setup.py): {edits}"


NO_TRAINING_PACKAGES = textwrap.dedent(
    """
    import importlib.abc, sys

    BLOCKED = {blocked!r}

    class NoTraining(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in BLOCKED:
                raise ImportError(f"{{name}} is blocked: the run-time set has no training packages")
            return None

    sys.meta_path.insert(0, NoTraining())
    import numpy as np

    import vtr_perception.cli
    import vtr_perception.perception.pipeline
    from vtr_perception.infer import load_backend

    backend = load_backend("auto", build_engine=False)
    info = backend.info
    rotations = np.eye(3, dtype=np.float32)[None, None] if info.needs_rotations else None
    out = backend.run(np.zeros((1, 1, 3, info.image_size, info.image_size), np.float32), rotations)
    print("backend", backend.name, sorted(out))
    try:
        import rclpy  # noqa: F401
    except ImportError:
        print("no rclpy: node modules not imported")
    else:
        import vtr_perception.ros.nbv_node
        import vtr_perception.ros.reconstruction_node
        import vtr_perception.ros.sim_camera_node  # noqa: F401
        print("node modules imported")
    """
)


@pytest.mark.slow
def test_nodes_and_the_onnx_runtime_backend_need_no_training_packages():
    pytest.importorskip("onnxruntime", reason="onnxruntime not installed")
    if not (REPO / "models" / "reconstructor.onnx").is_file():
        pytest.skip("needs models/reconstructor.onnx")
    script = NO_TRAINING_PACKAGES.format(blocked=TRAINING_PACKAGES)
    env = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS="1", VTR_PERCEPTION_MODEL_DIR=str(REPO / "models"))
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, env=env, capture_output=True, text=True, timeout=180
    )
    assert result.returncode == 0, result.stderr[-4000:]
    assert "backend onnxruntime" in result.stdout and "imported" in result.stdout, result.stdout


# ---------------------------------------------------------------- (c) the core runs without ROS


def test_no_module_outside_ros_imports_ros_packages():
    offenders = []
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        rel = path.relative_to(REPO)
        if rel.parts[:2] == ("vtr_perception", "ros"):
            continue
        offenders += [f"{rel} imports {name}" for name in imported_modules(path) if is_ros_module(name)]
    assert not offenders, "only vtr_perception/ros may import ROS packages:\n" + "\n".join(offenders)


IMPORT_WITHOUT_ROS = textwrap.dedent(
    """
    import importlib, importlib.abc, pkgutil, sys

    ROS_ONLY = {ros_only!r}

    class NoRos(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            top = name.split(".")[0]
            if top in ROS_ONLY or top.endswith(("_msgs", "_interfaces")):
                raise ImportError(f"{{name}} is blocked: this test runs without ROS")
            return None

    sys.meta_path.insert(0, NoRos())
    import vtr_perception
    imported, failed = [], []
    def skip(name):
        return name.startswith("vtr_perception.ros") or name.endswith("__main__")
    for info in pkgutil.walk_packages(vtr_perception.__path__, "vtr_perception.", onerror=failed.append):
        if skip(info.name):
            continue
        try:
            importlib.import_module(info.name)
        except Exception as exc:
            failed.append(f"{{info.name}}: {{type(exc).__name__}}: {{exc}}")
        else:
            imported.append(info.name)
    if failed:
        raise SystemExit("modules that fail to import without ROS:\\n" + "\\n".join(map(str, failed)))
    try:
        import rclpy  # noqa: F401
    except ImportError:
        pass
    else:
        raise SystemExit("rclpy was not blocked")
    print(len(imported), "modules imported without ROS:", " ".join(imported))
    """
)


@pytest.mark.slow
def test_every_core_module_imports_without_rclpy():
    script = IMPORT_WITHOUT_ROS.format(ros_only=set(ROS_ONLY_MODULES))
    env = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS="1")
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, env=env, capture_output=True, text=True, timeout=180
    )
    assert result.returncode == 0, result.stderr[-4000:]
    assert "modules imported without ROS" in result.stdout


# ---------------------------------------------------------------- (d) colcon build in the workspace


def console_scripts() -> list[str]:
    """Names of setup.py's console_scripts (read statically, as the list may grow)."""
    tree = ast.parse((REPO / "setup.py").read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.keyword) and node.arg == "entry_points":
            entry_points = ast.literal_eval(node.value)
            return [spec.split("=")[0].strip() for spec in entry_points["console_scripts"]]
    raise AssertionError("setup.py has no entry_points")


def repo_copy(tmp_path: Path) -> Path:
    """The files git would ship (tracked + untracked, not ignored), ros2_ws/src symlink included."""
    files = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    dest = tmp_path / "repo"
    for name in filter(None, files):
        src = REPO / os.fsdecode(name)
        if not (src.exists() or src.is_symlink()):
            continue  # deleted in the working tree but not yet in git
        target = dest / os.fsdecode(name)
        target.parent.mkdir(parents=True, exist_ok=True)
        if src.is_symlink():
            target.symlink_to(os.readlink(src))
        else:
            shutil.copy2(src, target)
    return dest


@pytest.fixture(scope="module")
def colcon_workspace(tmp_path_factory):
    colcon = Path(sys.executable).parent / "colcon"
    if not colcon.exists():
        pytest.skip("colcon not installed in this environment (requirements/dev.txt)")
    tmp_path = tmp_path_factory.mktemp("colcon")
    workspace = repo_copy(tmp_path) / "ros2_ws"
    env = dict(os.environ, COLCON_HOME=str(tmp_path / "colcon_home"), PYTHONWARNINGS="ignore")
    result = subprocess.run(
        [str(colcon), "build", "--event-handlers", "console_direct-"],
        cwd=workspace,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return workspace / "install" / "vtr_perception"


@pytest.mark.slow
def test_colcon_build_installs_scripts_and_share_files(colcon_workspace):
    prefix = colcon_workspace
    assert (prefix / "share/ament_index/resource_index/packages/vtr_perception").is_file()
    assert (prefix / "share/vtr_perception/package.xml").is_file()
    scripts = console_scripts()
    assert "vtr-perception" in scripts
    for script in scripts:
        assert (prefix / "lib/vtr_perception" / script).is_file(), f"`ros2 run vtr_perception {script}` would fail"
    for folder in SHARE_DIRS:
        for path in (REPO / folder).rglob("*"):
            if path.is_file() and "__pycache__" not in path.parts:
                rel = path.relative_to(REPO)
                assert (prefix / "share/vtr_perception" / rel).is_file(), f"{rel} not installed into share/"
    models = prefix / "share/vtr_perception/models"
    installed = {str(p.relative_to(models)) for p in models.rglob("*") if not p.is_dir()}
    assert installed == SHIPPED_MODELS, "only the shipped model, not the experiments, goes into share/"


@pytest.mark.slow
def test_colcon_installed_cli_runs_from_the_install_space(colcon_workspace):
    site_packages = next((colcon_workspace / "lib").glob("python3*/site-packages"))
    env = dict(os.environ, PYTHONPATH=str(site_packages), AMENT_PREFIX_PATH=str(colcon_workspace))
    where = subprocess.run(
        [
            sys.executable,
            "-c",
            "import vtr_perception, onnx_export; print(vtr_perception.__file__, onnx_export.__file__)",
        ],
        env=env,
        cwd=colcon_workspace,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert where.returncode == 0, where.stderr
    assert all(f.startswith(str(site_packages)) for f in where.stdout.split()), where.stdout
    for args, expected in ((["--help"], "usage"), (["export", "--help"], "--checkpoint")):
        cli = subprocess.run(
            [str(colcon_workspace / "lib/vtr_perception/vtr-perception"), *args],
            env=env,
            cwd=colcon_workspace,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert cli.returncode == 0, cli.stderr[-3000:]
        assert expected in cli.stdout.lower()
