"""Auto-PGD (Croce & Hein, "Reliable evaluation of adversarial robustness with an ensemble
of diverse parameter-free attacks", ICML 2020, arXiv:2003.01690): PGD with momentum and a
step size that halves itself, Linf and L2, cross-entropy or DLR loss, untargeted or
targeted (APGD-T).

With ``P`` the projection onto the eps-ball around ``x`` followed by the clip to the bounds,
``g`` the loss's input gradient and ``d`` its steepest direction under the norm (``sign g``
for Linf, ``g / ||g||_2`` for L2), one iteration is

    z       = P(x_k + eta_k d(g_k))
    x_k+1   = P(x_k + alpha (z - x_k) + (1 - alpha) (x_k - x_k-1))    alpha = 1 first, then 0.75

from ``x_0`` on the sphere of the ball (Linf: ``eps * u / max|u|``, u uniform; L2:
``eps * n / ||n||``, n Gaussian) and ``eta_0 = 2 eps``. The budget of ``nb_iter``
iterations is cut by checkpoints ``w_0 = ceil(0.22 N)``, each window ``0.03 N`` shorter than
the last and at least ``0.06 N`` long. At a checkpoint a point's step halves, and it
restarts from its best point so far, where

1. its loss rose on at most ``thr_decr`` (0.75) of the window's steps, or
2. its step did not halve at the previous checkpoint and its best loss has not improved.

Losses (per sample, maximised): cross-entropy (computed as ``softplus(log-odds)``, without
float32 saturation: see :mod:`mindsec.attacks.losses`), DLR
``-(z_y - max_{i != y} z_i) / (z_pi1 - z_pi3)`` and targeted DLR
``-(z_y - z_t) / (z_pi1 - (z_pi3 + z_pi4) / 2)`` (``pi`` the logits sorted, largest
first; invariant to shifting and scaling the logits). APGD-T (``n_target_classes`` = k)
runs once per target, the 2nd to (k+1)-th most likely class at the clean point, each run
only on the points not yet fooled; restarts, likewise, only run on points still standing.

Everything per point lives on the device in fixed-shape tensors: one compiled graph for
the iteration and one for the checkpoint, per batch shape; subsets (restarts, targets, a
cascade's survivors) are padded to a power of two, so at most ``1 + log2(batch_size)``
shapes compile. ``nb_iter`` device calls per batch, a host read only every 10 iterations
(to stop once every point of the batch is fooled).

MindArmour 2.1's ``AutoProjectedGradientDescent`` has the same name and arguments
(``network, eps=8/255, eps_iter=0.1, bounds, is_targeted, nb_iter=10, norm_level,
loss_fn, eot_iter, thr_decr``); differences: the initial step is the paper's ``2 eps``
unless ``eps_iter`` is given, the loss is chosen with ``loss="ce"|"dlr"`` (MindArmour's
is fixed), restarts and APGD-T are available, and ``loss_fn``, where given, must be softmax
cross-entropy (what ``loss="ce"`` computes).
"""

import numpy as np
import mindspore as ms
from mindspore import nn, ops

from ..batching import bucket_size, predict_logits
from ..checks import check_count, check_flag, check_number, check_seed
from ..errors import InputError
from .base import Attack, AttackKind
from .core import Box
from .losses import _is_softmax_ce, log_odds
from .norms import LINF, get_norm

_CHECK_EVERY = 10
LOSSES = ("ce", "dlr")


def dlr(logits, labels):
    """Per-sample DLR loss (Croce & Hein 2020) for class indices ``labels``."""
    top, top_idx = ops.topk(logits, 3)
    true = ops.gather_elements(logits, 1, labels.reshape(-1, 1))[:, 0]
    first_is_true = top_idx[:, 0] == labels
    other = ops.where(first_is_true, top[:, 1], top[:, 0])
    return -(true - other) / (top[:, 0] - top[:, 2] + 1e-12)


