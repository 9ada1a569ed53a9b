"""Single-step gradient attacks: FGM, FGSM, their random variants, and least-likely class.

Same classes, arguments, defaults and semantics as MindArmour's
``mindarmour.adv_robustness.attacks.gradient_method``: with ``bounds=(lo, hi)``

    x_adv = clip(x + (hi - lo) * [(eps - alpha) * d(x) + alpha * sign(N(0, I))], lo, hi)

(``alpha`` term only for the random variants), where ``d`` is the loss gradient's sign
(FGSM) or the gradient divided by its per-sample L1, L2 or Linf norm (+1e-12) (FGM),
negated for targeted attacks (the labels are then the targets).

Differences, all on by default and each documented:

* the loss: softmax cross-entropy is replaced by its cancellation-free form
  (:mod:`mindsec.attacks.losses`), which gives the same direction wherever float32 can
  represent it and keeps working where the softmax saturates. ``stable_loss=False`` uses
  the given ``loss_fn`` exactly as MindArmour does;
* the whole step is one compiled graph (``mindspore.jit``), in GRAPH and PYNATIVE mode
  alike; batches are padded to a fixed shape;
* ``batch_generate`` picks its batch from the input size (2048 for MNIST; MindArmour: 64);
* random parts come from a generator seeded by ``seed`` (MindArmour: ``np.random``);
* :meth:`FastGradientMethod.sweep` evaluates many eps from one gradient.
"""
from dataclasses import dataclass

import numpy as np
import mindspore as ms
from mindspore import nn, ops

from ..batching import predict_logits
from ..errors import InputError
from .base import (DEFAULT_BATCH_SIZE, Attack, auto_batch_size, check_batch_size,
                   check_inputs, check_number, to_class_indices)
from .losses import log_odds, saturated

_NORMS = {1: 1, "1": 1, "l1": 1, 2: 2, "2": 2, "l2": 2,
          np.inf: "inf", "inf": "inf", "np.inf": "inf", "linf": "inf"}


def check_norm_level(norm_level):
    key = norm_level.lower() if isinstance(norm_level, str) else norm_level
    try:
        return _NORMS[key]
    except (KeyError, TypeError):
        raise InputError(f"norm_level must be 1, 2 or np.inf (or 'l1', 'l2', 'linf'), got "
                         f"{norm_level!r}") from None


def _is_softmax_ce(loss_fn):
    """Whether ``loss_fn`` is plain softmax cross-entropy on logits (any reduction)."""
    if isinstance(loss_fn, nn.SoftmaxCrossEntropyWithLogits):
        return True
    if isinstance(loss_fn, nn.CrossEntropyLoss):
        return getattr(loss_fn, "weight", None) is None and \
            not getattr(loss_fn, "label_smoothing", 0.0)
    return False


# ----------------------------------------------------------------------------- loss cells
class _LogOddsLoss(nn.Cell):
    """(x, y, valid) -> (sum of other-class log-odds, #saturated valid rows)."""

    def __init__(self, network):
        super().__init__(auto_prefix=False)
        self.network = network

    def construct(self, x, y, valid):
        logits = self.network(x)
        n_sat = (saturated(logits, y).astype(ms.float32) * valid).sum()
        return log_odds(logits, y).sum(), n_sat


class _UserLoss(nn.Cell):
    """MindArmour's setting: ``loss_fn(network(x), y)`` as given."""

    def __init__(self, network, loss_fn, onehot_labels, count):
        super().__init__(auto_prefix=False)
        self.network = network
        self.loss_fn = loss_fn
        self.onehot_labels = onehot_labels
        self.count = count
        self.unknown = ms.Tensor(-1.0, ms.float32)

    def construct(self, x, y, valid):
        logits = self.network(x)
        loss = self.loss_fn(logits, y)
        if self.count:
            idx = y.argmax(axis=1).astype(ms.int32) if self.onehot_labels else y
            n_sat = (saturated(logits, idx).astype(ms.float32) * valid).sum()
        else:
            n_sat = self.unknown
        return loss, n_sat


class _NetworkIsLoss(nn.Cell):
    """``loss_fn=None``: the network maps (x, y) to its loss."""

    def __init__(self, network):
        super().__init__(auto_prefix=False)
        self.network = network

        self.unknown = ms.Tensor(-1.0, ms.float32)

    def construct(self, x, y, valid):
        return self.network(x, y), self.unknown


