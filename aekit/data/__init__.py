"""Data layer: load datasets from names or files and normalise them for the models."""

from aekit.data.dataset import Dataset, sample_shape
from aekit.data.load import load_dataset
from aekit.data.normalize import Normalizer
from aekit.data.patches import cut_patches

__all__ = ["Dataset", "Normalizer", "cut_patches", "load_dataset", "sample_shape"]
