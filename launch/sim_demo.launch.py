"""Simulated demo: sim_camera_node + the robot launch (reconstruction + nbv), rviz2 on request.

    ros2 launch vtr_perception sim_demo.launch.py rviz:=true
    ros2 launch vtr_perception sim_demo.launch.py num_objects:=1 mode:=orbit backend:=onnxruntime

The simulated camera publishes image, depth, camera_info and camera_pose (and TF when
tf2_ros is installed) under the default topic names, and in ``follow`` mode moves to every
next_best_view the nbv node publishes, so the loop runs without a robot.
"""

from launch.actions import DeclareLaunchArgument, IncludeLaunchDescription
from launch.conditions import IfCondition
from launch.launch_description_sources import PythonLaunchDescriptionSource
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.parameter_descriptions import ParameterValue
from launch_ros.substitutions import FindPackageShare

from launch import LaunchDescription

PACKAGE = "vtr_perception"

# launch argument -> (default, description); each overrides the sim_camera parameter of the same name.
SIM_CAMERA_ARGUMENTS = {
    "source": ("pybullet", "mesh source of the held-out objects (pybullet, procedural, shapenet:<dir>, ...)"),
    "num_objects": ("3", "objects on the table (1-8)"),
    "seed": ("0", "scene seed: object choice, sizes and placement"),
    "rate_hz": ("5.0", "camera frames per second"),
    "mode": ("follow", "follow: move to next_best_view; orbit: circle the table"),
}
SIM_CAMERA_TYPES = {"source": str, "num_objects": int, "seed": int, "rate_hz": float, "mode": str}
# passed on to perception.launch.py unchanged
FORWARDED_ARGUMENTS = {
    "world_frame": ("world", "fixed frame of the scene and of every output"),
    "backend": ("auto", "inference runtime: auto | tensorrt | onnxruntime | torch"),
    "model_dir": ("", "directory of the model; empty = share/vtr_perception/models"),
    "image_qos": ("sensor_data", "QoS of the image inputs: sensor_data or reliable"),
    "camera_frame": ("sim_camera_optical", "the simulated camera's optical frame (nbv_node's tf2 lookups)"),
    "use_sim_time": ("false", "ROS time from /clock in every node"),
}


def _share(*parts: str) -> PathJoinSubstitution:
    return PathJoinSubstitution([FindPackageShare(PACKAGE), *parts])


def generate_launch_description() -> LaunchDescription:
    arguments = [
        DeclareLaunchArgument(name, default_value=default, description=description)
        for name, (default, description) in {**SIM_CAMERA_ARGUMENTS, **FORWARDED_ARGUMENTS}.items()
    ]
    arguments += [
        DeclareLaunchArgument("rviz", default_value="false", description="also start rviz2 with the shipped config"),
        DeclareLaunchArgument(
            "sim_camera_params",
            default_value=_share("config", "sim_camera.yaml"),
            description="parameter file of sim_camera_node",
        ),
        DeclareLaunchArgument(
            "rviz_config", default_value=_share("rviz", "vtr_perception.rviz"), description="rviz2 display config"
        ),
    ]

    overrides = {
        name: ParameterValue(LaunchConfiguration(name), value_type=SIM_CAMERA_TYPES[name])
        for name in SIM_CAMERA_ARGUMENTS
    }
    overrides["world_frame"] = ParameterValue(LaunchConfiguration("world_frame"), value_type=str)
    overrides["camera_frame"] = ParameterValue(LaunchConfiguration("camera_frame"), value_type=str)
    overrides["use_sim_time"] = ParameterValue(LaunchConfiguration("use_sim_time"), value_type=bool)
    sim_camera = Node(
        package=PACKAGE,
        executable="sim_camera_node",
        name="sim_camera",
        parameters=[LaunchConfiguration("sim_camera_params"), overrides],
        output="screen",
        emulate_tty=True,
    )
    perception = IncludeLaunchDescription(
        PythonLaunchDescriptionSource(_share("launch", "perception.launch.py")),
        launch_arguments={name: LaunchConfiguration(name) for name in FORWARDED_ARGUMENTS}.items(),
    )
    rviz = Node(
        package="rviz2",
        executable="rviz2",
        name="rviz2",
        arguments=["-d", LaunchConfiguration("rviz_config")],
        condition=IfCondition(LaunchConfiguration("rviz")),
        output="screen",
    )
    return LaunchDescription([*arguments, sim_camera, perception, rviz])
