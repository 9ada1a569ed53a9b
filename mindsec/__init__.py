"""mindsec: model security on MindSpore.

Adversarial attacks (:mod:`mindsec.attacks`), adversarial-training defenses
(:mod:`mindsec.defenses`), adversarial-example detectors (:mod:`mindsec.detectors`) and
their evaluation (:mod:`mindsec.evaluations`), with MindArmour's class names and arguments.

Importing mindsec caps oneDNN at AVX2 on x86-64 unless ``ONEDNN_MAX_CPU_ISA`` is set (see
:mod:`mindsec._runtime`): MindSpore's CPU convolutions are an order of magnitude faster so.
"""
from ._runtime import apply_onednn_cap
from ._version import __version__

apply_onednn_cap()

# MindArmour's top-level names that mindsec has (``from mindarmour import BlackModel`` ->
# ``from mindsec import BlackModel``), imported on first use so ``import mindsec`` stays light
_TOP_LEVEL = {"Attack": "mindsec.attacks.base", "BlackModel": "mindsec.attacks.black",
              "Detector": "mindsec.detectors"}


def __getattr__(name):
    if name in _TOP_LEVEL:
        import importlib  # pylint: disable=import-outside-toplevel
        return getattr(importlib.import_module(_TOP_LEVEL[name]), name)
    raise AttributeError(f"module 'mindsec' has no attribute {name!r}")


__all__ = ["__version__", "Attack", "BlackModel", "Detector"]
