"""Several detectors' verdicts combined: a majority vote, all of them, or any of them."""
import numpy as np

from ..errors import InputError
from .detector import Detector, checked

_POLICIES = ("vote", "all", "any")


class EnsembleDetector(Detector):
    """Combines the ``detect`` verdicts of ``detectors``.

    Args:
        detectors (Union[tuple, list]): fitted detectors.
        policy (str): 'vote' (more than half flag an input), 'all' or 'any'.
            Default: 'vote'.

    ``fit``, ``detect_diff`` and ``transform`` are not available (as in MindArmour): fit
    each detector first.
    """

    def __init__(self, detectors, policy="vote"):
        super().__init__()
        if not isinstance(detectors, (list, tuple)) or not detectors:
            raise InputError(f"detectors must be a non-empty list or tuple of detectors, got "
                             f"{detectors!r}")
        for i, det in enumerate(detectors):
            if not callable(getattr(det, "detect", None)):
                raise InputError(f"detectors[{i}] must have a detect() method, got "
                                 f"{type(det).__name__}")
        if policy not in _POLICIES:
            raise InputError(f"policy must be one of {', '.join(_POLICIES)}, got {policy!r}")
        self._detectors = detectors
        self._num_detectors = len(detectors)
        self._policy = policy

    def detect(self, inputs):
        """``list[int]``: 1 where the policy flags the input."""
        inputs = checked(inputs)
        counts = np.zeros(inputs.shape[0], np.int64)
        for i, det in enumerate(self._detectors):
            verdict = np.asarray(det.detect(inputs))
            if verdict.shape != counts.shape:
                raise InputError(f"detectors[{i}].detect returned shape {verdict.shape} for "
                                 f"{inputs.shape[0]} inputs")
            counts += verdict.astype(bool)
        if self._policy == "vote":
            hit = counts > self._num_detectors / 2
        elif self._policy == "all":
            hit = counts == self._num_detectors
        else:
            hit = counts > 0
        return [int(v) for v in hit]

    def fit(self, inputs, labels=None):
        raise NotImplementedError("fit() is not available in the class `EnsembleDetector`: "
                                  "fit each of its detectors")

    def detect_diff(self, inputs):
        raise NotImplementedError("detect_diff() is not available in the class "
                                  "`EnsembleDetector`")

    def transform(self, inputs):
        raise NotImplementedError("transform() is not available in the class "
                                  "`EnsembleDetector`")
