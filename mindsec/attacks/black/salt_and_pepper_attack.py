"""MindArmour's ``SaltAndPepperNoiseAttack`` (decision-based) with batched, counted queries.

Each point is searched as in MindArmour 2.0.0: up to ``max_iter`` rounds, each a bisection
of 10 steps over the noise level ``eps`` in (0, 1/2]: a fresh uniform draw ``u`` per pixel
sets the pixels with ``u < eps`` to the lower bound and those with ``u >= 1 - eps`` to the
upper bound; the candidate is queried, and an adversarial one halves the interval downwards
(kept if its ``eps`` is the smallest yet), else upwards. A point stops after the first round
in which it found an adversarial example. One query per point per step: 10 per round.

Here every step asks the model once for all points still searching (one ``predict`` on a
batch, not one image at a time), the draws come from ``numpy.random.default_rng(seed)``, and
each point's queries are counted.
"""
import numpy as np

from ...checks import check_count
from .black_model import BlackBoxAttack, BudgetSpent

STEPS = 10          # bisection steps per round (MindArmour's ``epsilons``)


class SaltAndPepperNoiseAttack(BlackBoxAttack):
    """Salt-and-pepper noise of increasing, then bisected, density.

    Args:
        model (BlackModel | PredictionAPI | nn.Cell): the target (see
            :mod:`mindsec.attacks.black.black_model`).
        bounds (tuple): ``(clip_min, clip_max)`` of the data. Default (0.0, 1.0).
        max_iter (int): rounds of 10 queries per point at most. Default 100.
        is_targeted (bool): labels are targets. Default False.
        sparse (bool): labels are class indices (else one-hot). Default True.
        seed (int): seed of the noise (None: drawn once, here).

    ``generate(inputs, labels)`` -> ``(is_adv, adv, query_counts)`` (MindArmour's types);
    a point never fooled comes back unchanged.
    """

    short_name = "SaltAndPepper"

    def __init__(self, model, bounds=(0.0, 1.0), max_iter=100, is_targeted=False,
                 sparse=True, seed=None):
        super().__init__(model, bounds, is_targeted, sparse, seed)
        self._max_iter = check_count("max_iter", max_iter)

    @property
    def max_iter(self):
        return self._max_iter

    def generate(self, inputs, labels):
        """``(is_adv, adv, query_counts)`` for ``inputs`` (N, ...) and ``labels``."""
        x, y, counts = self._pair(inputs, labels)
        shape = x.shape
        flat = x.reshape(len(x), -1)
        lo, hi = self._bounds
        best = flat.copy()
        best_eps = np.ones(len(x))
        found = np.zeros(len(x), bool)
        exhausted = False
        start = self._queries.total
        for _ in range(self._max_iter):
            idx = np.flatnonzero(~found)
            if idx.size == 0 or exhausted:
                break
            low = np.zeros(idx.size)
            high = np.full(idx.size, 0.5)
            hit_round = np.zeros(idx.size, bool)
            for _ in range(STEPS):
                eps = (low + high) / 2
                noise = self._rng.uniform(0.0, 1.0, size=(idx.size, flat.shape[1]))
                cand = flat[idx].copy()
                cand[noise < eps[:, None]] = lo
                cand[noise >= 1.0 - eps[:, None]] = hi
                try:
                    hit = self._queries.adversarial(cand.reshape((-1,) + shape[1:]), y[idx],
                                                    self._is_targeted)
                except BudgetSpent:
                    exhausted = True
                    break
                counts[idx] += 1
                better = hit & (eps < best_eps[idx])
                best[idx[better]] = cand[better]
                best_eps[idx[better]] = eps[better]
                hit_round |= hit
                high = np.where(hit, eps, high)
                low = np.where(hit, low, eps)
            found[idx] |= hit_round
        self.stats = {"samples": len(x), "queries": self._queries.total - start,
                      "budget_exhausted": exhausted}
        return found, best.reshape(shape).astype(np.float32), counts
