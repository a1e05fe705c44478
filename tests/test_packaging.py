"""The package as ROS and pip see it: package.xml, the rclpy-free core, a real colcon build."""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGE_DIR = REPO / "vtr_perception"
SHARE_DIRS = ("launch", "config", "rviz", "models")
REQUIRED_EXEC_DEPENDS = {
    "rclpy",
    "sensor_msgs",
    "geometry_msgs",
    "visualization_msgs",
    "std_msgs",
    "diagnostic_msgs",
    "tf2_ros",
    "python3-numpy",
    "python3-yaml",
}
ROS_ONLY_MODULES = ("rclpy", "tf2_ros", "rosidl_runtime_py", "message_filters", "launch", "launch_ros", "cv_bridge")


def is_ros_module(name: str) -> bool:
    top = name.split(".")[0]
    return top in ROS_ONLY_MODULES or top.endswith(("_msgs", "_interfaces"))


# ---------------------------------------------------------------- (a) package.xml


def test_package_xml_is_a_valid_ament_python_manifest():
    parse_package = pytest.importorskip("catkin_pkg.package", reason="catkin_pkg not installed").parse_package
    package = parse_package(str(REPO / "package.xml"))
    package.validate()  # raises InvalidPackage with the reasons
    assert package.name == "vtr_perception" and package.package_format == 3
    assert package.get_build_type() == "ament_python"
    exec_depends = {d.name for d in package.exec_depends}
    assert REQUIRED_EXEC_DEPENDS <= exec_depends, f"missing exec_depend: {REQUIRED_EXEC_DEPENDS - exec_depends}"
    assert "python3-pytest" in {d.name for d in package.test_depends}
    assert (REPO / "resource" / "vtr_perception").is_file(), "ament index marker missing"


# ---------------------------------------------------------------- (b) the core runs without ROS


def test_no_module_outside_ros_imports_ros_packages():
    offenders = []
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        rel = path.relative_to(REPO)
        if rel.parts[:2] == ("vtr_perception", "ros"):
            continue
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            offenders += [f"{rel}:{node.lineno} imports {n}" for n in names if is_ros_module(n)]
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


# ---------------------------------------------------------------- (c) colcon build in the workspace


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


@pytest.mark.slow
def test_colcon_installed_cli_runs_from_the_install_space(colcon_workspace):
    site_packages = next((colcon_workspace / "lib").glob("python3*/site-packages"))
    env = dict(os.environ, PYTHONPATH=str(site_packages), AMENT_PREFIX_PATH=str(colcon_workspace))
    where = subprocess.run(
        [sys.executable, "-c", "import vtr_perception; print(vtr_perception.__file__)"],
        env=env,
        cwd=colcon_workspace,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert where.returncode == 0 and where.stdout.startswith(str(site_packages)), where.stdout + where.stderr
    cli = subprocess.run(
        [str(colcon_workspace / "lib/vtr_perception/vtr-perception"), "--help"],
        env=env,
        cwd=colcon_workspace,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert cli.returncode == 0, cli.stderr[-3000:]
    assert "usage" in cli.stdout.lower()
