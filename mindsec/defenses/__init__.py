"""Adversarial-training defenses with MindArmour's names and arguments, plus fast
adversarial training with a catastrophic-overfitting guard."""
from .adversarial import (AdversarialDefense, AdversarialDefenseWithAttacks,
                          FastAdversarialDefense, FusedAdversarialDefense,
                          NaturalAdversarialDefense, ProjectedAdversarialDefense)

__all__ = ["AdversarialDefense", "AdversarialDefenseWithAttacks", "FusedAdversarialDefense",
           "NaturalAdversarialDefense", "ProjectedAdversarialDefense",
           "FastAdversarialDefense"]
