"""Cameras and view sets, Open3D renderer, voxels, metrics, meshing."""
