"""Evaluation of attacks and defenses, with MindArmour's metric definitions, and robust
evaluation (curves, the cascade runner and its sanity flags)."""
from .attack_evaluation import AttackEvaluate, lp_distances, ssim
from .defense_evaluation import DefenseEvaluate
from .robustness import (FLAGS, RobustnessCurve, RobustnessReport, evaluate_robustness,
                         gradient_health, robustness_curve)

__all__ = ["AttackEvaluate", "DefenseEvaluate", "lp_distances", "ssim", "FLAGS",
           "RobustnessCurve", "RobustnessReport", "evaluate_robustness", "gradient_health",
           "robustness_curve"]
