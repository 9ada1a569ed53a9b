"""Square Attack: a score-based black-box attack by random search (Andriushchenko, Croce,
Flammarion and Hein, ECCV 2020, "Square Attack: a query-efficient black-box adversarial
attack via random search", arXiv:1912.00049), in Linf and L2, with the settings of
AutoAttack's standard version (5000 queries, ``p_init=0.8``, one restart, margin loss).

The attack sees only what a :class:`mindsec.privacy.PredictionAPI` answers (float32
probabilities, after the API's own serving defenses), and every query is counted there.
From the answered probabilities ``p`` it computes, in float64 with a floor of 1e-45 before
the log (so a probability rounded to 0 still has a finite log):

* the margin: untargeted ``log p_y - max_{j != y} log p_j``; targeted
  ``max_{j != t} log p_j - log p_t``. A point counts as fooled when its margin is < 0
  (strictly: a tie, common behind a rounding API, is not a success);
* the loss it minimises: ``loss="margin"`` the margin itself; ``loss="ce"`` the
  cross-entropy: untargeted ``log p_y`` (minus the cross-entropy of the label),
  targeted ``-log p_t`` (the cross-entropy toward the target, the paper's choice for
  targeted attacks). The default for both modes is the margin (as AutoAttack's).

Each point starts at a random vertex of the ball, is queried once there, then for up to
``n_queries - 1`` iterations one square window of side ``s`` is changed, the new point is
queried, and it is kept if the loss went down (or the point is fooled). A point is queried
only while it is not fooled, so at most ``n_queries`` times per restart (the first query
counts as one, as in the original); the batch stops when all its points are fooled.

* Schedule: at iteration ``i`` (0-based) of ``n_queries``, with ``k = int(i / n_queries *
  10000)``, the fraction of pixels changed is ``p = p_init / 2**j``, ``j`` the number of
  the thresholds 10, 50, 200, 500, 1000, 2000, 4000, 6000, 8000 that ``k`` exceeds (the
  paper's schedule, rescaled to the query budget); the side is ``s = round(sqrt(p * H *
  W))``.
* Linf: the start is ``x + eps * sign`` with one random sign per column and channel
  (vertical stripes), clipped to the bounds. A step sets the window of each point to
  ``x + eps * sign`` with one random sign per channel (clipped); a sign that would leave
  the point unchanged is drawn again (as in the original code), so no query is wasted.
* L2: the start is a 5x5 grid of squares of side ``min(H, W) // 5``, each holding the
  "meta pseudo-gaussian" bump (two stacked rectangles of opposite sign, each the sum of
  ``1/(k+1)^2`` over the concentric rings ``k`` that contain the pixel, randomly
  transposed) times a random sign per channel, scaled to ``||delta||_2 = eps``. A step
  (odd ``s >= 3``) takes two windows: the mass of both (plus any budget left over)
  goes into a fresh signed bump in the first, blended with the first's old content, the
  second is zeroed, and the whole perturbation is rescaled to ``eps`` before clipping.

Budgets are fractions of the data range ``r = hi - lo`` (``eps * r`` in data units; with
``bounds=None`` data units and no clipping). With ``n_restarts > 1`` each later restart
starts afresh on the points not yet fooled; the result keeps, per point, a fooling point
if one was found, else the point of lowest loss over the restarts (the lowest margin with
the default loss). Batches of ``batch_size`` are attacked in order with one
``numpy.random.default_rng(seed)``, so the first batches do not depend on later ones and
a seed repeats the examples bit for bit.

If the API's query budget runs out, the attack stops there and returns the best points
found so far (the inputs themselves for points never queried), with
``stats["budget_exhausted"] = True``: a budget is part of the threat model, and the points
found until then are what such an attacker holds.

Differences from the original code and from AutoAttack / torchattacks:

* each point draws its own window position (and, in L2, bump orientation) at each
  iteration; AutoAttack shares one position across the batch, the original code does so
  in L2. Positions range over all ``H - s + 1`` offsets (the original's ``randint`` omits
  the last one);
* the Linf step never repeats the current point (the original does this, AutoAttack
  does not);
* fooled means margin < 0 on the served probabilities (the original: margin <= 0 on
  logits); the queries per point are at most ``n_queries`` including the first
  (AutoAttack makes up to ``n_queries + 1``);
* the L2 start grid is centred on both axes from ``min(H, W)`` (the original assumes
  square images).
"""
import bisect