def check_flag(name, value):
    if not isinstance(value, bool):
        raise InputError(f"{name} must be True or False, got {value!r}")
    return value


def check_seed(seed):
    """``seed`` as an int; None draws one from ``np.random`` (MindArmour's source)."""
    if seed is None:
        return int(np.random.randint(0, 2**31 - 1))
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise InputError(f"seed must be a non-negative integer or None, got {seed!r}")
    return int(seed)


def build_loss(network, loss_fn, stable_loss):
    """``(logits network or None, loss cell (x, y, valid) -> (loss, #saturated), label
    mode)`` for an attack on ``network`` with ``loss_fn`` (see :class:`GradientMethod`)."""
    check_flag("stable_loss", stable_loss)
    if loss_fn is not None and not isinstance(loss_fn, nn.Cell):
        raise InputError(f"loss_fn must be a mindspore.nn.Cell or None, got "
                         f"{type(loss_fn).__name__}")
    if loss_fn is None and isinstance(network, nn.WithLossCell) and stable_loss \
            and _is_softmax_ce(network._loss_fn):      # pylint: disable=protected-access
        loss_fn, network = network._loss_fn, network._backbone  # pylint: disable=protected-access
    if loss_fn is None:
        return None, _NetworkIsLoss(network), "asis"
    if stable_loss and _is_softmax_ce(loss_fn):
        return network, _LogOddsLoss(network), "index"
    onehot = isinstance(loss_fn, nn.SoftmaxCrossEntropyWithLogits) and not loss_fn.sparse
    return (network, _UserLoss(network, loss_fn, onehot, _is_softmax_ce(loss_fn)),
            "onehot" if onehot else "index")


def _direction(grad, norm):
    """Sign, or the gradient over its per-sample norm (+1e-12), as MindArmour."""
    if norm == "sign":
        return ops.sign(grad)
    flat = grad.reshape(grad.shape[0], -1)
    if norm == 1:
        size = ops.abs(flat).sum(axis=1, keepdims=True)
    elif norm == 2:
        size = ops.sqrt((flat * flat).sum(axis=1, keepdims=True))
    else:
        size = ops.abs(flat).max(axis=1, keepdims=True)
    return (flat / (size + 1e-12)).reshape(grad.shape)


class _GradientCell(nn.Cell):
    """Shared part of the compiled cells: the loss's input gradient and its direction."""

    def __init__(self, loss_cell, norm, targeted, bounds):
        super().__init__(auto_prefix=False)
        self.grad_fn = ops.value_and_grad(loss_cell, grad_position=0, has_aux=True)
        self.norm = norm
        self.targeted = targeted
        self.has_bounds = bounds is not None
        self.low, self.high = bounds if bounds is not None else (0.0, 1.0)
        self.scale = (self.high - self.low) if bounds is not None else 1.0

    def direction(self, x, y, valid):
        """(unit step direction per sample, #saturated)."""
        (_, n_sat), grad = self.grad_fn(x, y, valid)
        if self.targeted:
            grad = -grad
        return _direction(grad, self.norm), n_sat


class _SingleStep(_GradientCell):
    """(x, y, valid, noise) -> (x_adv, #saturated): the whole attack on the device.
    ``noise`` holds the random signs (random variants; otherwise unused)."""

    def __init__(self, loss_cell, norm, targeted, eps, alpha, bounds):
        super().__init__(loss_cell, norm, targeted, bounds)
        self.eps = eps
        self.alpha = alpha

    @ms.jit
    def construct(self, x, y, valid, noise):
        direction, n_sat = self.direction(x, y, valid)
        if self.alpha is not None:
            perturbation = (self.eps - self.alpha) * direction + self.alpha * noise
        else:
            perturbation = self.eps * direction
        x_adv = x + perturbation * self.scale
        if self.has_bounds:
            x_adv = ops.clamp(x_adv, self.low, self.high)
        return x_adv, n_sat


