"""MindArmour's ``PointWiseAttack`` (decision-based; Schott, Rauber, Bethge and Brendel,
2019) with batched, counted queries.

As in MindArmour 2.0.0: a starting point from ``init_attack`` (by default mindsec's
:class:`~mindsec.attacks.black.SaltAndPepperNoiseAttack` with its defaults); a point it did
not fool comes back as the init attack left it, with ``is_adv`` False. A fooled point is
then reduced in two stages of at most ``max_iter`` rounds each. Each round visits the pixels
in a fresh random order and ends at the first change it keeps:

1. each pixel that differs from the input is reset to its original value (one query),
   kept if the example stays adversarial;
2. each pixel still changed is reset (one query); if that is not adversarial, a binary
   search of ``search_iter`` queries between its value and the original finds the value
   nearest the original that stays adversarial, kept if it moved.

A stage ends after a round without a kept change or once ``||adv - x||_2^2 / sqrt(d) <=
0.01`` (``d`` the input size). The examples stay adversarial throughout.

Here the points are reduced together: every step asks the model once for the next probe of
all points still reducing (one ``predict`` on a batch), each point's probes in the order
MindArmour's would ask them. Deliberate differences from MindArmour: a stage-2 probe is the
current example with that one pixel reset or moved (MindArmour's probe is a copy that keeps
the resets that failed earlier in the stage, so fewer of its resets succeed, and a kept
change is not checked on the example itself: it can return one that is not adversarial);
the pixel orders and the default init attack's noise come from
``numpy.random.default_rng(seed)``; the default init attack queries the same (counted)
model; ``bounds`` (default (0.0, 1.0), the SaltAndPepperNoiseAttack's) and ``seed`` are
mindsec's.
"""
import numpy as np

from ...checks import check_count
from ...errors import InputError
from .black_model import BlackBoxAttack, BudgetSpent
from .salt_and_pepper_attack import SaltAndPepperNoiseAttack

_THRESHOLD = 0.01           # MindArmour's ``_get_threthod``


class PointWiseAttack(BlackBoxAttack):
    """Pointwise reduction of a starting adversarial example (MindArmour's arguments).

    Args:
        model (BlackModel | PredictionAPI | nn.Cell): the target.
        max_iter (int): rounds per stage at most. Default 1000.
        search_iter (int): binary-search steps per pixel. Default 10.
        is_targeted (bool): labels are targets. Default False.
        init_attack (object): an attack with ``generate(inputs, labels) -> (is_adv, adv,
            query_counts)`` giving the starting points (None: SaltAndPepperNoiseAttack).
        sparse (bool): labels are class indices (else one-hot). Default True.
        bounds (tuple): ``(clip_min, clip_max)``. Default (0.0, 1.0).
        seed (int): seed of the pixel orders and the default init attack (None: drawn
            once, here).

    ``generate(inputs, labels)`` -> ``(is_adv, adv, query_counts)``; the counts include the
    init attack's.
    """

    short_name = "PointWise"

    def __init__(self, model, max_iter=1000, search_iter=10, is_targeted=False,
                 init_attack=None, sparse=True, bounds=(0.0, 1.0), seed=None):
        super().__init__(model, bounds, is_targeted, sparse, seed)
        self._max_iter = check_count("max_iter", max_iter)
        self._search_iter = check_count("search_iter", search_iter)
        if init_attack is not None and not callable(getattr(init_attack, "generate", None)):
            raise InputError(f"init_attack must be an attack with generate(inputs, labels), "
                             f"got {type(init_attack).__name__}")
        self._init_attack = init_attack

    @property
    def max_iter(self):
        return self._max_iter

    @property
    def search_iter(self):
        return self._search_iter

    def _starting_points(self, x, y):
        if self._init_attack is None:
            init = SaltAndPepperNoiseAttack(self.model, bounds=self._bounds,
                                            is_targeted=self._is_targeted,
                                            seed=int(self._rng.integers(2 ** 31 - 1)))
        else:
            init = self._init_attack
        ok, start, spent = init.generate(x, y)
        ok = np.asarray(ok, bool).reshape(len(x))
        start = np.asarray(start, np.float64).reshape(len(x), -1)
        spent = np.asarray(spent, np.int64).reshape(len(x))
        done = getattr(init, "stats", {}).get("budget_exhausted", False)
        asked = getattr(init, "stats", {}).get("queries", int(spent.sum()))
        return ok, start, spent, asked, done

    def generate(self, inputs, labels):
        """``(is_adv, adv, query_counts)`` for ``inputs`` (N, ...) and ``labels``."""
        x, y, counts = self._pair(inputs, labels)
        start_total = self._queries.total
        n, shape = x.shape[0], x.shape
        flat = x.reshape(n, -1).astype(np.float64)
        ok, adv, spent, init_queries, exhausted = self._starting_points(x, y)
        counts += spent
        if not exhausted:
            rows = np.flatnonzero(ok)
            searches = {int(i): self._reduce(flat[i], adv[i]) for i in rows}
            try:
                self._drive(searches, y, counts, shape[1:])
            except BudgetSpent:
                exhausted = True
        self.stats = {"samples": n, "queries": self._queries.total - start_total +
                      init_queries, "budget_exhausted": exhausted}
        return ok, adv.reshape(shape).astype(np.float32), counts

    def _drive(self, searches, y, counts, sample_shape):
        """Run the per-point searches in lock step: one batched query per step."""
        probes = {}
        for i, search in list(searches.items()):
            try:
                probes[i] = next(search)
            except StopIteration:
                del searches[i]
        while probes:
            rows = np.fromiter(probes, np.int64, len(probes))
            batch = np.stack([probes[i] for i in rows]).reshape((-1,) + sample_shape)
            hits = self._queries.adversarial(batch, y[rows], self._is_targeted)
            counts[rows] += 1
            for i, hit in zip(rows, hits):
                try:
                    probes[i] = searches[i].send(bool(hit))
                except StopIteration:
                    del probes[i], searches[i]

    def _reduce(self, orig, adv):
        """One point's search: yields probes, receives whether each is adversarial, and
        updates ``adv`` (a row of the examples) in place."""
        size = orig.size
        limit = _THRESHOLD * np.sqrt(size)

        def close_enough():
            return float(np.sum((adv - orig) ** 2)) <= limit

        for _ in range(self._max_iter):               # stage 1: reset single pixels
            improved = False
            changed = adv != orig
            for i in self._rng.permutation(size):
                if not changed[i]:
                    continue
                probe = adv.copy()
                probe[i] = orig[i]
                if (yield probe):
                    adv[i] = orig[i]
                    improved = True
                    break
            if not improved or close_enough():
                break
        changed = adv != orig
        for _ in range(self._max_iter):               # stage 2: reset or bisect
            improved = False
            for i in self._rng.permutation(size):
                if not changed[i]:
                    continue
                probe = adv.copy()
                probe[i] = orig[i]
                if (yield probe):
                    adv[i] = orig[i]
                    changed[i] = False
                    improved = True
                    break
                good, bad = adv[i], orig[i]
                for _ in range(self._search_iter):
                    mid = (good + bad) / 2
                    probe[i] = mid
                    if (yield probe):
                        good = mid
                    else:
                        bad = mid
                if good != adv[i]:
                    adv[i] = good
                    improved = True
                    break
            if not improved or close_enough():
                break
