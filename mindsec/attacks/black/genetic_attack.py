"""MindArmour's ``GeneticAttack`` (score-based, classification) with batched, counted queries.

As in MindArmour 2.0.0, each point evolves a population of ``pop_size`` candidates inside
the box ``x +- per_bounds * (hi - lo)`` (clipped to the bounds), starting from
``x + U(lo, hi)``. Each generation queries the whole population; the fitness of a candidate
with scores ``p`` is ``p_t - sum_{j != t} p_j`` (targeted, ``t`` the target) or
``sum_{j != y} p_j - p_y`` (untargeted). The first generation holding an adversarial
candidate ends the search; otherwise the next generation is ``pop_size - 1`` children and the
elite (the fittest): parents drawn with probabilities ``softmax(fitness / temp)``, each
feature taken from the second parent with probability ``q2 / (q1 + q2)``, then mutated with
probability ``mutation_rate`` by ``clip(U(-1/2, 1/2), +-per_bounds * step_size) * (hi -
lo)``. With ``adaptive``, a plateau (no better fitness for 100 generations when the best
fitness is above -0.4, else 300) shrinks the step and the mutation rate to ``max(step_size,
0.4 * 0.9**k)`` and ``max(mutation_rate, 0.5 * 0.9**k)``. A found example is then reduced
pixel by pixel: each pixel further than a tenth of the image's range from the original
moves half way back, kept only if the candidate stays adversarial (one query each). A point
never fooled returns its last elite.

Here all points' populations go to the model in one batch per generation, and the reduction
asks for one pixel position of all points at once. Differences from MindArmour: the
plateau state is kept per point (MindArmour carries it from one image to the next), and the
untargeted reduction reverts only the pixel it moved (MindArmour's subtracts the step from
every pixel). Only ``model_type='classification'`` is supported. Draws come from
``numpy.random.default_rng(seed)``.
"""
import numpy as np
from scipy.special import softmax

from ...checks import check_count, check_flag, check_number
from ...errors import InputError
from .black_model import BlackBoxAttack, BudgetSpent


def reduce_perturbation(queries, targeted, flat, final, y, rows, counts, shape):
    """Move each pixel of the found examples ``final[rows]`` half way back towards the
    originals ``flat[rows]`` where they stay adversarial (one batched query per pixel
    position; ``counts`` grows by the queries each point used). True if the budget ran out.
    The genetic and particle-swarm attacks both end with it."""
    depth = flat[rows].max(axis=1) - flat[rows].min(axis=1)
    for i in range(flat.shape[1]):
        diff = flat[rows, i] - final[rows, i]
        sel = np.abs(diff) > depth * 0.1
        if not sel.any():
            continue
        moved, step = rows[sel], diff[sel] * 0.5
        final[moved, i] += step
        try:
            hits = queries.adversarial(final[moved].reshape((-1,) + shape[1:]), y[moved],
                                       targeted)
        except BudgetSpent:
            final[moved, i] -= step
            return True
        counts[moved] += 1
        final[moved[~hits], i] -= step[~hits]
    return False


