"""Evaluation of attacks and defenses with MindArmour's metric definitions (AttackEvaluate,
DefenseEvaluate, BlackDefenseEvaluate, RadarMetric, NeuronMetric), and robust evaluation
(curves, the cascade runner and its sanity flags, AutoAttack)."""
from .attack_evaluation import AttackEvaluate, lp_distances, ssim
from .autoattack import AutoAttack
from .defense_evaluation import DefenseEvaluate
from .corruptions import CorruptionReport, corruption_accuracy
from .black_defense_evaluation import BlackDefenseEvaluate
from .neuron_metric import NeuronMetric
from .visual_metrics import RadarMetric
from .robustness import (FLAGS, RobustnessCurve, RobustnessReport, evaluate_robustness,
                         gradient_health, robustness_curve)

__all__ = ["AutoAttack", "AttackEvaluate", "DefenseEvaluate", "lp_distances", "ssim", "FLAGS",
           "RobustnessCurve", "RobustnessReport", "evaluate_robustness", "gradient_health",
           "robustness_curve", "CorruptionReport", "corruption_accuracy",
           "BlackDefenseEvaluate", "RadarMetric", "NeuronMetric"]
