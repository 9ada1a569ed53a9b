"""Privacy and model-stealing attacks against a prediction API.

Every attack talks only to a :class:`PredictionAPI` (which counts queries and can round,
truncate to top-k, or answer labels only):

* model extraction — :class:`EquationSolvingExtraction` (Tramer et al. 2016),
  :class:`KnockoffExtraction` (a substitute trained on the API's answers);
* membership inference — :class:`ThresholdMembershipAttack`,
  :class:`ShadowModelMembershipAttack`;
* model inversion — :class:`MIFace` (Fredrikson et al. 2015), :class:`C2GAttack`
  (Kusano & Sakuma 2018).
"""
from .api import PredictionAPI, QueryBudgetExceeded
from .c2g import C2GAttack, ConditionalGenerator, ProjectionDiscriminator
from .extraction import (EquationSolvingExtraction, ExtractedLinear, KnockoffExtraction,
                         agreement, centred, parameter_error)
from .inversion import MIFace
from .membership import (ShadowModelMembershipAttack, ThresholdMembershipAttack,
                         membership_metrics)

__all__ = ["PredictionAPI", "QueryBudgetExceeded", "EquationSolvingExtraction",
           "ExtractedLinear", "KnockoffExtraction", "agreement", "centred",
           "parameter_error", "MIFace", "C2GAttack", "ConditionalGenerator",
           "ProjectionDiscriminator", "ThresholdMembershipAttack",
           "ShadowModelMembershipAttack", "membership_metrics"]
