"""Evaluation of attacks and defenses, with MindArmour's metric definitions."""
from .attack_evaluation import AttackEvaluate, lp_distances, ssim
from .defense_evaluation import DefenseEvaluate

__all__ = ["AttackEvaluate", "DefenseEvaluate", "lp_distances", "ssim"]
