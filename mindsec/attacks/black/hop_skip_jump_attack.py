"""MindArmour's ``HopSkipJumpAttack`` (decision-based; Chen, Jordan and Wainwright, 2020)
with batched, counted queries.

As in MindArmour 2.0.0, per point: without target images, a uniform-noise image on the
desired side of the boundary (at most 1,001 draws; a point without one is not attacked),
blended towards the input by a bisection to 0.001; then a binary search to the boundary
(threshold ``theta = gamma / (sqrt(d) d)`` in L2, ``gamma / d**2`` in Linf, ``d`` the input
size), and ``num_iterations`` iterations of: a gradient-direction estimate from
``min(init_num_evals sqrt(j), max_num_evals)`` probes at radius ``delta`` (``0.1 (clip_max -
clip_min)`` at the first iteration, then ``sqrt(d) theta dist`` / ``d theta dist`` from the
distance before the last binary search), a step (``geometric_progression``: ``dist /
sqrt(j)`` halved until the step lands on the desired side; ``grid_search``: 20 steps
``logspace(-4, 0) dist``, the successful ones searched to the boundary and the closest kept)
along the direction (its sign in Linf), clipping, and a binary search back to the boundary.
Every query is clipped to ``[clip_min, clip_max]``; ``labels`` are target labels (targeted
attack), ``None`` attacks the model's own predictions.

Here each stage runs for all points at once: one query per initialisation draw, bisection
step and step-size halving for every point still at it, and one batch with all of a step's
gradient probes (of as many points as fit in about 4M input values). Draws come from
``numpy.random.default_rng(seed)``. The examples come back as MindArmour's do, (N, 1, ...)
(each point's example with a leading axis of one; ``adv.reshape(x.shape)`` gives (N, ...)).
Differences from MindArmour: a point without a starting point comes back as its
input (MindArmour's is None); ``labels=None`` counts the query of each point's own
prediction; the geometric step search gives up after 64 halvings (MindArmour's does not).
"""
import numpy as np

from ...checks import check_bounds, check_count, check_number
from ...errors import InputError
from .black_model import BlackBoxAttack, BudgetSpent, checked_target_images

_INIT_DRAWS = 1001          # MindArmour's ``num_evals > 1e3`` stop
_PROBE_VALUES = 1 << 22     # input values per gradient-probe batch
_HALVINGS = 64


