"""MindArmour's ``NES`` (natural evolution strategies; Ilyas, Engstrom, Athalye and Lin,
2018) with batched, counted queries. A targeted attack: ``labels`` are the targets.

As in MindArmour 2.0.0, per point and iteration (at most ``max_queries // samples_per_draw``
of them): stop if the current example is classified as its target with ``eps <= epsilon``;
else estimate the gradient of a loss from ``samples_per_draw // batch_size`` rounds of
``batch_size`` antithetic probes ``adv +- sigma u`` (``u`` standard normal):
``mean_j(loss_j u_j) / sigma``, smoothed by ``momentum``; then take a signed step
``adv - lr sign(g)`` clipped to the box ``x +- eps``, with a line search. The loss of a
probe with scores ``s`` (treated as logits, softmax ``p``) is

- ``'Query_Limit'``: ``-log p_t / num_class`` (MindArmour's mean cross-entropy);
- ``'Partial_Info'``: ``-log p_t`` when ``t`` is in the top ``top_k`` scores (else
  ``-log 1e-30``: MindArmour's is infinite);
- ``'Label_Only'``: ``1 - mean(rank_t) / top_k`` over ``zero_iters`` copies of the probe
  with noise ``label_only_sigma`` (``rank_t`` is ``top_k`` for the top class, 0 outside the
  top ``top_k``).

In ``'Partial_Info'`` and ``'Label_Only'`` the search starts from the point's target image
(:meth:`NES.set_target_images`) with ``eps = starting_eps`` and shrinks the box: when the
loss is below ``adv_thresh`` a step proposes ``eps - delta`` (``delta`` starting at
``starting_delta_eps``); each proposal is one query (is the target still in the top
``top_k``?); a rejected one halves the learning rate down to ``min_lr``, then halves
``delta`` and restarts at the maximum rate; below ``delta = 0.002`` the point gives up.
An accepted proposal with ``delta > 0`` sets ``eps = max(eps - delta / conservative,
epsilon)``. The maximum rate starts at ``max_lr`` and is divided by ``plateau_drop``
(down to ``min_lr``) when the loss is higher than ``plateau_length`` iterations before.

Here all points still searching go to the model together: one batch for their checks, one
per probe round (all their probes), one per line-search proposal. Draws come from
``numpy.random.default_rng(seed)``. Deliberate differences from MindArmour:

- ``generate`` returns arrays (bool (N,), float32 (N, ...), int64 (N,)); MindArmour's are
  lists. The target images are needed for ``'Partial_Info'`` and ``'Label_Only'`` only.
- ``'Query_Limit'`` searches in ``x +- epsilon`` from the start (MindArmour's box stays at
  ``x +- starting_eps``, 1.0 by default, so its examples can exceed ``epsilon``); with
  ``starting_eps == epsilon`` both are the same search.
- query counts are the images asked: the check of each iteration (one, and one last check
  after the final step, so ``is_adv`` is the truth about the example returned), the probes,
  and the proposals that query (none in ``'Query_Limit'``); MindArmour counts
  ``samples_per_draw`` (times ``zero_iters``) per iteration plus one per proposal and
  leaves out its checks. A point stops before a step that would take it past
  ``max_queries``.
- each probe round draws fresh noise (MindArmour's rounds reuse the same probes); the
  Label-Only loss is per probe (MindArmour averages it over all probes first, which makes
  its gradient estimate zero); the annealed learning rate is kept per point (MindArmour
  carries it from one image, and one call, to the next).
- scores from a :class:`~mindsec.attacks.black.ServedModel` (a PredictionAPI or a network)
  are probabilities and are used as such (their log as the logits); a user's BlackModel's
  scores are softmaxed, as MindArmour does.
- ``bounds`` (default (0.0, 1.0), MindArmour's fixed range) and ``seed`` are mindsec's.
"""
import numpy as np
from scipy.special import log_softmax

from ...checks import check_count, check_number
from ...errors import InputError
from .black_model import BlackBoxAttack, BudgetSpent, ServedModel, checked_target_images

SCENES = ("Label_Only", "Partial_Info", "Query_Limit")
_PROBE_VALUES = 1 << 22     # input values per probe batch
_MIN_DELTA = 2e-3           # MindArmour's "did not converge" limit


def as_logits(model, scores):
    """``scores`` of ``model`` as logits: a ServedModel's probabilities by their log (a
    user's BlackModel answers what MindArmour's attacks take as logits)."""
    if isinstance(model, ServedModel):
        return np.log(np.maximum(scores, 1e-30))
    return scores


