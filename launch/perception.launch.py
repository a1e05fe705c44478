"""Robot launch: reconstruction_node + nbv_node on your camera, with the shipped parameter files.

    ros2 launch vtr_perception perception.launch.py \
        image:=/camera/camera/color/image_raw camera_info:=/camera/camera/color/camera_info \
        depth:=/camera/camera/aligned_depth_to_color/image_raw backend:=onnxruntime

(realsense2_camera 4.x names; ros2_ws/README.md "Play a RealSense bag" plays a recording of it.)

Parameters come from share/vtr_perception/config/{reconstruction,nbv}.yaml (or the files
given as reconstruction_params / nbv_params); the arguments below override single keys.
The camera pose comes from tf2 (world_frame -> the image's frame_id; for nbv_node, world_frame ->
camera_frame) when tf2_ros is installed, else from the PoseStamped topic given as camera_pose.
Parameter files are keyed ``/**``, so they apply under any namespace (namespace:=robot1).
"""

from launch.actions import DeclareLaunchArgument
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.parameter_descriptions import ParameterValue
from launch_ros.substitutions import FindPackageShare

from launch import LaunchDescription

PACKAGE = "vtr_perception"

# launch argument -> (default, description); topic arguments remap the node inputs of the same name.
TOPIC_ARGUMENTS = {
    "image": ("image", "RGB image topic (sensor_msgs/Image)"),
    "camera_info": ("camera_info", "CameraInfo topic matching the image"),
    "depth": ("depth", "depth image topic registered to the RGB image (32FC1 m or 16UC1 mm)"),
    "mask": ("mask", "instance mask topic (only used with use_mask:=true)"),
    "camera_pose": ("camera_pose", "camera pose topic (PoseStamped), used when tf2 is not available"),
}
# launch argument -> (default, description); each overrides the reconstruction node parameter of the same name.
RECONSTRUCTION_ARGUMENTS = {
    "world_frame": ("world", "fixed frame of poses, meshes, error clouds and next_best_view"),
    "backend": ("auto", "inference runtime: auto | tensorrt | onnxruntime | torch"),
    "model_dir": ("", "directory of the model (reconstructor.onnx / .pt); empty = share/vtr_perception/models"),
    "engine_cache": ("", "TensorRT engine cache directory; empty = ~/.cache/vtr_perception/engines"),
    "image_qos": ("sensor_data", "QoS of the image inputs: sensor_data (best effort) or reliable"),
    "use_depth": ("true", "subscribe to depth (RGB-D); false = RGB only (needs a mask)"),
    "use_mask": ("false", "subscribe to an instance mask instead of depth segmentation"),
}
STRING_PARAMETERS = ("world_frame", "backend", "model_dir", "engine_cache", "image_qos")
BOOL_PARAMETERS = ("use_depth", "use_mask")
# launch argument -> (default, description); each overrides the nbv node parameter of the same name.
NBV_ARGUMENTS = {
    "camera_frame": ("", "camera optical frame for nbv_node's tf2 pose lookups; empty = the camera_pose topic"),
}
# launch argument -> (default, description); each sets the parameter of the same name of both nodes.
COMMON_ARGUMENTS = {
    "use_sim_time": ("false", "ROS time from /clock (a bag played with --clock, a simulator) in both nodes"),
}
PARAMS_FILES = {
    "reconstruction_params": ("reconstruction.yaml", "parameter file of reconstruction_node"),
    "nbv_params": ("nbv.yaml", "parameter file of nbv_node"),
}


def _config_file(name: str) -> PathJoinSubstitution:
    return PathJoinSubstitution([FindPackageShare(PACKAGE), "config", name])


def generate_launch_description() -> LaunchDescription:
    arguments = [
        DeclareLaunchArgument(name, default_value=default, description=description)
        for name, (default, description) in {
            **TOPIC_ARGUMENTS,
            **RECONSTRUCTION_ARGUMENTS,
            **NBV_ARGUMENTS,
            **COMMON_ARGUMENTS,
        }.items()
    ]
    arguments += [
        DeclareLaunchArgument(name, default_value=_config_file(file), description=description)
        for name, (file, description) in PARAMS_FILES.items()
    ]
    arguments.append(DeclareLaunchArgument("namespace", default_value="", description="namespace of both nodes"))

    remappings = [(topic, LaunchConfiguration(topic)) for topic in TOPIC_ARGUMENTS]
    # typed explicitly: an empty string would otherwise be read as YAML null
    overrides = {name: ParameterValue(LaunchConfiguration(name), value_type=str) for name in STRING_PARAMETERS}
    overrides.update({name: ParameterValue(LaunchConfiguration(name), value_type=bool) for name in BOOL_PARAMETERS})
    common = {name: ParameterValue(LaunchConfiguration(name), value_type=bool) for name in COMMON_ARGUMENTS}

    reconstruction = Node(
        package=PACKAGE,
        executable="reconstruction_node",
        name="reconstruction",
        namespace=LaunchConfiguration("namespace"),
        parameters=[LaunchConfiguration("reconstruction_params"), overrides, common],
        remappings=remappings,
        output="screen",
        emulate_tty=True,
    )
    nbv = Node(
        package=PACKAGE,
        executable="nbv_node",
        name="nbv",
        namespace=LaunchConfiguration("namespace"),
        parameters=[
            LaunchConfiguration("nbv_params"),
            {
                "world_frame": ParameterValue(LaunchConfiguration("world_frame"), value_type=str),
                **{name: ParameterValue(LaunchConfiguration(name), value_type=str) for name in NBV_ARGUMENTS},
            },
            common,
        ],
        remappings=[("camera_pose", LaunchConfiguration("camera_pose"))],
        output="screen",
        emulate_tty=True,
    )
    return LaunchDescription([*arguments, reconstruction, nbv])
