"""vtr_perception: active multi-view 3D object reconstruction for ROS 2.

The core (geometry, data, models, infer, perception, nbv) runs without ROS; only
vtr_perception.ros imports rclpy.
"""

__version__ = "0.1.0"
