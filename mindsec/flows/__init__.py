"""The jobs users run, as library calls that return report objects (``to_dict``,
``format``, ``to_markdown``): the commands parse options, call one, and render it."""
from .extraction import ExtractionReport, model_extraction
from .imagenet import ImageNetReport, imagenet_tutorial
from .inversion import InversionReport, model_inversion
from .membership import MembershipReport, membership_inference
from .nad import NAD_SETTINGS, NADReport, NADSetting, nad_tutorial
from .report import ModelReport, model_report
from .robust import RobustSetting, RobustTrainingReport, adversarial_training

__all__ = ["NAD_SETTINGS", "NADReport", "NADSetting", "nad_tutorial", "ModelReport",
           "model_report", "RobustSetting", "RobustTrainingReport", "adversarial_training",
           "ExtractionReport", "model_extraction", "InversionReport", "model_inversion",
           "MembershipReport", "membership_inference",
           "ImageNetReport", "imagenet_tutorial"]
