"""Adversarial training: MindArmour's defenses, with NAD fused into one compiled step.

``AdversarialDefense`` trains on the batches it is given; ``AdversarialDefenseWithAttacks``
replaces a random ``replace_ratio`` of each batch by adversarial examples from a list of
attacks (made against the current weights) before the step;
``NaturalAdversarialDefense`` is that with FGSM (Kurakin et al., 2017, "Adversarial
machine learning at scale", arXiv:1611.01236), and mindsec runs it as ONE graph per batch:
input gradient, FGSM (cancellation-free loss, see :mod:`mindsec.attacks.losses`), the mix,
the weight gradient and the optimizer update, so an epoch costs about two plain epochs.

``batch_defense(inputs, labels, batch_size=32, epochs=5)`` keeps MindArmour's semantics
(batches in order, the incomplete last one dropped, the mixed batch's loss returned) and
adds, keyword-only: ``shuffle`` (per-epoch permutation from ``seed``), ``seed`` (which
samples are replaced), ``ckpt_path``/``resume`` (atomic per-epoch checkpoints of weights
and optimizer state), ``eval_data`` and ``log`` (a progress line per epoch with loss,
clean and adversarial batch accuracy and samples/s).
"""
import math

import numpy as np
import mindspore as ms
from mindspore import nn, ops

from ..batching import num_classes
from ..attacks.base import (check_batch_size, check_bounds, check_inputs, check_number,
                            to_class_indices)
from ..attacks.gradient import FastGradientSignMethod
from ..attacks.losses import log_odds
from ..errors import InputError
from ..train import TrainStep, run_epochs


def _default_loss_and_optimizer(network, loss_fn, optimizer):
    if not isinstance(network, nn.Cell):
        raise InputError(f"network must be a mindspore.nn.Cell, got {type(network).__name__}")
    loss_fn = loss_fn if loss_fn is not None else \
        nn.SoftmaxCrossEntropyWithLogits(sparse=True)
    if optimizer is None:     # MindArmour's default
        optimizer = nn.Momentum(network.trainable_params(), learning_rate=0.01, momentum=0.9)
    return loss_fn, optimizer


def _loss_labels(loss_fn, indices, num_classes):
    """Labels in the format ``loss_fn`` takes: one-hot for a non-sparse softmax CE."""
    if isinstance(loss_fn, nn.SoftmaxCrossEntropyWithLogits) and not loss_fn.sparse:
        return np.eye(num_classes, dtype=np.float32)[indices]
    return indices


class AdversarialDefense:
    """Plain training on the given batches (MindArmour's ``AdversarialDefense``).

    Args:
        network (nn.Cell): returns logits; trained in place.
        loss_fn (nn.Cell): default ``SoftmaxCrossEntropyWithLogits(sparse=True)``.
        optimizer (nn.Optimizer): default ``Momentum(lr=0.01, momentum=0.9)``.
    """

    def __init__(self, network, loss_fn=None, optimizer=None):
        self._network = network
        self._loss_fn, self._optimizer = _default_loss_and_optimizer(network, loss_fn,
                                                                     optimizer)
        self._num_classes = None
        self._step = None

    # -- labels -------------------------------------------------------------------------
    def _labels(self, inputs, labels):
        if self._num_classes is None:
            self._network.set_train(False)
            self._num_classes = num_classes(self._network, inputs[:1])
        indices = to_class_indices(labels, inputs.shape[0], self._num_classes)
        return indices, _loss_labels(self._loss_fn, indices, self._num_classes)

    # -- steps ------------------------------------------------------------------------------
    def _build_step(self, batch_size):     # pylint: disable=unused-argument
        return TrainStep(self._network, self._loss_fn, self._optimizer)

    def _feed(self, x, y_idx, y_loss, batch_size, seed):
        """``make_batch`` for :func:`run_epochs` and the per-batch counts it returns."""
        def make(idx, epoch, i):     # pylint: disable=unused-argument
            return ms.Tensor(x[idx]), ms.Tensor(y_idx[idx]), ms.Tensor(y_loss[idx])
        return make, (("train_acc", batch_size),)

    # -- public API ---------------------------------------------------------------------------
    def defense(self, inputs, labels):
        """One training step on this batch; returns the loss (float)."""
        self._calls = getattr(self, "_calls", 0) + 1     # fresh random choices per call
        return self.batch_defense(inputs, labels, batch_size=len(inputs), epochs=1,
                                  seed=self._calls)

    def batch_defense(self, inputs, labels, batch_size=32, epochs=5, *, shuffle=False,
                      seed=0, ckpt_path=None, resume=False, eval_data=None, log=None):
        """Train for ``epochs`` over ``inputs`` in batches of ``batch_size``; returns the
        last batch's loss. See the module docstring for the keyword-only extras."""
        inputs = check_inputs(inputs, getattr(self, "_bounds", None))
        batch_size = check_batch_size(batch_size)
        if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs <= 0:
            raise InputError(f"epochs must be a positive integer, got {epochs!r}")
        if batch_size > len(inputs):
            raise InputError(f"batch_size {batch_size} exceeds the {len(inputs)} inputs")
        y_idx, y_loss = self._labels(inputs, labels)
        if self._step is None or self._step_batch != batch_size:
            self._step, self._step_batch = self._build_step(batch_size), batch_size
        make, counts = self._feed(inputs, y_idx, y_loss, batch_size, seed)
        self.history = run_epochs(
            self._step, self._network, len(inputs), batch_size, epochs, make, counts,
            seed=seed, shuffle=shuffle, ckpt_path=ckpt_path, resume=resume,
            eval_data=eval_data, log=log or (lambda line: None),
            identity={"defense": type(self).__name__, "seed": seed, "epochs": epochs})
        return self.history[-1]["last_loss"] if self.history else float("nan")