class _Sweep(_GradientCell):
    """(x, y, valid, eps (K,)) -> predictions (K,B) and label probabilities (K,B) of
    ``clip(x + eps_k * range * direction)``: one gradient for every eps."""

    def __init__(self, loss_cell, network, norm, targeted, bounds):
        super().__init__(loss_cell, norm, targeted, bounds)
        self.network = network

    @ms.jit
    def construct(self, x, y, valid, eps):
        direction, n_sat = self.direction(x, y, valid)
        direction = direction * self.scale
        k = eps.shape[0]
        x_adv = x.expand_dims(0) + eps.reshape((k,) + (1,) * x.ndim) * direction.expand_dims(0)
        if self.has_bounds:
            x_adv = ops.clamp(x_adv, self.low, self.high)
        logits = self.network(x_adv.reshape((k * x.shape[0],) + x.shape[1:]))
        probs = ops.softmax(logits, axis=-1).reshape(k, x.shape[0], -1)
        label_prob = ops.gather_elements(
            probs, 2, ops.broadcast_to(y.reshape(1, -1, 1), (k, x.shape[0], 1))).squeeze(-1)
        return probs.argmax(axis=-1).astype(ms.int32), label_prob, n_sat


@dataclass
class SweepResult:
    """Outcome of :meth:`GradientMethod.sweep` for eps values ``eps`` (K,) on N inputs.

    ``preds`` (K, N) predicted classes; ``label_prob`` (K, N) probability of the given
    label (true class, or target if targeted); ``labels`` (N,) those labels;
    ``saturated``: inputs where float32 softmax saturated (None if unknown).
    """
    eps: np.ndarray
    preds: np.ndarray
    label_prob: np.ndarray
    labels: np.ndarray
    saturated: object = None

    @property
    def accuracy(self):
        """(K,) fraction of inputs predicted as their label, for each eps."""
        return (self.preds == self.labels[None]).mean(axis=1)

    @property
    def mean_label_prob(self):
        """(K,) mean probability of the label, for each eps."""
        return self.label_prob.mean(axis=1)