import numpy as np

from ..batching import padded_batches
from ..checks import check_count, check_flag, check_inputs, check_number, check_seed
from ..errors import InputError
from .base import Attack, AttackKind
from .norms import L2, get_norm

_FLOOR = 1e-45                  # probabilities below this count as this before the log
_P_THRESHOLDS = (10, 50, 200, 500, 1000, 2000, 4000, 6000, 8000)
_MAX_REDRAWS = 64               # Linf: redraws of a sign that would not move the point
LOSSES = ("margin", "ce")


def p_selection(p_init, i, n_queries):
    """The fraction of pixels a square covers at iteration ``i`` (0-based) of
    ``n_queries``: ``p_init`` halved at each threshold of the rescaled iteration."""
    k = int(i / n_queries * 10000)
    return p_init / 2 ** bisect.bisect_left(_P_THRESHOLDS, k)


def _rings(rows, cols):
    """(rows, cols) bump: each pixel sums ``1/(k+1)^2`` over the rings ``k`` (Chebyshev
    distance from the centre ``(rows // 2, cols // 2)``) at or beyond its own; unit L2."""
    if rows == 0:
        return np.zeros((0, cols))
    dist = np.maximum(np.abs(np.arange(rows) - rows // 2)[:, None],
                      np.abs(np.arange(cols) - cols // 2)[None, :])
    n_rings = max(rows // 2, cols // 2) + 1
    weights = 1.0 / np.arange(1, n_rings + 1) ** 2
    tail = np.cumsum(weights[::-1])[::-1]          # tail[d] = sum_{k >= d} weights[k]
    bump = tail[dist]
    return bump / np.sqrt((bump ** 2).sum())


def meta_bump(s):
    """The (s, s) "meta pseudo-gaussian" of the paper's L2 attack (not transposed): the
    top ``s // 2`` rows a ring bump, the rest the negative of one; unit L2 norm."""
    bump = np.concatenate([_rings(s // 2, s), -_rings(s - s // 2, s)], axis=0)
    return bump / np.sqrt((bump ** 2).sum())


def _window_mask(top, left, side, h, w):
    """(m, 1, h, w) bool: the ``side`` x ``side`` window at ``(top, left)`` per point."""
    rows = np.arange(h)[None, :]
    cols = np.arange(w)[None, :]
    in_rows = (rows >= top[:, None]) & (rows < top[:, None] + side)
    in_cols = (cols >= left[:, None]) & (cols < left[:, None] + side)
    return (in_rows[:, :, None] & in_cols[:, None, :])[:, None]


def _check_images(inputs):
    if inputs.ndim != 4:
        raise InputError(f"inputs must be images (N, C, H, W) for SquareAttack, got shape "
                         f"{inputs.shape}")


def _signs(rng, shape):
    return rng.integers(0, 2, size=shape).astype(np.float32) * 2.0 - 1.0


def _l2_size(delta):
    """(m, 1, 1, 1) L2 norm of each point's perturbation."""
    return np.sqrt((delta ** 2).sum(axis=(1, 2, 3), keepdims=True))


class SquareAttack(Attack):
    """Square Attack (score-based, black box), Linf or L2; see the module docstring.

    Args:
        network (nn.Cell): returns logits; it is only ever queried through ``api``.
        eps (float): the budget as a fraction of the data range (Linf: in (0, 1]).
            Default 0.3.
        norm_level (int|str): ``np.inf``/``"inf"`` or ``2``/``"l2"``. Default ``"inf"``.
        n_queries (int): queries per point and restart at most, the first included.
            Default 5000.
        p_init (float): fraction of the pixels the first squares cover, in (0, 1].
            Default 0.8.
        n_restarts (int): restarts; later ones only on the points not yet fooled.
            Default 1.
        bounds (tuple): data range, or None (no clipping; eps in data units).
        is_targeted (bool): labels are targets. Default False.
        loss (str): ``"margin"`` or ``"ce"`` (see the module docstring). Default
            ``"margin"``.
        seed (int): seed of the random search (None: drawn once, here).
        api (PredictionAPI): the API serving ``network`` (its defenses apply, its
            budget binds); None builds a plain ``PredictionAPI(network)``.

    After each call ``stats`` holds ``samples``, ``saturated`` (None), ``queries`` (made
    by this call), ``point_queries`` (int64 (N,): per point, all restarts), ``fooled``
    (points whose served margin went below 0) and ``budget_exhausted``.
    """

    kind = AttackKind.SCORE_BASED
    short_name = "Square"

    def __init__(self, network, eps=0.3, norm_level="inf", n_queries=5000, p_init=0.8,
                 n_restarts=1, bounds=(0.0, 1.0), is_targeted=False, loss="margin",
                 seed=None, api=None):
        # pylint: disable=import-outside-toplevel
        from ..privacy.api import PredictionAPI   # lazy: mindsec.privacy loads sklearn
        super().__init__(network, bounds)
        self._norm = get_norm(norm_level, allowed=("linf", "l2"), owner="SquareAttack")
        self._eps = self._checked_eps(eps)
        self._n_queries = check_count("n_queries", n_queries)
        self._p_init = check_number("p_init", p_init, low=0.0, high=1.0)
        self._n_restarts = check_count("n_restarts", n_restarts)
        self._is_targeted = check_flag("is_targeted", is_targeted)
        if not isinstance(loss, str) or loss not in LOSSES:
            raise InputError(f"loss must be 'margin' or 'ce', got {loss!r}")
        self._loss = loss
        self._seed = check_seed(seed)
        if api is None:
            api = PredictionAPI(network)
        elif not isinstance(api, PredictionAPI):
            raise InputError(f"api must be a mindsec.privacy.PredictionAPI or None, got "
                             f"{type(api).__name__}")
        elif not api.serves(network):
            raise InputError("api must serve the network given to SquareAttack; it serves "
                             "another one")
        if api.output == "label":
            raise InputError("api must answer probabilities (output 'probabilities' or "
                             "'top_k') for SquareAttack, got output='label'")
        self._api = api
        self._logits_net = network
        self.stats = {"samples": 0, "saturated": None, "queries": 0, "fooled": 0,
                      "budget_exhausted": False, "point_queries": np.zeros(0, np.int64)}

    # -- description (read-only) ------------------------------------------------------
    @property
    def api(self):
        """The :class:`~mindsec.privacy.PredictionAPI` every query goes through."""
        return self._api

    @property
    def n_queries(self):
        return self._n_queries

    @property
    def p_init(self):
        return self._p_init

    @property
    def n_restarts(self):
        return self._n_restarts

    @property
    def loss(self):
        return self._loss

    @property
    def seed(self):
        return self._seed

    @property
    def label(self):
        if self.name:
            return self.name
        return f"Square-{self._n_queries}" + ("-L2" if self._norm is L2 else "")

    # -- scores from the API's answers ------------------------------------------------
    def _scores(self, probs, y):
        """(margin, loss) float64 per point from served probabilities (N, K)."""
        logp = np.log(np.maximum(np.asarray(probs, np.float64), _FLOOR))
        rows = np.arange(len(y))
        own = logp[rows, y]
        logp[rows, y] = -np.inf
        other = logp.max(axis=1)
        if self._is_targeted:
            margin = other - own
            loss = margin if self._loss == "margin" else -own
        else:
            margin = own - other
            loss = margin if self._loss == "margin" else own
        return margin, loss

    def _query(self, x, y):
        """(margin, loss), or None when the API's budget is spent."""
        from ..privacy.api import QueryBudgetExceeded  # pylint: disable=import-outside-toplevel
        try:
            probs = self._api.query(np.ascontiguousarray(x, dtype=np.float32))
        except QueryBudgetExceeded:
            return None
        return self._scores(probs, y)

    # -- the search ---------------------------------------------------------------------
    def _checked(self, inputs, labels, batch_size, whole=False):
        _check_images(check_inputs(inputs, self._bounds))   # before the network sees them
        return super()._checked(inputs, labels, batch_size, whole)

    def generate_at(self, inputs, labels, eps, batch_size=None):
        """As :meth:`batch_generate` at budget ``eps`` instead of the attack's own."""
        eps = self._checked_eps(eps)
        inputs, labels, batch_size = self._checked(inputs, labels, batch_size)
        return self._run(inputs, labels, batch_size, eps)

    def _run(self, inputs, labels, batch_size, eps=None):
        _check_images(inputs)
        eps = self._eps if eps is None else eps
        rng = np.random.default_rng(self._seed)   # each call repeats (reseed to vary)
        before = self._api.queries
        out = inputs.copy()
        point_queries = np.zeros(inputs.shape[0], np.int64)
        fooled = 0
        exhausted = False
        for start, stop in padded_batches(inputs.shape[0], batch_size):
            if exhausted:
                break
            x, y = inputs[start:stop], labels[start:stop]
            best = x.copy()
            best_loss = np.full(len(x), np.inf)
            best_margin = np.full(len(x), np.inf)
            todo = np.arange(len(x))
            for _ in range(self._n_restarts):
                if todo.size == 0 or exhausted:
                    break
                adv, loss, margin, used, exhausted = self._single_run(x[todo], y[todo], rng,
                                                                      eps)
                point_queries[start + todo] += used
                take = (margin < 0) | (loss < best_loss[todo])
                chosen = todo[take]
                best[chosen] = adv[take]
                best_loss[chosen] = loss[take]
                best_margin[chosen] = margin[take]
                todo = todo[best_margin[todo] >= 0]
            out[start:stop] = best
            fooled += int((best_margin < 0).sum())
        self.stats = {"samples": inputs.shape[0], "saturated": None,
                      "queries": self._api.queries - before, "fooled": fooled,
                      "budget_exhausted": exhausted, "point_queries": point_queries}
        return out

    def _box(self, eps):
        """(lo, hi, eps in data units) as float32."""
        if self._bounds is None:
            return np.float32(-np.inf), np.float32(np.inf), np.float32(eps)
        lo, hi = self._bounds
        return np.float32(lo), np.float32(hi), np.float32(eps * (hi - lo))

    def _single_run(self, x, y, rng, eps):
        """One restart on ``x`` (m, C, H, W): (best points, loss, margin, queries per
        point, exhausted)."""
        lo, hi, eps = self._box(eps)
        l2 = self._norm is L2
        x_best = self._l2_start(x, rng, lo, hi, eps) if l2 else \
            np.clip(x + eps * _signs(rng, (x.shape[0], x.shape[1], 1, x.shape[3])), lo, hi)
        scored = self._query(x_best, y)
        if scored is None:
            m = len(x)
            return x.copy(), np.full(m, np.inf), np.full(m, np.inf), np.zeros(m, np.int64), \
                True
        margin, loss = scored
        used = np.ones(len(x), np.int64)
        step = self._l2_step if l2 else self._linf_step
        for i in range(self._n_queries - 1):
            idx = np.flatnonzero(margin >= 0)
            if idx.size == 0:
                break
            p = p_selection(self._p_init, i, self._n_queries)
            cand = step(x[idx], x_best[idx], p, rng, lo, hi, eps)
            scored = self._query(cand, y[idx])
            if scored is None:
                return x_best, loss, margin, used, True
            used[idx] += 1
            new_margin, new_loss = scored
            take = (new_loss < loss[idx]) | (new_margin < 0)
            chosen = idx[take]
            x_best[chosen] = cand[take]
            loss[chosen] = new_loss[take]
            margin[chosen] = new_margin[take]
        return x_best, loss, margin, used, False

    @staticmethod
    def _linf_step(x, x_best, p, rng, lo, hi, eps):
        """Each point's window set to ``x + eps * sign`` (one sign per channel), redrawn
        where that would leave the point as it is."""
        m, c, h, w = x.shape
        side = int(min(max(round(np.sqrt(p * h * w)), 1), h, w))
        top = rng.integers(0, h - side + 1, size=m)
        left = rng.integers(0, w - side + 1, size=m)
        mask = _window_mask(top, left, side, h, w)
        tol = np.float32(1e-7) * (hi - lo if np.isfinite(hi - lo) else np.float32(1.0))
        cand = np.empty_like(x)
        redo = np.arange(m)
        for _ in range(_MAX_REDRAWS):
            signs = _signs(rng, (redo.size, c, 1, 1))
            cand[redo] = np.where(mask[redo], np.clip(x[redo] + eps * signs, lo, hi),
                                  x_best[redo])
            moved = (mask[redo] & (np.abs(cand[redo] - x_best[redo]) > tol)).any(
                axis=(1, 2, 3))
            redo = redo[~moved]
            if redo.size == 0:
                break
        return cand

    @staticmethod
    def _bumps(rng, side, m):
        """(m, side, side) meta pseudo-gaussians, each transposed with probability 1/2."""
        bump = meta_bump(side)
        flip = rng.random(m) < 0.5
        return np.where(flip[:, None, None], bump.T[None], bump[None])

    def _l2_start(self, x, rng, lo, hi, eps):
        """The paper's L2 start: a centred grid of signed bumps, scaled to ``eps``."""
        m, c, h, w = x.shape
        side = max(min(h, w) // 5, 1)
        n_h, n_w = h // side, w // side
        top0, left0 = (h - n_h * side) // 2, (w - n_w * side) // 2
        delta = np.zeros(x.shape, np.float64)
        for i in range(n_h):                 # a loop over the grid's cells, not the points
            for j in range(n_w):
                cell = self._bumps(rng, side, m)[:, None] * _signs(rng, (m, c, 1, 1))
                r, q = top0 + i * side, left0 + j * side
                delta[:, :, r:r + side, q:q + side] = cell
        delta *= float(eps) / (_l2_size(delta) + 1e-12)
        return np.clip((x + delta).astype(np.float32), lo, hi)

    def _l2_step(self, x, x_best, p, rng, lo, hi, eps):
        """Window 2's mass (and the unused budget) moved into a fresh bump in window 1;
        the whole perturbation rescaled to ``eps`` and clipped."""
        m, c, h, w = x.shape
        side = max(int(round(np.sqrt(p * h * w))), 3)
        side = int(min(side + (side % 2 == 0), h, w))
        pos = rng.integers(0, [h - side + 1, w - side + 1, h - side + 1, w - side + 1],
                           size=(m, 4))
        mask1 = _window_mask(pos[:, 0], pos[:, 1], side, h, w)
        mask2 = _window_mask(pos[:, 2], pos[:, 3], side, h, w)
        delta = x_best.astype(np.float64) - x
        norm_image = _l2_size(delta)                                          # (m,1,1,1)
        norm_w1 = np.sqrt(((delta * mask1) ** 2).sum(axis=(2, 3), keepdims=True))
        norm_both = np.sqrt(((delta * (mask1 | mask2)) ** 2).sum(axis=(2, 3),
                                                                  keepdims=True))
        canvas = np.zeros((m, h, w))
        rows = pos[:, 0, None] + np.arange(side)
        cols = pos[:, 1, None] + np.arange(side)
        canvas[np.arange(m)[:, None, None], rows[:, :, None], cols[:, None, :]] = \
            self._bumps(rng, side, m)
        fresh = canvas[:, None] * _signs(rng, (m, c, 1, 1)) + \
            delta * mask1 / (norm_w1 + 1e-10)
        size = np.sqrt((fresh ** 2).sum(axis=(2, 3), keepdims=True))
        target = np.sqrt(np.maximum(float(eps) ** 2 - norm_image ** 2, 0.0) / c +
                         norm_both ** 2)
        fresh *= target / (size + 1e-12)
        delta = np.where(mask1, fresh, np.where(mask2, 0.0, delta))
        delta *= float(eps) / (_l2_size(delta) + 1e-12)
        return np.clip((x + delta).astype(np.float32), lo, hi)


__all__ = ["SquareAttack", "p_selection", "meta_bump"]