def dlr_targeted(logits, labels, targets):
    """Per-sample targeted DLR loss: ``-(z_y - z_t) / (z_pi1 - (z_pi3 + z_pi4) / 2)``."""
    top, _ = ops.topk(logits, 4)
    true = ops.gather_elements(logits, 1, labels.reshape(-1, 1))[:, 0]
    target = ops.gather_elements(logits, 1, targets.reshape(-1, 1))[:, 0]
    return -(true - target) / (top[:, 0] - 0.5 * (top[:, 2] + top[:, 3]) + 1e-12)


class _APGDLoss(nn.Cell):
    """``(x, y, t) -> (sum of per-sample losses, per-sample loss, success)``; ``y`` the
    true classes, ``t`` the targets (``y`` again untargeted); success: misclassified, or,
    where the goal is the target, classified as ``t``."""

    def __init__(self, network, loss, use_target, goal_is_target):
        super().__init__(auto_prefix=False)
        self.network = network
        self.ce = loss == "ce"
        self.use_target = use_target
        self.goal_is_target = goal_is_target

    def construct(self, x, y, t):
        z = self.network(x)
        if self.ce:
            per = -ops.softplus(log_odds(z, t)) if self.use_target else \
                ops.softplus(log_odds(z, y))
        else:
            per = dlr_targeted(z, y, t) if self.use_target else dlr(z, y)
        pred = z.argmax(axis=-1).astype(ms.int32)
        hit = pred == t if self.goal_is_target else pred != y
        return per.sum(), per, hit


def _rows(mask, like):
    """A (B,) mask broadcastable against ``like`` (B, ...)."""
    return mask.reshape((-1,) + (1,) * (like.ndim - 1))


class _APGDState(nn.Cell):
    """The compiled pieces: ``start`` (loss, gradient and success at ``x_0``), the
    iteration (``construct``) and the ``checkpoint``."""

    def __init__(self, loss_cell, norm, bounds, eot_iter):
        super().__init__(auto_prefix=False)
        self.grad_fn = ops.grad(loss_cell, grad_position=0, has_aux=True)
        self.norm = norm
        self.box = Box(bounds)
        self.eot_iter = eot_iter

    def evaluate(self, x, y, t):
        grad, (per, hit) = self.grad_fn(x, y, t)
        for _ in range(self.eot_iter - 1):      # expectation over a randomised model
            more, _ = self.grad_fn(x, y, t)
            grad = grad + more
        if self.eot_iter > 1:
            grad = grad / self.eot_iter
        return grad, per, hit

    @ms.jit
    def start(self, x_0, y, t):
        return self.evaluate(x_0, y, t)

    def _into_ball(self, x, point, radius):
        return self.box.clip(x + self.norm.project(point - x, radius))

    @ms.jit
    def construct(self, x, y, t, radius, alpha, x_k, x_prev, grad, step, x_best, grad_best,
                  loss_best, x_adv, fooled, loss_prev, rises):
        z = self._into_ball(x, x_k + step * self.norm.direction(grad), radius)
        x_new = self._into_ball(x, x_k + alpha * (z - x_k) + (1.0 - alpha) * (x_k - x_prev),
                                radius)
        grad_new, per, hit = self.evaluate(x_new, y, t)
        x_adv = ops.where(_rows(hit, x), x_new, x_adv)
        fooled = ops.logical_or(fooled, hit)
        better = per > loss_best
        x_best = ops.where(_rows(better, x), x_new, x_best)
        grad_best = ops.where(_rows(better, x), grad_new, grad_best)
        loss_best = ops.where(better, per, loss_best)
        rises = rises + (per > loss_prev).astype(ms.float32)
        return x_new, x_k, grad_new, x_best, grad_best, loss_best, x_adv, fooled, per, rises

    @ms.jit
    def checkpoint(self, threshold, rises, loss_best, loss_best_last, reduced_last, step,
                   x_k, x_best, grad, grad_best):
        reduce = ops.logical_or(rises <= threshold, ops.logical_and(
            ops.logical_not(reduced_last), loss_best_last >= loss_best))
        step = ops.where(_rows(reduce, step), step * 0.5, step)
        x_k = ops.where(_rows(reduce, x_k), x_best, x_k)
        grad = ops.where(_rows(reduce, grad), grad_best, grad)
        return step, x_k, grad, reduce


