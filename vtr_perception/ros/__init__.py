"""rclpy nodes and message conversions: the only modules that import rclpy."""
