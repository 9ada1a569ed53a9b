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

__all__ = ["__version__"]
