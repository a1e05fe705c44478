"""Simulation without ROS: table-top scenes, the simulated camera, the demo's views, ground truth and the loop.

The demo's conductor (ros/demo_monitor.py), the benchmarks and the loop-crop training data all use it.
"""