class GeneticAttack(BlackBoxAttack):
    """Genetic search for adversarial examples (MindArmour's arguments and defaults).

    Args:
        model (BlackModel | PredictionAPI | nn.Cell): the target.
        model_type (str): ``'classification'`` only. Default ``'classification'``.
        targeted (bool): labels are targets. Default True.
        reserve_ratio (float): detection only; checked in [0, 1]. Default 0.3.
        sparse (bool): labels are class indices (else one-hot). Default True.
        pop_size (int): candidates per point. Default 6.
        mutation_rate (float): mutation probability per feature, in [0, 1]. Default 0.005.
        per_bounds (float): the box half-width as a fraction of the data range. Default 0.15.
        max_steps (int): generations at most. Default 1000.
        step_size (float): the mutation step as a fraction of ``per_bounds``. Default 0.2.
        temp (float): softmax temperature of the parent selection. Default 0.3.
        bounds (tuple): ``(clip_min, clip_max)``. Default (0, 1.0).
        adaptive (bool): shrink the step on plateaus. Default False.
        c (float): detection only; checked > 0. Default 0.1.
        seed (int): seed of the search (None: drawn once, here).

    ``generate(inputs, labels)`` -> ``(is_adv, adv, query_counts)``; at most
    ``pop_size * max_steps`` queries per point plus one per pixel in the reduction.
    """

    short_name = "Genetic"

    def __init__(self, model, model_type='classification', targeted=True, reserve_ratio=0.3,
                 sparse=True, pop_size=6, mutation_rate=0.005, per_bounds=0.15,
                 max_steps=1000, step_size=0.20, temp=0.3, bounds=(0, 1.0), adaptive=False,
                 c=0.1, seed=None):
        super().__init__(model, bounds, check_flag("targeted", targeted), sparse, seed)
        if model_type != "classification":
            raise InputError(f"model_type must be 'classification' (detection is not "
                             f"supported), got {model_type!r}")
        self._reserve_ratio = check_number("reserve_ratio", reserve_ratio, low=0.0,
                                           high=1.0, low_open=False)
        self._pop_size = check_count("pop_size", pop_size)
        self._mutation_rate = check_number("mutation_rate", mutation_rate, low=0.0,
                                           high=1.0, low_open=False)
        self._per_bounds = check_number("per_bounds", per_bounds, low=0.0)
        self._max_steps = check_count("max_steps", max_steps)
        self._step_size = check_number("step_size", step_size, low=0.0)
        self._temp = check_number("temp", temp, low=0.0)
        self._adaptive = check_flag("adaptive", adaptive)
        self._c = check_number("c", c, low=0.0)

    @property
    def pop_size(self):
        return self._pop_size

    @property
    def max_steps(self):
        return self._max_steps

    def generate(self, inputs, labels):
        """``(is_adv, adv, query_counts)`` for ``inputs`` (N, ...) and ``labels``."""
        x, y, counts = self._pair(inputs, labels)
        start = self._queries.total
        shape, n = x.shape, x.shape[0]
        flat = x.reshape(n, -1).astype(np.float64)
        lo, hi = self._bounds
        span = hi - lo
        size, dim = self._pop_size, flat.shape[1]
        pop = flat[:, None, :] + self._rng.uniform(lo, hi, size=(n, size, dim))
        box_lo = np.maximum(flat - span * self._per_bounds, lo)[:, None, :]
        box_hi = np.minimum(flat + span * self._per_bounds, hi)[:, None, :]
        state = {"best": np.full(n, -np.inf), "plateau": np.zeros(n, np.int64),
                 "adapt": np.zeros(n, np.int64)}
        final = flat.copy()
        elite = flat.copy()
        success = np.zeros(n, bool)
        done = np.zeros(n, bool)
        exhausted = False
        for _ in range(self._max_steps):
            idx = np.flatnonzero(~done)
            if idx.size == 0:
                break
            pop[idx] = np.clip(pop[idx], box_lo[idx], box_hi[idx])
            try:
                scores = self._queries.scores(
                    pop[idx].reshape((-1,) + shape[1:])).reshape(idx.size, size, -1)
            except BudgetSpent:
                exhausted = True
                break
            counts[idx] += size
            fooled, fitness = self._judge(scores, y[idx])
            hit = fooled.any(axis=1)
            won = idx[hit]
            final[won] = pop[won, fooled[hit].argmax(axis=1)]
            success[won] = True
            done[won] = True
            rest = idx[~hit]
            if rest.size:
                pop[rest], elite[rest] = self._next_generation(pop[rest], fitness[~hit],
                                                               rest, state, span)
        final[~success] = elite[~success]
        if not exhausted and success.any():
            exhausted = reduce_perturbation(self._queries, self._is_targeted, flat, final, y,
                                            np.flatnonzero(success), counts, shape)
        self.stats = {"samples": n, "queries": self._queries.total - start,
                      "budget_exhausted": exhausted}
        adv = np.clip(final, lo, hi).reshape(shape).astype(np.float32)
        return success, adv, counts

    def _judge(self, scores, y):
        """(fooled (m, P) bool, fitness (m, P)) from population scores (m, P, K)."""
        own = np.take_along_axis(scores, y[:, None, None], axis=2)[:, :, 0]
        others = scores.sum(axis=2) - own
        predicted = scores.argmax(axis=2)
        if self._is_targeted:
            return predicted == y[:, None], own - others
        return predicted != y[:, None], others - own

    def _next_generation(self, pop, fitness, rows, state, span):
        """The next populations (m, P, D) and the elites (m, D) of the points ``rows``."""
        m, size, dim = pop.shape
        best_now = fitness.max(axis=1)
        better = best_now > state["best"][rows]
        state["best"][rows] = np.where(better, best_now, state["best"][rows])
        plateau = np.where(better, 0, state["plateau"][rows] + 1)
        over = plateau > np.where(best_now > -0.4, 100, 300)
        state["adapt"][rows] += over
        state["plateau"][rows] = np.where(over, 0, plateau)
        if self._adaptive:
            shrink = 0.9 ** state["adapt"][rows]
            step = np.maximum(self._step_size, 0.4 * shrink)
            rate = np.maximum(self._mutation_rate, 0.5 * shrink)
        else:
            step = np.full(m, self._step_size)
            rate = np.full(m, self._mutation_rate)
        elite = pop[np.arange(m), fitness.argmax(axis=1)]
        probs = softmax(fitness / self._temp, axis=1)
        cdf = np.cumsum(probs, axis=1)
        draws = self._rng.random((m, 2 * (size - 1)))
        parents = np.minimum((cdf[:, None, :] < draws[:, :, None] * cdf[:, -1:, None])
                             .sum(axis=2), size - 1)
        first, second = parents[:, : size - 1], parents[:, size - 1:]
        q1 = np.take_along_axis(probs, first, axis=1)
        q2 = np.take_along_axis(probs, second, axis=1)
        take_first = self._rng.random((m, size - 1, dim)) > (q2 / (q1 + q2))[:, :, None]
        lines = np.arange(m)[:, None]
        children = np.where(take_first, pop[lines, first], pop[lines, second])
        reach = (self._per_bounds * step)[:, None, None]
        noise = np.clip(self._rng.random(children.shape) - 0.5, -reach, reach) * span
        mutate = self._rng.random(children.shape) < rate[:, None, None]
        children = children + noise * mutate
        return np.concatenate([children, elite[:, None, :]], axis=1), elite