class HopSkipJumpAttack(BlackBoxAttack):
    """HopSkipJumpAttack (MindArmour's arguments and defaults).

    Args:
        model (BlackModel | PredictionAPI | nn.Cell): the target.
        init_num_evals (int): gradient probes at the first iteration. Default 100.
        max_num_evals (int): gradient probes at most. Default 1000.
        stepsize_search (str): ``'geometric_progression'`` or ``'grid_search'``.
        num_iterations (int): iterations. Default 20.
        gamma (float): sets the binary-search threshold. Default 1.0.
        constraint (str): ``'l2'`` or ``'linf'``. Default ``'l2'``.
        batch_size (int): kept for MindArmour's signature; queries go in whole steps.
        clip_min, clip_max (float): the data range. Default 0.0, 1.0.
        sparse (bool): labels are class indices (else one-hot). Default True.
        seed (int): seed of the draws (None: drawn once, here).

    ``set_target_images(images)`` gives targeted starting points (one per input).
    ``generate(inputs, labels)`` -> ``(is_adv, adv, query_counts)``.
    """

    short_name = "HSJA"

    def __init__(self, model, init_num_evals=100, max_num_evals=1000,
                 stepsize_search='geometric_progression', num_iterations=20, gamma=1.0,
                 constraint='l2', batch_size=32, clip_min=0.0, clip_max=1.0, sparse=True,
                 seed=None):
        bounds = check_bounds((clip_min, clip_max))
        super().__init__(model, bounds, False, sparse, seed)
        self._init_num_evals = check_count("init_num_evals", init_num_evals)
        self._max_num_evals = check_count("max_num_evals", max_num_evals)
        if stepsize_search not in ("geometric_progression", "grid_search"):
            raise InputError(f"stepsize_search must be 'geometric_progression' or "
                             f"'grid_search', got {stepsize_search!r}")
        self._stepsize_search = stepsize_search
        self._num_iterations = check_count("num_iterations", num_iterations)
        self._gamma = check_number("gamma", gamma, low=0.0)
        if constraint not in ("l2", "linf"):
            raise InputError(f"constraint must be 'l2' or 'linf', got {constraint!r}")
        self._constraint = constraint
        self._batch_size = check_count("batch_size", batch_size)
        self._target_images = None
        self._goal = None
        self._shape = None
        self._theta = None

    @property
    def constraint(self):
        return self._constraint

    @property
    def num_iterations(self):
        return self._num_iterations

    def set_target_images(self, target_images):
        """Starting points for a targeted attack (numpy, one per input)."""
        self._target_images = checked_target_images(target_images).astype(np.float64)

    # -- the pieces, for all points at once ------------------------------------------
    def _decide(self, images, rows, counts):
        """bool (m,): which clipped ``images`` (m, D) of the points ``rows`` lie on the
        desired side (a targeted point: its target; else not its own class)."""
        lo, hi = self._bounds
        images = np.clip(images, lo, hi)
        targeted, labels = self._goal
        hits = self._queries.adversarial(images.reshape((-1,) + self._shape).astype(
            np.float32), labels[rows], targeted)
        np.add.at(counts, rows, 1)
        return hits

    def _distance(self, a, b):
        diff = a - b
        if self._constraint == "l2":
            return np.sqrt((diff ** 2).sum(axis=-1))
        return np.abs(diff).max(axis=-1)

    def _project(self, x, p, alpha):
        if self._constraint == "l2":
            return (1 - alpha[:, None]) * x + alpha[:, None] * p
        return np.clip(p, x - alpha[:, None], x + alpha[:, None])

    def _initialize(self, x, rows, counts):
        """Starting points (m, D) and a found-mask for the points ``rows``."""
        lo, hi = self._bounds
        start = np.zeros_like(x)
        found = np.zeros(len(rows), bool)
        for _ in range(_INIT_DRAWS):
            todo = np.flatnonzero(~found)
            if todo.size == 0:
                break
            noise = self._rng.uniform(lo, hi, size=(todo.size, x.shape[1]))
            hit = self._decide(noise, rows[todo], counts)
            start[todo[hit]] = noise[hit]
            found[todo[hit]] = True
        ok = np.flatnonzero(found)
        low, high = np.zeros(ok.size), np.ones(ok.size)
        while ok.size and np.any(high - low > 0.001):
            mid = (high + low) / 2
            blend = (1 - mid[:, None]) * x[ok] + mid[:, None] * start[ok]
            hit = self._decide(blend, rows[ok], counts)
            high, low = np.where(hit, mid, high), np.where(hit, low, mid)
        start[ok] = (1 - high[:, None]) * x[ok] + high[:, None] * start[ok]
        return start, found

    def _binary_search(self, x, cands, owner, rows, counts):
        """Each point's closest boundary point from its candidates ``cands`` (c, D)
        (``owner``: the index in ``x`` (m, D) of each candidate's point): (m, D) points
        and the distances before the search (MindArmour's ``dist_post_update``)."""
        xs = x[owner]
        before = self._distance(cands, xs)
        if self._constraint == "l2":
            high = np.ones(len(cands))
            thresh = np.full(len(cands), self._theta)
        else:
            high = before.copy()
            thresh = np.minimum(before * self._theta, self._theta)
        low = np.zeros(len(cands))
        while True:
            ratio = (high - low) / thresh
            worst = np.full(len(x), -np.inf)
            np.maximum.at(worst, owner, ratio)
            live = np.flatnonzero(worst[owner] > 1)
            if live.size == 0:
                break
            mid = (high[live] + low[live]) / 2
            hit = self._decide(self._project(xs[live], cands[live], mid), rows[owner[live]],
                               counts)
            low[live] = np.where(hit, low[live], mid)
            high[live] = np.where(hit, mid, high[live])
        out = self._project(xs, cands, high)
        dist = self._distance(out, xs)
        best = np.full(len(x), -1)
        order = np.lexsort((dist, owner))           # by point, closest first
        first = np.r_[True, owner[order][1:] != owner[order][:-1]]
        best[owner[order][first]] = order[first]
        return out[best], before[best]

    def _gradient(self, p, delta, num_evals, rows, counts):
        """Unit gradient-direction estimates (m, D) at the boundary points ``p``."""
        lo, hi = self._bounds
        m, dim = p.shape
        grads = np.empty_like(p)
        chunk = max(1, _PROBE_VALUES // (num_evals * dim))
        for start in range(0, m, chunk):
            sl = slice(start, min(m, start + chunk))
            k = sl.stop - sl.start
            if self._constraint == "l2":
                noise = self._rng.standard_normal((k, num_evals, dim))
            else:
                noise = self._rng.uniform(-1.0, 1.0, size=(k, num_evals, dim))
            noise /= np.sqrt((noise ** 2).sum(axis=2, keepdims=True))
            probes = np.clip(p[sl, None] + delta[sl, None, None] * noise, lo, hi)
            noise = (probes - p[sl, None]) / self._theta
            owners = np.repeat(rows[sl], num_evals)
            signs = 2.0 * self._decide(probes.reshape(-1, dim), owners, counts).reshape(
                k, num_evals, 1) - 1.0
            mean = signs.mean(axis=1, keepdims=True)
            weights = np.where(mean == 1.0, 1.0, np.where(mean == -1.0, -1.0, signs - mean))
            grad = (weights * noise).mean(axis=1)
            grads[sl] = grad / (np.sqrt((grad ** 2).sum(axis=1, keepdims=True)) + 1e-10)
        return grads

    def _geometric_step(self, p, update, dist, j, rows, counts):
        eps = dist / np.sqrt(j)
        todo = np.arange(len(p))
        for _ in range(_HALVINGS):
            if todo.size == 0:
                break
            hit = self._decide(p[todo] + eps[todo, None] * update[todo], rows[todo], counts)
            todo = todo[~hit]
            eps[todo] /= 2.0
        return eps

    # -- the attack ------------------------------------------------------------------
    def generate(self, inputs, labels):
        """``(is_adv, adv, query_counts)``; ``labels`` are targets (None: untargeted)."""
        start = self._queries.total
        self._is_targeted = False                # labels=None: its own predictions
        if labels is None:
            x, own, counts = self._pair(inputs, None)
            self._goal = (False, own)
        else:
            x, target, counts = self._pair(inputs, labels)
            self._goal = (True, target)
            self._is_targeted = True             # MindArmour: labels given are targets
        n = x.shape[0]
        self._shape = x.shape[1:]
        flat = x.reshape(n, -1).astype(np.float64)
        dim = flat.shape[1]
        self._theta = self._gamma / (np.sqrt(dim) * dim if self._constraint == "l2"
                                     else dim * dim)
        result = flat.copy()
        found = np.zeros(n, bool)
        exhausted = False
        try:
            self._attack(flat, counts, result, found)
        except BudgetSpent:
            exhausted = True
        self.stats = {"samples": n, "queries": self._queries.total - start,
                      "budget_exhausted": exhausted}
        lo, hi = self._bounds
        adv = np.clip(result, lo, hi).reshape((n, 1) + x.shape[1:]).astype(np.float32)
        return found, adv, counts

    def _attack(self, flat, counts, result, found):
        """The search; ``result`` and ``found`` are updated in place as points progress,
        so a spent budget leaves the last boundary points."""
        n, dim = flat.shape
        rows = np.arange(n)
        if self._target_images is not None:
            if self._target_images.reshape(len(self._target_images), -1).shape != (n, dim):
                raise InputError(f"target_images must hold one image per input, shape "
                                 f"({n}, {', '.join(map(str, self._shape))}), got "
                                 f"{self._target_images.shape}")
            start = self._target_images.reshape(n, dim).copy()
            ok = np.ones(n, bool)
        else:
            start, ok = self._initialize(flat, rows, counts)
        rows = np.flatnonzero(ok)
        found[rows] = True
        if rows.size == 0:
            return
        x = flat[rows]
        result[rows] = start[rows]
        local = np.arange(rows.size)
        p, dist_post = self._binary_search(x, start[rows], local, rows, counts)
        result[rows] = p
        dist = self._distance(p, x)
        lo, hi = self._bounds
        for j in range(1, self._num_iterations + 1):
            if j == 1:
                delta = np.full(rows.size, 0.1 * (hi - lo))
            else:
                delta = (np.sqrt(dim) if self._constraint == "l2" else dim) * \
                    self._theta * dist_post
            num_evals = int(min(self._init_num_evals * np.sqrt(j), self._max_num_evals))
            update = self._gradient(p, delta, num_evals, rows, counts)
            if self._constraint == "linf":
                update = np.sign(update)
            if self._stepsize_search == "geometric_progression":
                eps = self._geometric_step(p, update, dist, j, rows, counts)
                moved = np.clip(p + eps[:, None] * update, lo, hi)
                p, dist_post = self._binary_search(x, moved, local, rows, counts)
            else:
                p, dist_post = self._grid_step(x, p, update, dist, dist_post, rows, counts)
            result[rows] = p
            dist = self._distance(p, x)

    def _grid_step(self, x, p, update, dist, dist_post, rows, counts):
        lo, hi = self._bounds
        m = len(p)
        scales = np.logspace(-4, 0, num=20, endpoint=True)
        cands = np.clip(p[:, None] + (scales[None, :] * dist[:, None])[:, :, None] *
                        update[:, None], lo, hi).reshape(m * 20, -1)
        owner = np.repeat(np.arange(m), 20)
        hit = self._decide(cands, rows[owner], counts)
        keep = np.flatnonzero(hit)
        if keep.size == 0:
            return p, dist_post
        some = np.unique(owner[keep])
        remap = np.full(m, -1)
        remap[some] = np.arange(some.size)
        new_p, new_post = self._binary_search(x[some], cands[keep], remap[owner[keep]],
                                              rows[some], counts)
        p, dist_post = p.copy(), dist_post.copy()
        p[some], dist_post[some] = new_p, new_post
        return p, dist_post