class AdversarialDefenseWithAttacks(AdversarialDefense):
    """Replace ``ceil(replace_ratio * batch)`` random samples of each batch by adversarial
    examples, split evenly among ``attacks``, then train on the mixed batch (MindArmour's
    ``AdversarialDefenseWithAttacks``). The attacks run against the current weights.
    """

    def __init__(self, network, attacks, loss_fn=None, optimizer=None, bounds=(0.0, 1.0),
                 replace_ratio=0.5):
        super().__init__(network, loss_fn, optimizer)
        if not isinstance(attacks, (list, tuple)) or not attacks or \
                not all(hasattr(a, "generate") for a in attacks):
            raise InputError("attacks must be a non-empty list of attack objects")
        self._attacks = list(attacks)
        self._bounds = check_bounds(bounds)
        self._replace_ratio = check_number("replace_ratio", replace_ratio, low=0.0, high=1.0,
                                           low_open=False)

    def _n_adv(self, batch_size):
        return int(math.ceil(self._replace_ratio * batch_size))

    def _feed(self, x, y_idx, y_loss, batch_size, seed):
        n_adv = self._n_adv(batch_size)
        per_attack = n_adv // len(self._attacks)

        def make(idx, epoch, i):
            xb = x[idx].copy()
            rng = np.random.default_rng([seed, epoch, i])
            chosen = rng.choice(batch_size, size=n_adv, replace=False)
            for k, attack in enumerate(self._attacks):
                part = chosen[k * per_attack:(k + 1) * per_attack]
                if part.size:
                    xb[part] = attack.generate(xb[part], y_idx[idx][part])
            return ms.Tensor(xb), ms.Tensor(y_idx[idx]), ms.Tensor(y_loss[idx])
        return make, (("train_acc", batch_size),)


class _NADStep(TrainStep):
    """One NAD step in one graph: FGSM (cancellation-free loss) on the ``mask``ed rows,
    then a training step on the mixed batch. Returns (mean loss, correct on clean rows,
    correct on adversarial rows)."""

    def __init__(self, network, loss_fn, optimizer, eps, bounds):
        super().__init__(network, loss_fn, optimizer)
        self.low, self.high = bounds
        self.step_size = eps * (self.high - self.low)
        self.input_grad = ops.grad(self._attack_loss, grad_position=0)

    def _attack_loss(self, x, y_idx):
        return log_odds(self.network(x), y_idx).sum()

    def construct(self, x, y_idx, y_loss, mask):
        x_adv = ops.clamp(x + self.step_size * ops.sign(self.input_grad(x, y_idx)),
                          self.low, self.high)
        x_mix = x + mask.reshape((-1,) + (1,) * (x.ndim - 1)) * (x_adv - x)
        loss, hit = self.train(x_mix, y_idx, y_loss)
        return loss, (hit * (1.0 - mask)).sum(), (hit * mask).sum()


class NaturalAdversarialDefense(AdversarialDefenseWithAttacks):
    """Adversarial training with FGSM (MindArmour's ``NaturalAdversarialDefense``), fused
    into one compiled step per batch.

    Args:
        network, loss_fn, optimizer: as :class:`AdversarialDefense`.
        bounds (tuple): data range. Default (0.0, 1.0).
        replace_ratio (float): fraction of each batch replaced, in [0, 1]. Default 0.5.
        eps (float): FGSM step as a fraction of the range, in (0, 1]. Default 0.1.
    """

    def __init__(self, network, loss_fn=None, optimizer=None, bounds=(0.0, 1.0),
                 replace_ratio=0.5, eps=0.1):
        loss_fn_, _ = _default_loss_and_optimizer(network, loss_fn, optimizer)
        attack = FastGradientSignMethod(network, eps=eps, bounds=bounds, loss_fn=loss_fn_)
        super().__init__(network, [attack], loss_fn=loss_fn, optimizer=optimizer,
                         bounds=bounds, replace_ratio=replace_ratio)
        if self._bounds is None:
            raise InputError("bounds must be a (min, max) pair for NaturalAdversarialDefense")
        self._eps = attack._eps  # pylint: disable=protected-access

    def _build_step(self, batch_size):
        return _NADStep(self._network, self._loss_fn, self._optimizer, self._eps,
                        self._bounds)

    def _feed(self, x, y_idx, y_loss, batch_size, seed):
        n_adv = self._n_adv(batch_size)

        def make(idx, epoch, i):
            mask = np.zeros(batch_size, np.float32)
            mask[np.random.default_rng([seed, epoch, i]).choice(batch_size, n_adv,
                                                                replace=False)] = 1.0
            return (ms.Tensor(x[idx]), ms.Tensor(y_idx[idx]), ms.Tensor(y_loss[idx]),
                    ms.Tensor(mask))
        return make, (("clean_acc", batch_size - n_adv), ("adv_acc", n_adv))
