"""Adversarial attacks with MindArmour's names and arguments.

Single-step gradient attacks (:mod:`mindsec.attacks.gradient`): ``FastGradientMethod``,
``FastGradientSignMethod``, ``RandomFastGradientMethod``, ``RandomFastGradientSignMethod``,
``LeastLikelyClassMethod``, ``RandomLeastLikelyClassMethod``. Iterative
(:mod:`mindsec.attacks.iterative`): ``BasicIterativeMethod``, ``ProjectedGradientDescent``,
``MomentumIterativeMethod``. Minimal perturbation: ``DeepFool``.
"""
from .base import DEFAULT_BATCH_SIZE, Attack, auto_batch_size
from .gradient import (FastGradientMethod, FastGradientSignMethod, GradientMethod,
                       LeastLikelyClassMethod, RandomFastGradientMethod,
                       RandomFastGradientSignMethod, RandomLeastLikelyClassMethod, SweepResult)
from .deep_fool import DeepFool
from .iterative import (BasicIterativeMethod, IterativeGradientMethod,
                        MomentumIterativeMethod, ProjectedGradientDescent)
from .transfer import TransferAttack
from .losses import StableSoftmaxCrossEntropy, log_odds

__all__ = ["Attack", "DEFAULT_BATCH_SIZE", "auto_batch_size", "GradientMethod",
           "FastGradientMethod",
           "FastGradientSignMethod", "RandomFastGradientMethod",
           "RandomFastGradientSignMethod", "LeastLikelyClassMethod",
           "RandomLeastLikelyClassMethod", "SweepResult", "StableSoftmaxCrossEntropy",
           "log_odds", "IterativeGradientMethod", "BasicIterativeMethod",
           "ProjectedGradientDescent", "MomentumIterativeMethod", "DeepFool", "TransferAttack"]
