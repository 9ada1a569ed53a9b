"""Adversarial-training defenses with MindArmour's names and arguments (NAD, PAD, AD, the
attack-mixing base and ensemble adversarial training), plus fast adversarial training with a
catastrophic-overfitting guard."""
from .adversarial import (AdversarialDefense, AdversarialDefenseWithAttacks,
                          FastAdversarialDefense, FusedAdversarialDefense,
                          NaturalAdversarialDefense, ProjectedAdversarialDefense)
from .ensemble import EnsembleAdversarialDefense

__all__ = ["AdversarialDefense", "AdversarialDefenseWithAttacks", "FusedAdversarialDefense",
           "NaturalAdversarialDefense", "ProjectedAdversarialDefense",
           "FastAdversarialDefense", "EnsembleAdversarialDefense"]
