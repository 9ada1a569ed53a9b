"""Adversarial attacks with MindArmour's names and arguments.

Single-step gradient attacks (:mod:`mindsec.attacks.gradient`): ``FastGradientMethod``,
``FastGradientSignMethod``, ``RandomFastGradientMethod``, ``RandomFastGradientSignMethod``,
``LeastLikelyClassMethod``, ``RandomLeastLikelyClassMethod``. Iterative
(:mod:`mindsec.attacks.iterative`): ``BasicIterativeMethod``, ``ProjectedGradientDescent``,
``MomentumIterativeMethod``, ``AutoProjectedGradientDescent`` (APGD,
:mod:`mindsec.attacks.apgd`), ``DiverseInputIterativeMethod``,
``MomentumDiverseInputIterativeMethod`` (:mod:`mindsec.attacks.diverse_input`),
``VarianceTuningMomentumIterativeMethod``, ``VarianceTuningNesterovIterativeMethod``
(:mod:`mindsec.attacks.variance_tuning`). Minimal perturbation: ``DeepFool``,
``FastAdaptiveBoundary`` (FAB, FAB-T), ``CarliniWagnerL2Attack`` (CW-L2,
:mod:`mindsec.attacks.carlini_wagner`), ``JSMAAttack`` (:mod:`mindsec.attacks.jsma`), ``LBFGS`` (:mod:`mindsec.attacks.lbfgs`).
Black-box: ``SquareAttack`` (score-based, through
:class:`mindsec.privacy.PredictionAPI`), ``TransferAttack``; MindArmour's query attacks
(:mod:`mindsec.attacks.black`): ``SaltAndPepperNoiseAttack``, ``GeneticAttack``,
``HopSkipJumpAttack``, ``NES``, ``PointWiseAttack``, ``PSOAttack``.

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
from .diverse_input import DiverseInputIterativeMethod, MomentumDiverseInputIterativeMethod
from .variance_tuning import (VarianceTuningMomentumIterativeMethod,
                              VarianceTuningNesterovIterativeMethod)
from .lbfgs import LBFGS
from .black import (NES, BlackModel, GeneticAttack, HopSkipJumpAttack, PointWiseAttack,
                    PSOAttack, SaltAndPepperNoiseAttack)
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
__all__ += ["BlackModel", "SaltAndPepperNoiseAttack", "GeneticAttack", "HopSkipJumpAttack",
            "NES", "PointWiseAttack", "PSOAttack"]
__all__ += ["DiverseInputIterativeMethod", "MomentumDiverseInputIterativeMethod",
            "VarianceTuningMomentumIterativeMethod", "VarianceTuningNesterovIterativeMethod",
            "LBFGS"]
