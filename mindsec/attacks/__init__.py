"""Adversarial attacks with MindArmour's names and arguments.

Single-step gradient attacks (:mod:`mindsec.attacks.gradient`): ``FastGradientMethod``,
``FastGradientSignMethod``, ``RandomFastGradientMethod``, ``RandomFastGradientSignMethod``,
``LeastLikelyClassMethod``, ``RandomLeastLikelyClassMethod``. Iterative
(:mod:`mindsec.attacks.iterative`): ``BasicIterativeMethod``, ``ProjectedGradientDescent``,
``MomentumIterativeMethod``, ``AutoProjectedGradientDescent`` (APGD,
:mod:`mindsec.attacks.apgd`). Minimal perturbation: ``DeepFool``,
``FastAdaptiveBoundary`` (FAB, FAB-T), ``CarliniWagnerL2Attack`` (CW-L2,
:mod:`mindsec.attacks.carlini_wagner`), ``JSMAAttack`` (:mod:`mindsec.attacks.jsma`).
Black-box: ``SquareAttack`` (score-based, through
:class:`mindsec.privacy.PredictionAPI`), ``TransferAttack``.

Every attack is configuration around one compiled ascent step
(:mod:`mindsec.attacks.core`) and one norm object (:mod:`mindsec.attacks.norms`: ``LINF``,
``L2``, ``L1``), and describes itself through read-only properties (``kind``, ``norm``,
``eps``, ``bounds``, ``targeted``, ``label_source``, ``model``, ``sweepable``, ``label``).
"""
from .base import DEFAULT_BATCH_SIZE, Attack, AttackKind, LabelSource, auto_batch_size
from .gradient import (FastGradientMethod, FastGradientSignMethod, GradientMethod,
                       LeastLikelyClassMethod, RandomFastGradientMethod,
                       RandomFastGradientSignMethod, RandomLeastLikelyClassMethod, SweepResult)
from .deep_fool import DeepFool
from .carlini_wagner import CarliniWagnerL2Attack
from .jsma import JSMAAttack
from .apgd import APGD, AutoProjectedGradientDescent
from .fab import FAB, FastAdaptiveBoundary
from .square import SquareAttack
from .iterative import (BasicIterativeMethod, IterativeGradientMethod,
                        MomentumIterativeMethod, ProjectedGradientDescent)
from .transfer import TransferAttack
from .losses import StableSoftmaxCrossEntropy, log_odds
from .norms import L1, L2, LINF, Norm, get_norm

__all__ = ["Attack", "AttackKind", "LabelSource", "Norm", "LINF", "L2", "L1", "get_norm",
           "DEFAULT_BATCH_SIZE", "auto_batch_size", "GradientMethod",
           "FastGradientMethod",
           "FastGradientSignMethod", "RandomFastGradientMethod",
           "RandomFastGradientSignMethod", "LeastLikelyClassMethod",
           "RandomLeastLikelyClassMethod", "SweepResult", "StableSoftmaxCrossEntropy",
           "log_odds", "IterativeGradientMethod", "BasicIterativeMethod",
           "ProjectedGradientDescent", "MomentumIterativeMethod", "DeepFool", "TransferAttack",
           "AutoProjectedGradientDescent", "APGD", "FastAdaptiveBoundary", "FAB",
           "SquareAttack", "CarliniWagnerL2Attack", "JSMAAttack"]
