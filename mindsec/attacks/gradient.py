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

from ..checks import (check_batch_size, check_flag, check_inputs, check_number, check_seed,
                      to_class_indices)
from ..errors import InputError
from .base import DEFAULT_BATCH_SIZE, Attack, AttackKind, LabelSource, auto_batch_size
from .core import AscentStep
from .losses import build_loss
from .norms import LINF, get_norm


class _SingleStep(AscentStep):
    """(x, y, valid, noise) -> (x_adv, #saturated): the whole attack on the device, one
    ascent step from ``x`` whose step is the budget (no projection needed). ``noise``
    holds the random signs (random variants; otherwise unused)."""

    def __init__(self, loss_cell, norm, rule, targeted, eps, alpha, bounds):
        super().__init__(loss_cell, norm, targeted, bounds, rule=rule)
        self.eps = eps
        self.alpha = alpha

    @ms.jit
    def construct(self, x, y, valid, noise):
        grad, n_sat = self.gradient(x, y, valid)
        direction = self.direction(grad)
        if self.alpha is not None:
            perturbation = (self.eps - self.alpha) * direction + self.alpha * noise
        else:
            perturbation = self.eps * direction
        return self.box.clip(x + perturbation * self.scale), n_sat


class _Sweep(AscentStep):
    """(x, y, valid, eps (K,)) -> predictions (K,B) and label probabilities (K,B) of
    ``clip(x + eps_k * range * direction)``: one gradient for every eps."""

    def __init__(self, loss_cell, network, norm, rule, targeted, bounds):
        super().__init__(loss_cell, norm, targeted, bounds, rule=rule)
        self.network = network

    @ms.jit
    def construct(self, x, y, valid, eps):
        grad, n_sat = self.gradient(x, y, valid)
        direction = self.direction(grad) * self.scale
        k = eps.shape[0]
        x_adv = self.box.clip(x.expand_dims(0) + eps.reshape((k,) + (1,) * x.ndim) *
                              direction.expand_dims(0))
        logits = self.network(x_adv.reshape((k * x.shape[0],) + x.shape[1:]))
        probs = ms.ops.softmax(logits, axis=-1).reshape(k, x.shape[0], -1)
        label_prob = ms.ops.gather_elements(
            probs, 2, ms.ops.broadcast_to(y.reshape(1, -1, 1), (k, x.shape[0], 1))).squeeze(-1)
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
    _norm = LINF
    _rule = "steepest"          # the sign of the gradient; FGM normalises it
    kind = AttackKind.SINGLE_STEP
    short_name = "FGSM"
    _tuple_inputs = True        # MindArmour's multi-input form (loss_fn=None)

    def __init__(self, network, eps=0.07, alpha=None, bounds=None, loss_fn=None,
                 is_targeted=False, *, stable_loss=True, seed=None):
        super().__init__(network, bounds)
        self._eps = self._checked_eps(eps)
        self._alpha = check_number("alpha", alpha, low=0.0, allow_none=True)
        if self._alpha is not None and self._alpha > self._eps:
            raise InputError(f"alpha must be <= eps, got alpha={self._alpha} > eps={self._eps}")
        self._is_targeted = check_flag("is_targeted", is_targeted)
        self._seed = check_seed(seed)
        self._logits_net, self._loss_cell, self._label_mode = build_loss(network, loss_fn,
                                                                          stable_loss)
        self._step = self._single_step(self._eps, self._alpha)
        self._rng = np.random.default_rng(self._seed)
        self._sweep = None
        self._steps_at = {}

    def _single_step(self, eps, alpha):
        return _SingleStep(self._loss_cell, self._norm, self._rule, self._is_targeted, eps,
                           alpha, self._bounds)

    @property
    def alpha(self):
        """The random part's size (fraction of the range), or None."""
        return self._alpha

    @property
    def sweepable(self):
        return self._alpha is None and self._logits_net is not None

    def generate_at(self, inputs, labels, eps, batch_size=DEFAULT_BATCH_SIZE):
        """As :meth:`batch_generate` with budget ``eps`` (a random part keeps its ratio to
        the budget). Each new eps compiles its own step; :meth:`sweep` is the fast path
        for many eps without a random part."""
        eps = self._checked_eps(eps)
        inputs, labels, batch_size = self._checked(inputs, labels, batch_size)
        if eps not in self._steps_at:
            alpha = None if self._alpha is None else self._alpha * eps / self._eps
            self._steps_at[eps] = self._single_step(eps, alpha)
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
            self._sweep = _Sweep(self._loss_cell, self._logits_net, self._norm, self._rule,
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
    _rule = "normalize"
    short_name = "FGM"

    def __init__(self, network, eps=0.07, alpha=None, bounds=(0.0, 1.0), norm_level=2,
                 is_targeted=False, loss_fn=None, *, stable_loss=True, seed=None):
        self._norm = get_norm(norm_level)
        super().__init__(network, eps=eps, alpha=alpha, bounds=bounds, loss_fn=loss_fn,
                         is_targeted=is_targeted, stable_loss=stable_loss, seed=seed)


class RandomFastGradientMethod(FastGradientMethod):
    """FGM with a random sign step of size ``alpha`` (Tramer et al., 2018, "Ensemble
    adversarial training", arXiv:1705.07204). Default ``alpha=0.035``."""
    short_name = "R+FGM"

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
    short_name = "R+FGSM"

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
    short_name = "LLC"
    _labels_none = LabelSource.LEAST_LIKELY

    def __init__(self, network, eps=0.07, alpha=None, bounds=(0.0, 1.0), loss_fn=None, *,
                 stable_loss=True, seed=None):
        super().__init__(network, eps=eps, alpha=alpha, bounds=bounds, is_targeted=True,
                         loss_fn=loss_fn, stable_loss=stable_loss, seed=seed)


class RandomLeastLikelyClassMethod(LeastLikelyClassMethod):
    """Least-likely class method with a random sign step ``alpha`` (default 0.035)."""
    short_name = "R+LLC"

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
           "to_class_indices"]
