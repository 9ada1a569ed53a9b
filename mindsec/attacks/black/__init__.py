"""MindArmour's black-box attacks (``mindarmour.adv_robustness.attacks.black``) under their
names and arguments, with ``generate(inputs, labels) -> (is_adv, adv, query_counts)``.

The target is a :class:`BlackModel` (MindArmour's abstract base: a user's subclass works
unchanged), a :class:`mindsec.privacy.PredictionAPI` or a MindSpore network (served by a
counting API). Every attack asks the model for whole batches of candidates at once and
counts the queries per point; a ``seed`` repeats the examples. The attacks:
``SaltAndPepperNoiseAttack``, ``GeneticAttack``, ``HopSkipJumpAttack``, ``NES``,
``PointWiseAttack``, ``PSOAttack``.
"""
from .black_model import BlackBoxAttack, BlackModel, ServedModel, as_black_model
from .salt_and_pepper_attack import SaltAndPepperNoiseAttack
from .genetic_attack import GeneticAttack
from .hop_skip_jump_attack import HopSkipJumpAttack
from .natural_evolutionary_strategy import NES
from .pointwise_attack import PointWiseAttack
from .pso_attack import PSOAttack

__all__ = ["BlackModel", "ServedModel", "as_black_model", "BlackBoxAttack",
           "SaltAndPepperNoiseAttack", "GeneticAttack",
           "HopSkipJumpAttack", "NES", "PointWiseAttack", "PSOAttack"]
