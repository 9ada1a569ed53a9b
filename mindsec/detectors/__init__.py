"""MindArmour's adversarial-example detectors: MagNet (error and divergence based),
region-based classification, spatial smoothing, stateful query similarity and an ensemble.
Same class names, arguments, defaults and return types as
``mindarmour.adv_robustness.detectors``."""
from .detector import Detector
from .ensemble_detector import EnsembleDetector
from .mag_net import (DivergenceBasedDetector, ErrorBasedDetector, MagNetAutoEncoder,
                      train_auto_encoder)
from .region_based_detector import RegionBasedDetector
from .similarity_detector import SimilarityDetector
from .spatial_smoothing import SpatialSmoothing, median_filter

__all__ = ["Detector", "ErrorBasedDetector", "DivergenceBasedDetector", "RegionBasedDetector",
           "SpatialSmoothing", "SimilarityDetector", "EnsembleDetector", "MagNetAutoEncoder",
           "train_auto_encoder", "median_filter"]
