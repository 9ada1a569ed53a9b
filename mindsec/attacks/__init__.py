"""Adversarial attacks with MindArmour's names and arguments.

Single-step gradient attacks (:mod:`mindsec.attacks.gradient`): ``FastGradientMethod``,
``FastGradientSignMethod``, ``RandomFastGradientMethod``, ``RandomFastGradientSignMethod``,
``LeastLikelyClassMethod``, ``RandomLeastLikelyClassMethod``.
"""
from .base import DEFAULT_BATCH_SIZE, Attack, auto_batch_size
from .gradient import (FastGradientMethod, FastGradientSignMethod, GradientMethod,
                       LeastLikelyClassMethod, RandomFastGradientMethod,
                       RandomFastGradientSignMethod, RandomLeastLikelyClassMethod, SweepResult)
from .losses import StableSoftmaxCrossEntropy, log_odds

__all__ = ["Attack", "DEFAULT_BATCH_SIZE", "auto_batch_size", "GradientMethod",
           "FastGradientMethod",
           "FastGradientSignMethod", "RandomFastGradientMethod",
           "RandomFastGradientSignMethod", "LeastLikelyClassMethod",
           "RandomLeastLikelyClassMethod", "SweepResult", "StableSoftmaxCrossEntropy",
           "log_odds"]