# ----------------------------------------------------------------------------- attacks
class GradientMethod(Attack):
    """Base of the single-step gradient attacks (MindArmour's ``GradientMethod``).

    Args:
        network (nn.Cell): the model; returns logits, or (with ``loss_fn=None``) the loss
            of ``(inputs, labels)``.
        eps (float): perturbation size as a proportion of the data range ``bounds`` (in
            (0, 1] for sign and Linf steps; an L1/L2 budget may exceed 1). Default: 0.07.
        alpha (float): size of the random part (same unit), ``0 < alpha <= eps``, or None.
        bounds (tuple): ``(min, max)`` of the data; outputs are clipped to it. None: no
            clipping and ``eps`` in data units.
        loss_fn (nn.Cell): loss on ``(network(x), labels)``; None if ``network(x, labels)``
            already returns the loss (e.g. ``nn.WithLossCell``). MindArmour's code, unlike
            its docstring, calls such a network as a gradient function.
        stable_loss (bool): compute softmax cross-entropy without cancellation (see
            :mod:`mindsec.attacks.losses`). False: MindArmour's exact behaviour.
        seed (int): seed of the random part (a generator per attack object, so two
            attacks with one seed give the same examples). Default: drawn from
            ``np.random``, which MindArmour uses.
    """
    _norm = "sign"
    kind = "single-step"

    def __init__(self, network, eps=0.07, alpha=None, bounds=None, loss_fn=None,
                 is_targeted=False, *, stable_loss=True, seed=None):
        super().__init__(network, bounds)
        # a sign/Linf step beyond the whole range is meaningless; an L1/L2 budget is not
        linf = self._norm in ("sign", "inf") and bounds is not None
        self._eps = check_number("eps", eps, low=0.0, high=1.0 if linf else None)
        self._alpha = check_number("alpha", alpha, low=0.0, allow_none=True)
        if self._alpha is not None and self._alpha > self._eps:
            raise InputError(f"alpha must be <= eps, got alpha={self._alpha} > eps={self._eps}")
        self._is_targeted = check_flag("is_targeted", is_targeted)
        self._seed = check_seed(seed)
        self._logits_net, self._loss_cell, self._label_mode = build_loss(network, loss_fn,
                                                                          stable_loss)
        self._step = _SingleStep(self._loss_cell, self._norm, is_targeted, self._eps,
                                 self._alpha, self._bounds)
        self._rng = np.random.default_rng(self._seed)
        self._sweep = None
        self._steps_at = {}

    @property
    def eps(self):
        return self._eps

    def generate_at(self, inputs, labels, eps, batch_size=DEFAULT_BATCH_SIZE):
        """As :meth:`batch_generate` with budget ``eps`` (a random part keeps its ratio to
        the budget). Each new eps compiles its own step; :meth:`sweep` is the fast path
        for many eps without a random part."""
        linf = self._norm in ("sign", "inf") and self._bounds is not None
        eps = check_number("eps", eps, low=0.0, high=1.0 if linf else None)
        inputs, labels, batch_size = self._checked(inputs, labels, batch_size)
        if eps not in self._steps_at:
            alpha = None if self._alpha is None else self._alpha * eps / self._eps
            self._steps_at[eps] = _SingleStep(self._loss_cell, self._norm, self._is_targeted,
                                              eps, alpha, self._bounds)
        own, self._step = self._step, self._steps_at[eps]
        try:
            return self._run(inputs, labels, batch_size)
        finally:
            self._step = own

    def _batch_noise(self, shape):
        """Random signs for the random variants, from this attack's seeded generator (drawn
        on the host: MindSpore's stateful random ops are not reproducible across
        instances). A placeholder for the others."""
        if self._alpha is None:
            return super()._batch_noise(shape)
        return ms.Tensor((self._rng.integers(0, 2, size=shape, dtype=np.int8) * 2 - 1)
                         .astype(np.float32))

    def sweep(self, inputs, labels, eps_values, batch_size=DEFAULT_BATCH_SIZE):
        """Predictions under many eps from one gradient per batch (no random part).

        Returns a :class:`SweepResult`; ``eps`` 0 gives the clean predictions.
        """
        if self._logits_net is None:
            raise InputError("sweep needs a network that returns logits and a loss_fn")
        eps = np.asarray(eps_values, dtype=np.float32).reshape(-1)
        if eps.size == 0 or not np.isfinite(eps).all() or (eps < 0).any() or \
                (self._bounds is not None and (eps > 1).any()):
            raise InputError(f"eps_values must be finite values in [0, 1], got {eps_values!r}")
        inputs = check_inputs(inputs, self._bounds)
        # every batch is scored at each eps: share the default budget among them
        batch_size = auto_batch_size(inputs.shape[1:], share=eps.size) if batch_size is None \
            else check_batch_size(batch_size)
        n = inputs.shape[0]
        labels = self._prepare_labels(labels, inputs)
        index_labels = labels.argmax(axis=1).astype(np.int32) if labels.ndim == 2 else labels
        if self._sweep is None:
            self._sweep = _Sweep(self._loss_cell, self._logits_net, self._norm,
                                 self._is_targeted, self._bounds)
        preds = np.empty((eps.size, n), np.int32)
        probs = np.empty((eps.size, n), np.float32)
        eps_t = ms.Tensor(eps)
        n_sat = []
        for start, stop, x, y, valid in self._feed(inputs, labels, min(batch_size, n)):
            p, q, k = self._sweep(x, y, valid, eps_t)
            preds[:, start:stop] = p.asnumpy()[:, : stop - start]
            probs[:, start:stop] = q.asnumpy()[:, : stop - start]
            n_sat.append(k)
        return SweepResult(eps=eps, preds=preds, label_prob=probs, labels=index_labels,
                           saturated=self._saturated_total(n_sat))


class FastGradientMethod(GradientMethod):
    """Fast Gradient Method: ``x + eps * range * g / ||g||_p`` (Goodfellow et al., 2015,
    "Explaining and harnessing adversarial examples", arXiv:1412.6572).

    Args as :class:`GradientMethod`, plus ``norm_level`` (1, 2 or np.inf; default 2) and
    ``is_targeted``. Default ``bounds=(0.0, 1.0)``.
    """

    def __init__(self, network, eps=0.07, alpha=None, bounds=(0.0, 1.0), norm_level=2,
                 is_targeted=False, loss_fn=None, *, stable_loss=True, seed=None):
        self._norm = check_norm_level(norm_level)
        super().__init__(network, eps=eps, alpha=alpha, bounds=bounds, loss_fn=loss_fn,
                         is_targeted=is_targeted, stable_loss=stable_loss, seed=seed)