def checkpoints(nb_iter):
    """The iterations (0-based, inclusive) after which APGD checks its step size."""
    first = max(int(0.22 * nb_iter), 1)
    shortest, shrink = max(int(0.06 * nb_iter), 1), max(int(0.03 * nb_iter), 1)
    marks, at, window = [], 0, first
    while at + window <= nb_iter:
        at += window
        marks.append((at - 1, window))
        window = max(window - shrink, shortest)
    return marks


class AutoProjectedGradientDescent(Attack):
    """Auto-PGD (see the module docstring); MindArmour 2.1's class and arguments.

    Args:
        network (nn.Cell): the model (returns logits).
        eps (float): budget, a fraction of the data range (Linf in (0, 1]). Default 8/255.
        eps_iter (float): the initial step, same unit; default None: ``2 * eps`` (the
            paper's; MindArmour's default is 0.1).
        bounds (tuple): ``(min, max)`` of the data.
        is_targeted (bool): labels are targets (APGD descends the loss toward them; the
            DLR loss then uses the model's clean prediction as the true class).
        nb_iter (int): iterations per run. Default 10 (MindArmour's; AutoAttack uses 100).
        norm_level: ``np.inf``/'inf' or 2.
        loss_fn (nn.Cell): None or softmax cross-entropy (MindArmour's argument); the loss
            is chosen by ``loss``.
        eot_iter (int): gradients averaged per step (for randomised models). Default 1.
        thr_decr (float): the checkpoint's share of loss increases (rho). Default 0.75.
        loss (str): ``"ce"`` (default) or ``"dlr"``.
        nb_restarts (int): runs from new random starts, each on the points still standing.
        n_target_classes (int): APGD-T: one targeted-DLR run per target, the 2nd ... (k+1)-th
            most likely classes; labels stay the true labels. Default 0 (untargeted).
        seed (int): seed of the random starts.
    """
    kind = AttackKind.ITERATIVE
    short_name = "APGD"

    def __init__(self, network, eps=8 / 255, eps_iter=None, bounds=(0.0, 1.0),
                 is_targeted=False, nb_iter=10, norm_level="inf", loss_fn=None, eot_iter=1,
                 thr_decr=0.75, *, loss="ce", nb_restarts=1, n_target_classes=0, seed=None):
        super().__init__(network, bounds)
        self._norm = get_norm(norm_level, allowed=("linf", "l2"),
                              owner="AutoProjectedGradientDescent")
        self._eps = self._checked_eps(eps)
        self._eps_iter = None if eps_iter is None else \
            check_number("eps_iter", eps_iter, low=0.0)
        self._is_targeted = check_flag("is_targeted", is_targeted)
        self._nb_iter = check_count("nb_iter", nb_iter)
        self._eot_iter = check_count("eot_iter", eot_iter)
        self._thr_decr = check_number("thr_decr", thr_decr, low=0.0, high=1.0)
        if loss not in LOSSES:
            raise InputError(f"loss must be one of {', '.join(LOSSES)}, got {loss!r}")
        if loss_fn is not None and not _is_softmax_ce(loss_fn):
            raise InputError("loss_fn must be None or softmax cross-entropy (choose the loss "
                             "with loss='ce' or 'dlr')")
        self._loss = loss
        self._nb_restarts = check_count("nb_restarts", nb_restarts)
        self._n_targets = check_count("n_target_classes", n_target_classes, low=0)
        if self._n_targets and self._is_targeted:
            raise InputError("n_target_classes chooses the targets itself: use it with "
                             "is_targeted=False (labels are then the true labels)")
        self._seed = check_seed(seed)
        self._rng = np.random.default_rng(self._seed)
        self._logits_net = network
        self._cells = {}
        self.shapes = set()          # the batch shapes compiled so far

    # -- description ---------------------------------------------------------------------
    @property
    def nb_iter(self):
        return self._nb_iter

    @property
    def nb_restarts(self):
        return self._nb_restarts

    @property
    def loss(self):
        return self._loss

    @property
    def n_target_classes(self):
        return self._n_targets

    @property
    def label(self):
        """``"APGD-CE-100"``, ``"APGD-T-100"``, ``"APGD-DLR-100x5-L2"``, or ``name``."""
        if self.name:
            return self.name
        head = "APGD-T" if self._n_targets else f"APGD-{self._loss.upper()}"
        text = f"{head}-{self._nb_iter}"
        if self._nb_restarts > 1:
            text += f"x{self._nb_restarts}"
        return text if self._norm is LINF else f"{text}-{self._norm!r}"

    # -- the run -------------------------------------------------------------------------
    def _cell(self, use_target):
        if use_target not in self._cells:
            loss = _APGDLoss(self._network, self._loss if not use_target or
                             self._is_targeted else "dlr", use_target, self._is_targeted)
            self._cells[use_target] = _APGDState(loss, self._norm, self._bounds,
                                                 self._eot_iter)
        return self._cells[use_target]

    def _sphere_start(self, x, radius):
        shape = x.shape
        if self._norm is LINF:
            u = self._rng.uniform(-1.0, 1.0, size=shape)
            size = np.abs(u.reshape(shape[0], -1)).max(axis=1)
        else:
            u = self._rng.standard_normal(size=shape)
            size = np.linalg.norm(u.reshape(shape[0], -1), axis=1) + 1e-12
        u = (u / size.reshape((-1,) + (1,) * (len(shape) - 1))).astype(np.float32)
        low, high = self._bounds if self._bounds is not None else (-np.inf, np.inf)
        return np.clip(x + radius * u, low, high).astype(np.float32)

    def _one_run(self, x, y, t, eps):
        """One APGD run on a padded batch (numpy); returns (adversarial, fooled)."""
        cell = self._cell(t is not None)
        targets = y if t is None else t
        scale = cell.box.scale
        radius = float(eps * scale)
        b = x.shape[0]
        self.shapes.add((t is not None,) + x.shape)
        xs, ys, ts = ms.Tensor(x), ms.Tensor(y), ms.Tensor(targets)
        x_k = ms.Tensor(self._sphere_start(x, radius))
        try:
            grad, loss_best, fooled = cell.start(x_k, ys, ts)
        except (TypeError, ValueError, RuntimeError) as exc:
            raise InputError(f"inputs of shape {x.shape} do not fit the network: "
                             f"{str(exc).strip().splitlines()[0]}") from None
        step_init = 2.0 * eps if self._eps_iter is None else self._eps_iter
        step = ms.Tensor(np.full((b,) + (1,) * (x.ndim - 1), step_init * scale, np.float32))
        radius_t = ms.Tensor(np.float32(radius))
        alphas = (ms.Tensor(np.float32(1.0)), ms.Tensor(np.float32(0.75)))
        x_prev, x_best, grad_best, x_adv = x_k, x_k, grad, x_k
        loss_prev = ops.zeros_like(loss_best)
        rises = ops.zeros_like(loss_best)
        loss_best_last, reduced_last = loss_best, ops.ones_like(fooled)
        marks = dict(checkpoints(self._nb_iter))
        for i in range(self._nb_iter):
            (x_k, x_prev, grad, x_best, grad_best, loss_best, x_adv, fooled, loss_prev,
             rises) = cell(xs, ys, ts, radius_t, alphas[i > 0], x_k, x_prev, grad, step,
                           x_best, grad_best, loss_best, x_adv, fooled, loss_prev, rises)
            if i in marks:
                threshold = ms.Tensor(np.float32(marks[i] * self._thr_decr))
                step, x_k, grad, reduced_last = cell.checkpoint(
                    threshold, rises, loss_best, loss_best_last, reduced_last, step, x_k,
                    x_best, grad, grad_best)
                loss_best_last, rises = loss_best, ops.zeros_like(rises)
            if (i + 1) % _CHECK_EVERY == 0 and bool(fooled.all()):
                break
        fooled = fooled.asnumpy()
        out = np.where(fooled.reshape((-1,) + (1,) * (x.ndim - 1)), x_adv.asnumpy(),
                       x_best.asnumpy())
        return out.astype(np.float32), fooled

    def _targets(self, inputs, rank):
        """The ``rank``-th most likely class (1 = the top) of each clean input."""
        logits = predict_logits(self._network, inputs, 1000)
        return np.argsort(-logits, axis=1, kind="stable")[:, rank - 1].astype(np.int32)

    def _run(self, inputs, labels, batch_size, eps=None):
        eps = self._eps if eps is None else eps
        n = inputs.shape[0]
        out = inputs.copy()
        done = np.zeros(n, bool)
        true = labels
        targets = [None]
        if self._is_targeted:
            true = self._targets(inputs, 1)   # the DLR loss's "true" class: the prediction
            targets = [labels]
        elif self._n_targets:
            if self._num_classes is not None and self._n_targets >= self._num_classes:
                raise InputError(f"n_target_classes must be below the number of classes "
                                 f"({self._num_classes}), got {self._n_targets}")
            targets = [self._targets(inputs, rank) for rank in
                       range(2, self._n_targets + 2)]
        # batch by batch (the first batches do not depend on later ones); within a batch,
        # every target and restart on the points still standing, padded to a bucket size
        for begin in range(0, n, batch_size):
            block = np.arange(begin, min(begin + batch_size, n))
            for target in targets:
                for _ in range(self._nb_restarts):
                    idx = block[~done[block]]
                    if idx.size == 0:
                        break
                    rows = idx[np.resize(np.arange(idx.size), bucket_size(idx.size,
                                                                          batch_size))]
                    adv, fooled = self._one_run(
                        inputs[rows], true[rows], None if target is None else target[rows],
                        eps)
                    hit = fooled[:idx.size]
                    fresh = hit | ~done[idx]      # keep a found adversarial; else the best
                    out[idx[fresh]] = adv[:idx.size][fresh]
                    done[idx[hit]] = True
        self.stats = {"samples": n, "saturated": None, "fooled": int(done.sum())}
        return out

    def _prepare_labels(self, labels, inputs):
        labels = super()._prepare_labels(labels, inputs)   # also counts the classes
        minimum = 4 if (self._loss == "dlr" and self._is_targeted) or self._n_targets else 3
        if (self._loss == "dlr" or self._n_targets) and self._num_classes < minimum:
            raise InputError(f"the DLR loss needs a model with at least {minimum} classes, "
                             f"this one has {self._num_classes}")
        return labels

    def generate_at(self, inputs, labels, eps, batch_size=None):
        """As :meth:`batch_generate` at budget ``eps`` (the same compiled graphs)."""
        eps = self._checked_eps(eps)
        inputs, labels, batch_size = self._checked(inputs, labels, batch_size)
        return self._run(inputs, labels, batch_size, eps)


class APGD(AutoProjectedGradientDescent):
    """AutoAttack's spelling: ``APGD(network, eps, norm_level, nb_iter=100, loss="ce", ...)``
    (keyword arguments as :class:`AutoProjectedGradientDescent`)."""

    def __init__(self, network, eps=8 / 255, norm_level="inf", nb_iter=100, **kwargs):
        super().__init__(network, eps=eps, norm_level=norm_level, nb_iter=nb_iter, **kwargs)


__all__ = ["AutoProjectedGradientDescent", "APGD", "dlr", "dlr_targeted", "checkpoints",
           "LOSSES"]
