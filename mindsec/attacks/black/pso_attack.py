"""MindArmour's ``PSOAttack`` (particle swarm; Mosli, Wright, Yuan and Pan, 2019) for
classification, with batched, counted queries.

As in MindArmour 2.0.0, per point ``x`` (scores ``s``; the confidence of a candidate is
``s_t``, its target's score, when targeted, else its highest score): one query for ``x``'s
confidence ``c0``; a swarm of ``pop_size`` particles ``clip(x + min(U(0, 1) r, per_bounds
(|x| + 0.1)))`` (``r`` the data range), velocities 0; then at most ``t_max`` iterations of

    v <- step_size (v + c1 U (g - p)) + c2 U (b - p),   p <- p + v

(``g`` the swarm's best position, ``b`` each particle's), a mutation after iteration 6 when
the best fitness improved by less than 5% of its last value (each feature moves by
``(U - 1/2) r`` with probability ``pm``), clipping to ``x +- (|x| + 0.1 r) per_bounds`` and
the bounds, and one query of the swarm. The fitness of a particle is ``|c0 - c| - c / pop_size
||p - x||_2``; when every particle's is negative, ``c`` is halved. The search ends once the
best position is adversarial (classified as the target, or not as the label), and the
example is then reduced pixel by pixel as :class:`~mindsec.attacks.black.GeneticAttack`'s
(the same code): each pixel further than a tenth of the image's range from ``x`` moves half
way back, kept if the example stays adversarial. A point never fooled returns its best
position.

Here the swarms of all points still searching go to the model in one batch per iteration,
and the reduction asks for one pixel position of all points at once. Deliberate differences
from MindArmour: the best position's class is read from the swarm's scores already asked
(MindArmour asks for it again: one more query per iteration, ``pop_size + 1`` per iteration
in its counts, ``pop_size`` here); ``c`` is halved per point (MindArmour's halving carries
over to the next images and calls); ``bounds=None`` takes each image's own ``(min, max)``
(MindArmour takes the first image's and keeps it); the untargeted reduction reverts only the
pixel it moved (as in GeneticAttack; MindArmour's moves every pixel, so its untargeted
examples drift far off); the scores of a :class:`~mindsec.attacks.black.ServedModel`
(probabilities) enter the fitness as their log, the logits MindArmour's tuning assumes (a
user's BlackModel's scores as they are); only ``model_type='classification'`` is supported.
Draws come from ``numpy.random.default_rng(seed)`` (``seed`` is mindsec's).
"""
import numpy as np

from ...checks import check_bounds, check_count, check_flag, check_number
from ...errors import InputError
from .black_model import BlackBoxAttack, BudgetSpent
from .genetic_attack import reduce_perturbation
from .natural_evolutionary_strategy import as_logits


