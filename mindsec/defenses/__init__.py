"""Adversarial-training defenses with MindArmour's names and arguments."""
from .adversarial import (AdversarialDefense, AdversarialDefenseWithAttacks,
                          NaturalAdversarialDefense)

__all__ = ["AdversarialDefense", "AdversarialDefenseWithAttacks", "NaturalAdversarialDefense"]
