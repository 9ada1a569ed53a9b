"""Evaluation of a defense against query-based black-box attacks: MindArmour's
``BlackDefenseEvaluate`` metrics (QCV, ASV, FPR, QRV), vectorized numpy.

Each of the N samples is either attacked (``raw_query_counts > 0``: the queries an attack
spent on it) or benign (query count 0: one ordinary query). The metrics compare the raw
model with the defended one (typically a query-based detector such as
:class:`~mindarmour.adv_robustness.detectors.SimilarityDetector` in front of it).

Same formulas, arguments and return values as MindArmour 2.0, with these deliberate
differences:

* every value is returned as a Python ``float`` (MindArmour: ``numpy.float64``, or the
  ``int`` 1 from :meth:`qcv`'s saturated branch); the "no sample" value stays ``-1``;
* :meth:`asv` compares the defended predictions of the samples attacked on the defended
  model (``def_query_counts > 0``) with *their* labels; MindArmour indexes the labels with
  the raw-model mask, which only works (and then agrees) when both masks are equal;
* arguments are checked up front with one-line :class:`~mindsec.errors.InputError`
  (a ``ValueError``): all per-sample arrays must have N entries (MindArmour does not check
  ``def_detection_counts`` and ``true_labels``), counts and times must be finite and
  non-negative, predictions 2-D, and ``true_labels`` class indices (or, an extension,
  one-hot rows); lists and MindSpore tensors are accepted as well as numpy arrays, and
  ``max_queries`` may be a numpy integer.

As in MindArmour, at least one sample must be attacked (``raw_query_counts > 0``);
otherwise the constructor raises.
"""
import numpy as np

from ..checks import check_count
from ..errors import InputError
from .checks import as_array, labels_to_indices, same_length


def _counts(name, value, n):
    value = as_array(name, value, ndim=1)
    if len(value) != n:
        raise InputError(f"{name} has {len(value)} entries for {n} samples")
    if value.min() < 0:
        raise InputError(f"{name} must be non-negative, got a minimum of {value.min():g}")
    return value


class BlackDefenseEvaluate:
    """Metrics of a defense against black-box (query-based) attacks.

    Args:
        raw_preds (np.ndarray): predictions (N, K) of the raw model on the samples (the
            adversarial examples for attacked samples).
        def_preds (np.ndarray): predictions (N, K) of the defended model.
        raw_query_counts (np.ndarray): queries (N,) spent attacking each sample on the raw
            model; 0 for a benign sample.
        def_query_counts (np.ndarray): the same on the defended model.
        raw_query_time (np.ndarray): total time (N,) to generate each adversarial example
            (or to answer the benign query) on the raw model.
        def_query_time (np.ndarray): the same on the defended model.
        def_detection_counts (np.ndarray): queries (N,) the defense flagged while attacking
            each sample; for a benign sample 1 if its query was flagged, else 0.
        true_labels (np.ndarray): class indices (N,).
        max_queries (int): the attack's query budget.
    """

    def __init__(self, raw_preds, def_preds, raw_query_counts, def_query_counts,
                 raw_query_time, def_query_time, def_detection_counts, true_labels,
                 max_queries):
        self._raw_preds = as_array("raw_preds", raw_preds, ndim=2)
        self._def_preds = as_array("def_preds", def_preds, ndim=2)
        same_length(raw_preds=self._raw_preds, def_preds=self._def_preds)
        n = self._num_samples = self._raw_preds.shape[0]
        self._raw_query_counts = _counts("raw_query_counts", raw_query_counts, n)
        self._def_query_counts = _counts("def_query_counts", def_query_counts, n)
        self._raw_query_time = _counts("raw_query_time", raw_query_time, n)
        self._def_query_time = _counts("def_query_time", def_query_time, n)
        self._def_detection_counts = _counts("def_detection_counts", def_detection_counts, n)
        self._true_labels = labels_to_indices("true_labels", true_labels, n,
                                              self._raw_preds.shape[1])
        self._num_adv_samples = int(np.count_nonzero(self._raw_query_counts > 0))
        if self._num_adv_samples == 0:
            raise InputError("raw_query_counts has no attacked sample (all are 0): at least "
                             "one sample must have a positive query count")
        self._num_ben_samples = n - self._num_adv_samples
        self._max_queries = check_count("max_queries", max_queries)

    def qcv(self):
        """Query count variance: the rise in the attack's mean query count, as a fraction
        of ``max_queries`` (capped at 1; 1 when the defended mean reaches the budget and
        the raw one does not). Higher: stronger defense. -1 without attacked samples."""
        if self._num_adv_samples == 0:
            return -1
        avg_def = float(self._def_query_counts.sum()) / self._num_adv_samples
        avg_raw = float(self._raw_query_counts.sum()) / self._num_adv_samples
        if avg_def == self._max_queries and avg_raw < self._max_queries:
            return 1.0
        return min(avg_def - avg_raw, self._max_queries) / self._max_queries

    def asv(self):
        """Attack success rate variance: (attacks successful on the raw model - those
        successful on the defended one) / attacked samples. Lower: stronger defense (in
        MindArmour's sign convention). -1 without attacked samples."""
        if self._num_adv_samples == 0:
            return -1
        raw_mask, def_mask = self._raw_query_counts > 0, self._def_query_counts > 0
        raw_succ = np.count_nonzero(self._raw_preds[raw_mask].argmax(axis=1)
                                    != self._true_labels[raw_mask])
        def_succ = np.count_nonzero(self._def_preds[def_mask].argmax(axis=1)
                                    != self._true_labels[def_mask])
        return float(raw_succ - def_succ) / self._num_adv_samples

    def fpr(self):
        """False positive rate of the query-based detector: benign samples (defended query
        count 0) flagged, over the benign samples. Lower: more usable. -1 without benign
        samples."""
        if self._num_ben_samples == 0:
            return -1
        benign = self._def_query_counts == 0
        return float(np.count_nonzero(self._def_detection_counts[benign] > 0)) \
            / self._num_ben_samples

    def qrv(self):
        """Benign query response time variance: relative rise of the mean benign response
        time, (defended - raw) / raw. Lower: more usable. -1 without benign samples."""
        if self._num_ben_samples == 0:
            return -1
        avg_raw = float(self._raw_query_time[self._raw_query_counts == 0].sum()) \
            / self._num_ben_samples
        avg_def = float(self._def_query_time[self._def_query_counts == 0].sum()) \
            / self._num_ben_samples
        return (avg_def - avg_raw) / (avg_raw + 1e-12)

    def to_dict(self):
        """Every metric by MindArmour's method names (qcv, asv, fpr, qrv)."""
        return {"qcv": self.qcv(), "asv": self.asv(), "fpr": self.fpr(), "qrv": self.qrv()}


__all__ = ["BlackDefenseEvaluate"]
