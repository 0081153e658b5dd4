"""Data layer: load datasets from names or files and normalise them for the models."""

from aekit.data.dataset import Dataset, sample_shape
from aekit.data.load import load_dataset
from aekit.data.normalize import Normalizer

__all__ = ["Dataset", "Normalizer", "load_dataset", "sample_shape"]