class NES(BlackBoxAttack):
    """Natural Evolutionary Strategies attack (MindArmour's arguments and defaults).

    Args:
        model (BlackModel | PredictionAPI | nn.Cell): the target.
        scene (str): ``'Label_Only'``, ``'Partial_Info'`` or ``'Query_Limit'``.
        max_queries (int): queries per point at most. Default 10000.
        top_k (int): classes the attacker sees in ``'Partial_Info'`` / ``'Label_Only'``
            (1 to ``num_class``); ignored in ``'Query_Limit'``. Default -1.
        num_class (int): classes of the model's scores. Default 10.
        batch_size (int): probes per round (even, >= 2). Default 128.
        epsilon (float): the Linf size of the examples. Default 0.3.
        samples_per_draw (int): probes per iteration (>= batch_size). Default 128.
        momentum (float): gradient smoothing. Default 0.9.
        learning_rate (float): kept for MindArmour's signature (its search uses max_lr).
        max_lr, min_lr (float): the line search's rates. Default 5e-2, 5e-4.
        sigma (float): probe radius. Default 1e-3.
        plateau_length (int): iterations of the annealing window. Default 20.
        plateau_drop (float): annealing divisor of the rate. Default 2.0.
        adv_thresh (float): loss under which the box shrinks. Default 0.25.
        zero_iters (int): noisy copies per probe (Label-Only). Default 10.
        starting_eps (float): the first box (Partial-Info, Label-Only). Default 1.0.
        starting_delta_eps (float): the first box decrement. Default 0.5.
        label_only_sigma (float): noise of the copies (Label-Only). Default 1e-3.
        conservative (int): divisor of an accepted decrement. Default 2.
        sparse (bool): labels are class indices (else one-hot). Default True.
        bounds (tuple): ``(clip_min, clip_max)``. Default (0.0, 1.0).
        seed (int): seed of the draws (None: drawn once, here).

    ``set_target_images(images)`` gives the starting points (one per input).
    ``generate(inputs, labels)`` -> ``(is_adv, adv, query_counts)``; ``labels`` are targets.
    """

    short_name = "NES"

    def __init__(self, model, scene, max_queries=10000, top_k=-1, num_class=10,
                 batch_size=128, epsilon=0.3, samples_per_draw=128, momentum=0.9,
                 learning_rate=1e-3, max_lr=5e-2, min_lr=5e-4, sigma=1e-3, plateau_length=20,
                 plateau_drop=2.0, adv_thresh=0.25, zero_iters=10, starting_eps=1.0,
                 starting_delta_eps=0.5, label_only_sigma=1e-3, conservative=2, sparse=True,
                 bounds=(0.0, 1.0), seed=None):
        super().__init__(model, bounds, True, sparse, seed)
        if scene not in SCENES:
            raise InputError(f"scene must be one of {', '.join(SCENES)}, got {scene!r}")
        self._scene = scene
        self._max_queries = check_count("max_queries", max_queries)
        self._num_class = check_count("num_class", num_class)
        if scene == "Query_Limit":
            self._k = self._num_class
        else:
            if isinstance(top_k, bool) or not isinstance(top_k, (int, np.integer)) or \
                    not 1 <= top_k <= self._num_class:
                raise InputError(f"top_k must be an integer in [1, {self._num_class}] in "
                                 f"scene {scene!r}, got {top_k!r}")
            self._k = int(top_k)
        self._batch_size = check_count("batch_size", batch_size, low=2)
        self._samples_per_draw = check_count("samples_per_draw", samples_per_draw)
        if self._samples_per_draw < self._batch_size:
            raise InputError(f"samples_per_draw must be >= batch_size ({self._batch_size}), "
                             f"got {samples_per_draw}")
        self._epsilon = check_number("epsilon", epsilon, low=0.0)
        self._momentum = check_number("momentum", momentum, low=0.0, high=1.0)
        self._learning_rate = check_number("learning_rate", learning_rate, low=0.0)
        self._max_lr = check_number("max_lr", max_lr, low=0.0)
        self._min_lr = check_number("min_lr", min_lr, low=0.0)
        if self._min_lr > self._max_lr:
            raise InputError(f"min_lr must be <= max_lr ({self._max_lr}), got {min_lr}")
        self._sigma = check_number("sigma", sigma, low=0.0)
        self._plateau_length = check_count("plateau_length", plateau_length)
        self._plateau_drop = check_number("plateau_drop", plateau_drop, low=0.0)
        self._adv_thresh = check_number("adv_thresh", adv_thresh, low=0.0)
        self._zero_iters = check_count("zero_iters", zero_iters)
        self._starting_eps = check_number("starting_eps", starting_eps, low=0.0)
        self._starting_delta_eps = check_number("starting_delta_eps", starting_delta_eps,
                                                low=0.0)
        self._label_only_sigma = check_number("label_only_sigma", label_only_sigma, low=0.0)
        self._conservative = check_count("conservative", conservative)
        self.target_imgs = None

    @property
    def scene(self):
        return self._scene

    @property
    def max_queries(self):
        return self._max_queries

    @property
    def epsilon(self):
        return self._epsilon

    def set_target_images(self, target_images):
        """Starting points for ``'Partial_Info'`` and ``'Label_Only'`` (one per input,
        of the targets' classes)."""
        self.target_imgs = checked_target_images(target_images)

    # -- queries -----------------------------------------------------------------------
    def _ask(self, images):
        """Scores (m, K) of the flat images (m, D), checked against ``num_class``."""
        out = self._queries.scores(images.reshape((-1,) + self._shape))
        if out.shape[1] != self._num_class:
            raise InputError(f"num_class is {self._num_class} but the model answers "
                             f"{out.shape[1]} scores per input")
        return out

    def _logits(self, scores):
        return as_logits(self.model, scores)

    def _in_top_k(self, scores, target):
        top = np.argsort(scores, axis=1)[:, -self._k:]
        return (top == target[:, None]).any(axis=1)

    def _losses(self, probes, target, rows, counts):
        """Losses (m, B) of the probes (m, B, D) of the points ``rows``."""
        m, b, dim = probes.shape
        copies = self._zero_iters if self._scene == "Label_Only" else 1
        chunk = max(1, _PROBE_VALUES // (b * copies * dim))
        out = np.empty((m, b))
        for start in range(0, m, chunk):
            sl = slice(start, min(m, start + chunk))
            k = sl.stop - sl.start
            tgt = np.repeat(target[sl], b * copies)
            if self._scene == "Label_Only":
                noisy = probes[sl, :, None] + np.float32(self._label_only_sigma) * \
                    self._rng.standard_normal((k, b, copies, dim), dtype=np.float32)
                scores = self._ask(noisy.reshape(-1, dim))
                top = np.argsort(scores, axis=1)[:, -self._k:]
                rank = ((top == tgt[:, None]) * np.arange(1, self._k + 1)).sum(axis=1)
                out[sl] = 1.0 - rank.reshape(k, b, copies).mean(axis=2) / self._k
            else:
                scores = self._ask(probes[sl].reshape(-1, dim))
                logp = np.take_along_axis(log_softmax(self._logits(scores), axis=1),
                                          tgt[:, None], axis=1)[:, 0]
                if self._scene == "Query_Limit":
                    loss = -logp / self._num_class
                else:
                    loss = -np.where(self._in_top_k(scores, tgt), logp, np.log(1e-30))
                out[sl] = loss.reshape(k, b)
            counts[rows[sl]] += b * copies
        return out

    def _gradient(self, adv, target, rows, counts):
        """(mean loss (m,), gradient estimate (m, D)) at ``adv`` (m, D)."""
        m, dim = adv.shape
        half = self._batch_size // 2
        rounds = self._samples_per_draw // self._batch_size
        grads = np.zeros((m, dim))
        losses = np.zeros(m)
        for _ in range(rounds):
            pos = self._rng.standard_normal((m, half, dim), dtype=np.float32)
            noise = np.concatenate([pos, -pos], axis=1)
            probes = adv.astype(np.float32)[:, None] + np.float32(self._sigma) * noise
            loss = self._losses(probes, target, rows, counts)
            grads += np.einsum("mb,mbd->md", loss.astype(np.float32), noise) / \
                (2 * half) / self._sigma
            losses += loss.mean(axis=1)
        return losses / rounds, grads / rounds

    # -- the attack --------------------------------------------------------------------
    def generate(self, inputs, labels):
        """``(is_adv, adv, query_counts)``; ``labels`` are the target classes."""
        x, target, counts = self._pair(inputs, labels)
        if target.min() < 0 or target.max() >= self._num_class:
            raise InputError(f"labels must be target classes in [0, {self._num_class}), got "
                             f"[{target.min()}, {target.max()}]")
        start_total = self._queries.total
        n = x.shape[0]
        self._shape = x.shape[1:]
        flat = x.reshape(n, -1).astype(np.float64)
        dim = flat.shape[1]
        if self._scene == "Query_Limit":
            adv = flat.copy()
            eps = np.full(n, self._epsilon)
        else:
            if self.target_imgs is None:
                raise InputError(f"scene {self._scene!r} starts from target images: call "
                                 f"set_target_images first")
            if self.target_imgs.size != n * dim or len(self.target_imgs) != n:
                raise InputError(f"target_images must hold one image per input, shape "
                                 f"{x.shape}, got {self.target_imgs.shape}")
            adv = self.target_imgs.reshape(n, dim).astype(np.float64).copy()
            eps = np.full(n, max(self._starting_eps, self._epsilon))
        state = {"eps": eps, "delta": np.full(n, self._starting_delta_eps),
                 "max_lr": np.full(n, self._max_lr), "grad": np.zeros((n, dim)),
                 "history": [[] for _ in range(n)]}
        success = np.zeros(n, bool)
        active = np.ones(n, bool)
        exhausted = False
        try:
            self._search(flat, adv, target, counts, state, success, active)
        except BudgetSpent:
            exhausted = True
        self.stats = {"samples": n, "queries": self._queries.total - start_total,
                      "budget_exhausted": exhausted}
        lo, hi = self._bounds
        return success, np.clip(adv, lo, hi).reshape(x.shape).astype(np.float32), counts

    def _probe_cost(self):
        copies = self._zero_iters if self._scene == "Label_Only" else 1
        return (self._samples_per_draw // self._batch_size) * \
            2 * (self._batch_size // 2) * copies

    def _search(self, flat, adv, target, counts, state, success, active):
        eps = state["eps"]
        iterations = self._max_queries // self._samples_per_draw
        for it in range(iterations + 1):
            active &= counts + 1 <= self._max_queries
            rows = np.flatnonzero(active)
            if rows.size == 0:
                return
            hit = self._ask(adv[rows]).argmax(axis=1) == target[rows]
            counts[rows] += 1
            won = rows[hit & (eps[rows] <= self._epsilon + 1e-12)]
            success[won] = True
            active[won] = False
            if it == iterations:
                return
            active &= counts + self._probe_cost() <= self._max_queries
            rows = np.flatnonzero(active)
            if rows.size == 0:
                return
            loss, grad = self._gradient(adv[rows], target[rows], rows, counts)
            grad = self._momentum * state["grad"][rows] + (1.0 - self._momentum) * grad
            state["grad"][rows] = grad
            self._anneal(rows, loss, state)
            self._line_search(flat, adv, target, rows, loss, np.sign(grad), counts, state,
                              active)

    def _anneal(self, rows, loss, state):
        """MindArmour's plateau annealing of the maximum rate, per point."""
        for row, value in zip(rows, loss):
            hist = state["history"][row]
            hist.append(value)
            del hist[:-self._plateau_length]
            if len(hist) == self._plateau_length and hist[-1] > hist[0]:
                state["max_lr"][row] = max(state["max_lr"][row] / self._plateau_drop,
                                           self._min_lr)
                hist.clear()

    def _line_search(self, flat, adv, target, rows, loss, step, counts, state, active):
        lo, hi = self._bounds
        eps = state["eps"]
        lr = state["max_lr"][rows].copy()
        prop = np.where((loss < self._adv_thresh) & (eps[rows] > self._epsilon),
                        state["delta"][rows], 0.0)
        todo = np.arange(rows.size)
        while todo.size:
            r = rows[todo]
            if self._scene == "Query_Limit":
                box = np.full(todo.size, self._epsilon)
            else:
                box = np.maximum(eps[r] - prop[todo], self._epsilon)
            cand = np.clip(adv[r] - lr[todo, None] * step[todo], flat[r] - box[:, None],
                           flat[r] + box[:, None])
            cand = np.clip(cand, lo, hi)
            if self._scene == "Query_Limit":
                ok = np.ones(todo.size, bool)            # MindArmour's check is always True
            else:
                afford = counts[r] + 1 <= self._max_queries
                active[r[~afford]] = False
                todo, r, cand, box = todo[afford], r[afford], cand[afford], box[afford]
                if todo.size == 0:
                    return
                ok = self._in_top_k(self._ask(cand), target[r])
                counts[r] += 1
            acc, acc_rows = todo[ok], r[ok]
            adv[acc_rows] = cand[ok]
            shrink = prop[acc] > 0
            state["delta"][acc_rows[shrink]] = np.maximum(prop[acc][shrink], 0.1)
            for row in acc_rows[shrink]:
                state["history"][row].clear()
            eps[acc_rows] = np.maximum(eps[acc_rows] - prop[acc] / self._conservative,
                                       self._epsilon)
            rej = todo[~ok]
            halve = lr[rej] >= 2 * self._min_lr
            lr[rej[halve]] /= 2
            back = rej[~halve]
            prop[back] /= 2
            give_up = back[prop[back] < _MIN_DELTA]
            active[rows[give_up]] = False                # MindArmour: "did not converge"
            retry = back[prop[back] >= _MIN_DELTA]
            lr[retry] = state["max_lr"][rows[retry]]
            todo = np.concatenate([rej[halve], retry])