class PSOAttack(BlackBoxAttack):
    """Particle swarm search for adversarial examples (MindArmour's arguments and defaults).

    Args:
        model (BlackModel | PredictionAPI | nn.Cell): the target.
        model_type (str): ``'classification'`` only. Default ``'classification'``.
        targeted (bool): labels are targets. Default False.
        reserve_ratio (float): detection only; checked in [0, 1]. Default 0.3.
        sparse (bool): labels are class indices (else one-hot). Default True.
        step_size (float): the velocity's inertia factor. Default 0.5.
        per_bounds (float): the box half-width, relative to ``|x| + 0.1``. Default 0.6.
        c1, c2 (float): the pulls towards the swarm's and the particle's best. Default 2.0.
        c (float): the weight of the distance in the fitness. Default 2.0.
        pop_size (int): particles per point. Default 6.
        t_max (int): iterations at most. Default 1000.
        pm (float): the mutation probability per feature, in [0, 1]. Default 0.5.
        bounds (tuple): ``(clip_min, clip_max)``; None: each image's own range. Default None.
        seed (int): seed of the search (None: drawn once, here).

    ``generate(inputs, labels)`` -> ``(is_adv, adv, query_counts)``; at most ``1 + pop_size
    * t_max`` queries per point plus one per pixel in the reduction.
    """

    short_name = "PSO"

    def __init__(self, model, model_type='classification', targeted=False, reserve_ratio=0.3,
                 sparse=True, step_size=0.5, per_bounds=0.6, c1=2.0, c2=2.0, c=2.0,
                 pop_size=6, t_max=1000, pm=0.5, bounds=None, seed=None):
        bounds = check_bounds(bounds)
        super().__init__(model, bounds if bounds is not None else (0.0, 1.0),
                         check_flag("targeted", targeted), sparse, seed)
        self._bounds = bounds                       # None: each image's own range
        if model_type != "classification":
            raise InputError(f"model_type must be 'classification' (detection is not "
                             f"supported), got {model_type!r}")
        self._reserve_ratio = check_number("reserve_ratio", reserve_ratio, low=0.0,
                                           high=1.0, low_open=False)
        self._step_size = check_number("step_size", step_size, low=0.0)
        self._per_bounds = check_number("per_bounds", per_bounds, low=0.0)
        self._c1 = check_number("c1", c1, low=0.0)
        self._c2 = check_number("c2", c2, low=0.0)
        self._c = check_number("c", c, low=0.0)
        self._pop_size = check_count("pop_size", pop_size)
        self._t_max = check_count("t_max", t_max)
        self._pm = check_number("pm", pm, low=0.0, high=1.0, low_open=False)

    @property
    def pop_size(self):
        return self._pop_size

    @property
    def t_max(self):
        return self._t_max

    def _confidence(self, scores, y):
        """(m, P) confidences from scores (m, P, K)."""
        scores = as_logits(self.model, scores)
        if self._is_targeted:
            return np.take_along_axis(scores, y[:, None, None], axis=2)[:, :, 0]
        return scores.max(axis=2)

    def generate(self, inputs, labels):
        """``(is_adv, adv, query_counts)`` for ``inputs`` (N, ...) and ``labels``."""
        x, y, counts = self._pair(inputs, labels)
        start = self._queries.total
        shape, n = x.shape, x.shape[0]
        flat = x.reshape(n, -1).astype(np.float64)
        if self._bounds is None:
            lo, hi = flat.min(axis=1), flat.max(axis=1)
        else:
            lo, hi = np.full(n, self._bounds[0]), np.full(n, self._bounds[1])
        best = flat.copy()
        success = np.zeros(n, bool)
        exhausted = False
        try:
            self._swarm(flat, y, lo, hi, counts, best, success, shape)
        except BudgetSpent:
            exhausted = True
        if not exhausted and success.any():
            exhausted = reduce_perturbation(self._queries, self._is_targeted, flat, best, y,
                                            np.flatnonzero(success), counts, shape)
        self.stats = {"samples": n, "queries": self._queries.total - start,
                      "budget_exhausted": exhausted}
        adv = np.clip(best, lo[:, None], hi[:, None]).reshape(shape).astype(np.float32)
        return success, adv, counts

    def _swarm(self, flat, y, lo, hi, counts, best, success, shape):
        """The swarm search of all points; ``best`` and ``success`` updated in place."""
        n, dim = flat.shape
        size = self._pop_size
        span = (hi - lo)[:, None, None]
        lo3, hi3 = lo[:, None, None], hi[:, None, None]
        c0 = self._confidence(self._queries.scores(flat.reshape(shape))[:, None], y)[:, 0]
        counts += 1
        xs = flat[:, None, :]
        reach = self._per_bounds * (np.abs(xs) + 0.1)
        noise = np.clip(self._rng.random((n, size, dim)) * span, -reach, reach)
        par = np.clip(xs + noise, lo3, hi3)
        box = (np.abs(xs) + 0.1 * span) * self._per_bounds
        box_lo, box_hi = np.maximum(xs - box, lo3), np.minimum(xs + box, hi3)
        own_pos, own_fit = par.copy(), np.full((n, size), -np.inf)
        best_fit = np.full(n, -np.inf)
        vel = np.zeros_like(par)
        weight = np.full(n, self._c)
        mutate = np.zeros(n, bool)
        rows = np.arange(n)
        for it in range(self._t_max):
            rows = rows[~success[rows]]
            if rows.size == 0:
                return
            p, v = par[rows], vel[rows]
            r1, r2 = self._rng.random(p.shape), self._rng.random(p.shape)
            v = self._step_size * (v + self._c1 * r1 * (best[rows, None] - p)) + \
                self._c2 * r2 * (own_pos[rows] - p)
            p = p + v
            if it > 6 and mutate[rows].any():
                m = rows[mutate[rows]]
                sel = mutate[rows]
                jump = (self._rng.random(p[sel].shape) - 0.5) * span[m]
                hit = self._rng.random(p[sel].shape) < self._pm
                p[sel] = np.clip(p[sel] + jump * hit, lo3[m], hi3[m])
            p = np.clip(p, box_lo[rows], box_hi[rows])
            scores = self._queries.scores(p.reshape((-1,) + shape[1:])).reshape(
                rows.size, size, -1)
            counts[rows] += size
            fit = np.abs(c0[rows, None] - self._confidence(scores, y[rows])) - \
                (weight[rows] / size)[:, None] * np.sqrt(((p - xs[rows]) ** 2).sum(axis=2))
            weight[rows] = np.where(fit.max(axis=1) < 0, weight[rows] / 2, weight[rows])
            better = fit > own_fit[rows]
            own_fit[rows] = np.where(better, fit, own_fit[rows])
            own_pos[rows] = np.where(better[:, :, None], p, own_pos[rows])
            top = fit.argmax(axis=1)
            top_fit = fit[np.arange(rows.size), top]
            last = best_fit[rows].copy()
            moved = top_fit > last
            best[rows[moved]] = p[moved, top[moved]]
            best_fit[rows] = np.where(moved, top_fit, last)
            with np.errstate(invalid="ignore"):
                mutate[rows] = (best_fit[rows] - last) < last * 0.05
            label = scores[moved, top[moved]].argmax(axis=1)
            fooled = label == y[rows[moved]] if self._is_targeted else label != y[rows[moved]]
            success[rows[moved][fooled]] = True
            par[rows], vel[rows] = p, v
