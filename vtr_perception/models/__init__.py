"""Multi-view voxel reconstructor (Pix2Vox++ class) with pose and error heads."""

from vtr_perception.models.checkpoint import load_checkpoint, read_checkpoint, save_checkpoint
from vtr_perception.models.config import ReconstructorConfig
from vtr_perception.models.reconstructor import OUTPUT_NAMES, Reconstructor

__all__ = [
    "OUTPUT_NAMES",
    "Reconstructor",
    "ReconstructorConfig",
    "load_checkpoint",
    "read_checkpoint",
    "save_checkpoint",
]
