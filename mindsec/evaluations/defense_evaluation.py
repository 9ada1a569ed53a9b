"""Defense evaluation: MindArmour's ``DefenseEvaluate`` metrics, vectorized."""
import numpy as np
from scipy.stats import entropy

from .checks import labels_to_indices, probabilities, same_length


class DefenseEvaluate:
    """Compare a defended model with the raw one on the same (usually adversarial) inputs.

    Args:
        raw_preds (np.ndarray): the raw model's probabilities (N, K).
        def_preds (np.ndarray): the defended model's probabilities (N, K).
        true_labels (np.ndarray): class indices (N,) or one-hot (N, K).
    """

    def __init__(self, raw_preds, def_preds, true_labels):
        self._raw = probabilities("raw_preds", raw_preds)
        self._def = probabilities("def_preds", def_preds)
        same_length(raw_preds=self._raw, def_preds=self._def,
                    true_labels=np.asarray(true_labels))
        n, k = self._raw.shape
        self._labels = labels_to_indices("true_labels", true_labels, n, k)
        self._raw_ok = self._raw.argmax(axis=1) == self._labels
        self._def_ok = self._def.argmax(axis=1) == self._labels
        self._n = n

    def cav(self):
        """Classification accuracy variance: defended minus raw accuracy."""
        return float(self._def_ok.sum() - self._raw_ok.sum()) / self._n

    def crr(self):
        """Classification rectify ratio: fraction wrong before, right after."""
        return float(np.sum(self._def_ok & ~self._raw_ok)) / self._n

    def csr(self):
        """Classification sacrifice ratio: fraction right before, wrong after."""
        return float(np.sum(~self._def_ok & self._raw_ok)) / self._n

    def ccv(self):
        """Classification confidence variance: mean |max prob change| where both are
        right; -1 if none."""
        both = self._def_ok & self._raw_ok
        if not both.any():
            return -1
        return float(np.mean(np.abs(self._def[both].max(axis=1) - self._raw[both].max(axis=1))))

    def cos(self):
        """Classification output stability: mean Jensen-Shannon divergence of the two
        output distributions where both are right; -1 if none."""
        both = self._def_ok & self._raw_ok
        if not both.any():
            return -1
        p, q = self._def[both], self._raw[both]
        m = 0.5 * (p + q)
        return float(np.mean(0.5 * entropy(p, m, axis=1) + 0.5 * entropy(q, m, axis=1)))

    def to_dict(self):
        """Every metric by MindArmour's method names (cav, crr, csr, ccv, cos)."""
        return {"cav": self.cav(), "crr": self.crr(), "csr": self.csr(), "ccv": self.ccv(),
                "cos": self.cos()}