class RandomFastGradientMethod(FastGradientMethod):
    """FGM with a random sign step of size ``alpha`` (Tramer et al., 2018, "Ensemble
    adversarial training", arXiv:1705.07204). Default ``alpha=0.035``."""

    def __init__(self, network, eps=0.07, alpha=0.035, bounds=(0.0, 1.0), norm_level=2,
                 is_targeted=False, loss_fn=None, *, stable_loss=True, seed=None):
        if alpha is None:
            raise InputError("alpha must be a number for RandomFastGradientMethod, got None")
        super().__init__(network, eps=eps, alpha=alpha, bounds=bounds, norm_level=norm_level,
                         is_targeted=is_targeted, loss_fn=loss_fn, stable_loss=stable_loss,
                         seed=seed)


class FastGradientSignMethod(GradientMethod):
    """Fast Gradient Sign Method: ``clip(x + eps * range * sign(grad_x loss))``
    (Goodfellow et al., 2015, arXiv:1412.6572). Default ``bounds=(0.0, 1.0)``."""

    def __init__(self, network, eps=0.07, alpha=None, bounds=(0.0, 1.0), is_targeted=False,
                 loss_fn=None, *, stable_loss=True, seed=None):
        super().__init__(network, eps=eps, alpha=alpha, bounds=bounds, loss_fn=loss_fn,
                         is_targeted=is_targeted, stable_loss=stable_loss, seed=seed)


class RandomFastGradientSignMethod(FastGradientSignMethod):
    """R+FGSM: a random sign step of ``alpha`` then FGSM with ``eps - alpha`` (Tramer et
    al., 2018, arXiv:1705.07204). Default ``alpha=0.035``."""

    def __init__(self, network, eps=0.07, alpha=0.035, bounds=(0.0, 1.0), is_targeted=False,
                 loss_fn=None, *, stable_loss=True, seed=None):
        if alpha is None:
            raise InputError("alpha must be a number for RandomFastGradientSignMethod, "
                             "got None")
        super().__init__(network, eps=eps, alpha=alpha, bounds=bounds,
                         is_targeted=is_targeted, loss_fn=loss_fn, stable_loss=stable_loss,
                         seed=seed)


class LeastLikelyClassMethod(FastGradientSignMethod):
    """Single-step least-likely class method: targeted FGSM toward the class the model
    finds least likely (Kurakin et al., 2017; Tramer et al., 2018).

    As in MindArmour, ``labels`` passed to ``generate`` are the targets. mindsec also
    accepts ``labels=None``: the targets are then the model's least-likely classes.
    """

    def __init__(self, network, eps=0.07, alpha=None, bounds=(0.0, 1.0), loss_fn=None, *,
                 stable_loss=True, seed=None):
        super().__init__(network, eps=eps, alpha=alpha, bounds=bounds, is_targeted=True,
                         loss_fn=loss_fn, stable_loss=stable_loss, seed=seed)

    def least_likely(self, inputs, batch_size=DEFAULT_BATCH_SIZE):
        """The class of lowest logit for each input (int32 (N,))."""
        if self._logits_net is None:
            raise InputError("labels=None needs a network that returns logits and a loss_fn")
        inputs = check_inputs(inputs, self._bounds)
        batch_size = auto_batch_size(inputs.shape[1:]) if batch_size is None else batch_size
        return predict_logits(self._logits_net, inputs, batch_size).argmin(axis=1) \
            .astype(np.int32)

    def generate(self, inputs, labels=None):
        if labels is None:
            labels = self.least_likely(inputs)
        return super().generate(inputs, labels)

    def batch_generate(self, inputs, labels=None, batch_size=DEFAULT_BATCH_SIZE):
        if labels is None:
            labels = self.least_likely(inputs, batch_size)
        return super().batch_generate(inputs, labels, batch_size)


class RandomLeastLikelyClassMethod(LeastLikelyClassMethod):
    """Least-likely class method with a random sign step ``alpha`` (default 0.035)."""

    def __init__(self, network, eps=0.07, alpha=0.035, bounds=(0.0, 1.0), loss_fn=None, *,
                 stable_loss=True, seed=None):
        if alpha is None:
            raise InputError("alpha must be a number for RandomLeastLikelyClassMethod, "
                             "got None")
        super().__init__(network, eps=eps, alpha=alpha, bounds=bounds, loss_fn=loss_fn,
                         stable_loss=stable_loss, seed=seed)


__all__ = ["GradientMethod", "FastGradientMethod", "RandomFastGradientMethod",
           "FastGradientSignMethod", "RandomFastGradientSignMethod",
           "LeastLikelyClassMethod", "RandomLeastLikelyClassMethod", "SweepResult",
           "check_norm_level", "to_class_indices"]
