"""The jobs users run, as library calls that return report objects (``to_dict``,
``format``, ``to_markdown``): the commands parse options, call one, and render it."""
from .nad import NAD_SETTINGS, NADReport, NADSetting, nad_tutorial
from .report import ModelReport, model_report

__all__ = ["NAD_SETTINGS", "NADReport", "NADSetting", "nad_tutorial", "ModelReport",
           "model_report"]
