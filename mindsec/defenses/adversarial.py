"""Adversarial training: MindArmour's defenses, with NAD fused into one compiled step.

``AdversarialDefense`` trains on the batches it is given; ``AdversarialDefenseWithAttacks``
replaces a random ``replace_ratio`` of each batch by adversarial examples from a list of
attacks (made against the current weights) before the step;
``NaturalAdversarialDefense`` is that with FGSM (Kurakin et al., 2017, "Adversarial
machine learning at scale", arXiv:1611.01236), ``ProjectedAdversarialDefense`` with PGD
(Madry et al., 2018) and ``FastAdversarialDefense`` with FGSM from a random start (Wong et
al., 2020). mindsec runs each as ONE graph per batch: input gradient(s), the attack
(cancellation-free loss, see :mod:`mindsec.attacks.losses`), the mix, the weight gradient
and the optimizer update, so an NAD epoch costs about two plain epochs and a PGD-k epoch
about k + 1.

``batch_defense(inputs, labels, batch_size=32, epochs=5)`` keeps MindArmour's semantics
(batches in order, the incomplete last one dropped, the mixed batch's loss returned) and
adds, keyword-only: ``shuffle`` (per-epoch permutation from ``seed``), ``seed`` (which
samples are replaced), ``ckpt_path``/``resume`` (atomic per-epoch checkpoints of weights
and optimizer state), ``eval_data`` and ``log`` (a progress line per epoch with loss,
clean and adversarial batch accuracy and samples/s), ``meta`` (stored in the checkpoint),
``callbacks`` (objects with ``after_epoch(record) -> stop``, e.g.
:class:`mindsec.callbacks.RobustnessMonitor`).

Under ``msrun`` (after :func:`mindsec.distributed.setup`) every defense runs data-parallel:
``batch_size`` is per worker, each worker attacks its own shard of the global batch (the
samples replaced are drawn for the global batch, so they do not depend on the number of
workers) and only the weight gradients are all-reduced.
"""
import math

import numpy as np
import mindspore as ms
from mindspore import nn, ops

from .. import distributed
from ..attacks.core import AscentSettings, AscentStep
from ..attacks.losses import log_odds
from ..attacks.norms import LINF, get_norm
from ..batching import num_classes
from ..callbacks import RobustnessMonitor
from ..checks import (check_batch_size, check_bounds, check_count, check_flag, check_inputs,
                      check_number, to_class_indices)
from ..errors import InputError
from ..evaluations.protocols import pgd
from ..train import TrainStep, chain_hooks, run_epochs


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
        """``make_batch`` for :func:`run_epochs` (``batch_size`` is the global batch; each
        worker gets its shard) and the per-batch counts it returns."""
        def make(idx, epoch, i):     # pylint: disable=unused-argument
            idx = distributed.local(idx)
            return ms.Tensor(x[idx]), ms.Tensor(y_idx[idx]), ms.Tensor(y_loss[idx])
        return make, (("train_acc", batch_size),)

    # -- public API ---------------------------------------------------------------------------
    def defense(self, inputs, labels):
        """One training step on this batch; returns the loss (float)."""
        self._calls = getattr(self, "_calls", 0) + 1     # fresh random choices per call
        return self.batch_defense(inputs, labels, batch_size=len(inputs), epochs=1,
                                  seed=self._calls)

    def batch_defense(self, inputs, labels, batch_size=32, epochs=5, *, shuffle=False,
                      seed=0, ckpt_path=None, resume=False, eval_data=None, log=None,
                      meta=None, callbacks=None):
        """Train for ``epochs`` over ``inputs`` in batches of ``batch_size``; returns the
        last batch's loss. See the module docstring for the keyword-only extras."""
        inputs = check_inputs(inputs, getattr(self, "_bounds", None))
        batch_size = check_batch_size(batch_size)
        check_count("epochs", epochs)
        global_batch = batch_size * distributed.world()
        if global_batch > len(inputs):
            workers = f" x {distributed.world()} workers" if distributed.world() > 1 else ""
            raise InputError(f"batch_size {batch_size}{workers} exceeds the {len(inputs)} "
                             f"inputs")
        y_idx, y_loss = self._labels(inputs, labels)
        if self._step is None or self._step_batch != batch_size:
            self._step, self._step_batch = self._build_step(batch_size), batch_size
        make, counts = self._feed(inputs, y_idx, y_loss, global_batch, seed)
        self.history = run_epochs(
            self._step, self._network, len(inputs), global_batch, epochs, make, counts,
            seed=seed, shuffle=shuffle, ckpt_path=ckpt_path, resume=resume,
            eval_data=eval_data, log=log or (lambda line: None),
            identity={"defense": type(self).__name__, "seed": seed, "epochs": epochs},
            meta=meta, after_epoch=chain_hooks(callbacks, getattr(self, "_after_epoch", None)))
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
        self._set_mixing(bounds, replace_ratio)

    def _set_mixing(self, bounds, replace_ratio):
        self._bounds = check_bounds(bounds)
        self._replace_ratio = check_number("replace_ratio", replace_ratio, low=0.0, high=1.0,
                                           low_open=False)

    @property
    def replace_ratio(self):
        """The fraction of each batch replaced by adversarial examples."""
        return self._replace_ratio

    def _n_adv(self, batch_size):
        return int(math.ceil(self._replace_ratio * batch_size))

    def _feed(self, x, y_idx, y_loss, batch_size, seed):
        n_adv = self._n_adv(batch_size)
        per_attack = n_adv // len(self._attacks)

        def make(idx, epoch, i):
            rng = np.random.default_rng([seed, epoch, i])
            chosen = rng.choice(batch_size, size=n_adv, replace=False)
            which = np.full(batch_size, -1)         # attack index per row of the global batch
            for k in range(len(self._attacks)):
                which[chosen[k * per_attack:(k + 1) * per_attack]] = k
            idx, which = distributed.local(idx), distributed.local(which)
            xb = x[idx].copy()
            for k, attack in enumerate(self._attacks):
                part = np.flatnonzero(which == k)
                if part.size:
                    xb[part] = attack.generate(xb[part], y_idx[idx][part])
            return ms.Tensor(xb), ms.Tensor(y_idx[idx]), ms.Tensor(y_loss[idx])
        return make, (("train_acc", batch_size),)


class _AdvTrainStep(TrainStep):
    """One adversarial-training step in one graph: ``nb_iter`` ascent steps
    (:class:`~mindsec.attacks.core.AscentStep`, cancellation-free loss) of ``eps_iter``
    from ``x + start`` on the first ``n_adv`` rows of the batch (the feed puts the rows to
    replace there), then a training step on the mixed batch. Only the replaced rows are
    attacked: with NAD's ``replace_ratio=0.5`` the input gradient costs half of what it
    would on the whole batch. NAD is one step of ``eps`` from ``x``; PGD training several
    from a random start; fast training one of ``1.25 eps`` from a random start. ``ramp``
    (a scalar tensor in (0, 1]) scales the budget and step (eps warm-up; ``start`` comes
    scaled). Returns (mean loss, correct on clean rows, correct on adversarial rows)."""

    def __init__(self, network, loss_fn, optimizer, bounds, norm, eps, eps_iter, nb_iter,
                 rand_init=False, predicted_labels=False, *, n_adv):
        super().__init__(network, loss_fn, optimizer)
        self.ascent = AscentStep(None, norm, False, bounds)
        self.input_grad = ops.grad(self._attack_loss, grad_position=0)
        self.radius = eps * self.ascent.scale
        self.step_size = eps_iter * self.ascent.scale
        self.nb_iter = nb_iter
        self.rand_init = rand_init
        self.project = nb_iter > 1 or rand_init or eps_iter > eps
        self.predicted_labels = predicted_labels
        self.n_adv = n_adv

    def _attack_loss(self, x, y_idx):
        """The attacks' cancellation-free loss (a method: the step's graph then holds one
        copy of the network for the input and the weight gradients)."""
        return log_odds(self.network(x), y_idx).sum()

    def _attack(self, x, y_idx, start, ramp):
        y_att = y_idx
        if self.predicted_labels:
            y_att = ops.stop_gradient(self.network(x).argmax(axis=-1).astype(ms.int32))
        x_adv = x
        if self.rand_init:
            x_adv = self.ascent.box.clip(x + start)
        for _ in range(self.nb_iter):
            grad = self.input_grad(x_adv, y_att)
            x_adv = self.ascent.update(x_adv, x, self.ascent.direction(grad),
                                       self.step_size * ramp, self.radius * ramp, self.project)
        return x_adv

    def construct(self, x, y_idx, y_loss, start, ramp):
        k = self.n_adv                     # a constant: the branches are resolved at compile
        if k == 0:
            loss, hit = self.train(x, y_idx, y_loss)
            return loss, hit.sum(), hit.sum() * 0
        if k == x.shape[0]:
            loss, hit = self.train(self._attack(x, y_idx, start, ramp), y_idx, y_loss)
            return loss, hit.sum() * 0, hit.sum()
        x_mix = ops.concat((self._attack(x[:k], y_idx[:k], start, ramp), x[k:]))
        loss, hit = self.train(x_mix, y_idx, y_loss)
        return loss, hit[k:].sum(), hit[:k].sum()


class FusedAdversarialDefense(AscentSettings, AdversarialDefenseWithAttacks):
    """Adversarial training with the attack inside the compiled train step, parameterised
    by numbers: ``nb_iter`` ascent steps of ``eps_iter`` in the ``norm_level`` ball of
    ``eps`` (fractions of the range), from a random start or from ``x``, on
    ``replace_ratio`` of each batch. :class:`NaturalAdversarialDefense` (FGSM),
    :class:`ProjectedAdversarialDefense` (PGD) and :class:`FastAdversarialDefense` (FGSM
    from a random start) are this class with MindArmour's names and defaults.

    It describes what it trains against through read-only ``norm``, ``eps``,
    ``eps_iter``, ``nb_iter``, ``rand_init`` and ``replace_ratio``.

    Args:
        network, loss_fn, optimizer: as :class:`AdversarialDefense`.
        bounds (tuple): data range (required). Default (0.0, 1.0).
        replace_ratio (float): fraction of each batch replaced, in [0, 1]. Default 0.5.
        eps (float): budget. Default 0.1.
        eps_iter (float): step per iteration. Default ``eps``.
        nb_iter (int): ascent steps per batch. Default 1.
        norm_level: np.inf / 'inf', 2 or 1. Default 'inf'.
        rand_init (bool): start at a uniform random point of the ball. Default False.
        predicted_labels (bool): attack the model's predictions instead of the true labels
            (avoids label leaking, Kurakin et al. 2017). Default False (MindArmour's).
        warmup (float): epochs over which the budget (and step) grows linearly from ~0 to
            ``eps`` — large budgets from random weights can stall training at chance.
            Default 0 (none).
    """

    def __init__(self, network, loss_fn=None, optimizer=None, bounds=(0.0, 1.0),
                 replace_ratio=0.5, eps=0.1, eps_iter=None, nb_iter=1, norm_level="inf",
                 rand_init=False, *, predicted_labels=False, warmup=0):
        AdversarialDefense.__init__(self, network, loss_fn, optimizer)
        self._set_mixing(bounds, replace_ratio)
        if self._bounds is None:
            raise InputError(f"bounds must be a (min, max) pair for {type(self).__name__}")
        self._attacks = []        # the attack is in the step, not a list of objects
        self._norm = get_norm(norm_level)
        linf = self._norm is LINF
        self._eps = check_number("eps", eps, low=0.0, high=1.0 if linf else None)
        self._eps_iter = self._eps if eps_iter is None else \
            check_number("eps_iter", eps_iter, low=0.0)
        self._nb_iter = check_count("nb_iter", nb_iter)
        self._rand_init = check_flag("rand_init", rand_init)
        self._predicted_labels = check_flag("predicted_labels", predicted_labels)
        self._warmup = check_number("warmup", warmup, low=0.0, low_open=False)
        self._ramps = {}

    def _ramp(self, epoch, i, steps):
        """Budget factor: linear from 1/steps to 1 over ``warmup`` epochs, then 1."""
        if not self._warmup:
            value = 1.0
        else:
            value = min(1.0, (epoch * steps + i + 1) / (self._warmup * steps))
        key = round(value, 4)
        if key not in self._ramps:
            self._ramps[key] = ms.Tensor(np.float32(key))
        return self._ramps[key], key

    def _build_step(self, batch_size):
        n_adv, world = self._n_adv(batch_size * distributed.world()), distributed.world()
        if n_adv % world:
            raise InputError(f"replace_ratio x batch_size ({n_adv} replaced samples per "
                             f"global batch) must split evenly among the {world} workers")
        return _AdvTrainStep(self._network, self._loss_fn, self._optimizer, self._bounds,
                             self._norm, self._eps, self._eps_iter, self._nb_iter,
                             self._rand_init, self._predicted_labels, n_adv=n_adv // world)

    def _start(self, rng, shape, ramp=1.0):
        """A random start in the eps-ball (fraction of the range times the range) for a
        global batch of ``shape``, or ``None`` without a random start."""
        if not self._rand_init:
            return None
        radius = self._eps * ramp * (self._bounds[1] - self._bounds[0])
        return self._norm.random_start(rng, shape, radius)

    def _zeros(self, shape):
        if getattr(self, "_zero_start", None) is None or self._zero_start.shape != shape:
            self._zero_start = ms.Tensor(np.zeros(shape, np.float32))
        return self._zero_start

    def _feed(self, x, y_idx, y_loss, batch_size, seed):
        n_adv = self._n_adv(batch_size)
        steps = len(x) // batch_size
        world = distributed.world()
        per_worker = n_adv // world           # replaced rows at the head of each shard
        rows = max(per_worker, 1)             # (a start row is passed even when unused)

        def make(idx, epoch, i):
            rng = np.random.default_rng([seed, epoch, i])
            chosen = np.zeros(batch_size, bool)
            chosen[rng.choice(batch_size, n_adv, replace=False)] = True
            ramp, value = self._ramp(epoch, i, steps)
            start = self._start(rng, (batch_size,) + x.shape[1:], value)
            order = _replaced_first(chosen, world)
            idx = distributed.local(idx[order])
            if start is None:
                start = self._zeros((rows,) + x.shape[1:])
            else:
                start = ms.Tensor(distributed.local(start[order])[:rows])
            return (ms.Tensor(x[idx]), ms.Tensor(y_idx[idx]), ms.Tensor(y_loss[idx]),
                    start, ramp)
        return make, (("clean_acc", batch_size - n_adv), ("adv_acc", n_adv))


def _replaced_first(chosen, world):
    """A permutation of a global batch that gives each of ``world`` equal shards the same
    number of replaced rows (``chosen``), at its head. The order of rows within a batch
    does not change the step (the loss is a mean), only which rows are attacked does."""
    replaced, kept = np.flatnonzero(chosen), np.flatnonzero(~chosen)
    a, c = len(replaced) // world, len(kept) // world
    return np.concatenate([part for k in range(world)
                           for part in (replaced[k * a:(k + 1) * a], kept[k * c:(k + 1) * c])])


class NaturalAdversarialDefense(FusedAdversarialDefense):
    """Adversarial training with FGSM (MindArmour's ``NaturalAdversarialDefense``), fused
    into one compiled step per batch: one sign step of ``eps`` from ``x``.

    Args:
        network, loss_fn, optimizer: as :class:`AdversarialDefense`.
        bounds (tuple): data range. Default (0.0, 1.0).
        replace_ratio (float): fraction of each batch replaced, in [0, 1]. Default 0.5.
        eps (float): FGSM step as a fraction of the range, in (0, 1]. Default 0.1.
        predicted_labels, warmup: as :class:`FusedAdversarialDefense`.
    """

    def __init__(self, network, loss_fn=None, optimizer=None, bounds=(0.0, 1.0),
                 replace_ratio=0.5, eps=0.1, *, predicted_labels=False, warmup=0):
        super().__init__(network, loss_fn, optimizer, bounds, replace_ratio, eps=eps,
                         predicted_labels=predicted_labels, warmup=warmup)


class ProjectedAdversarialDefense(FusedAdversarialDefense):
    """PGD adversarial training (Madry et al., 2018, arXiv:1706.06083; MindArmour's
    ``ProjectedAdversarialDefense``), fused into one compiled step per batch.

    Args:
        network, loss_fn, optimizer, bounds, replace_ratio: as
            :class:`NaturalAdversarialDefense` (``replace_ratio=1.0`` is Madry's setting).
        eps (float): Linf (or L2, L1) budget, fraction of the range. Default 0.3.
        eps_iter (float): step per iteration. Default 0.1.
        nb_iter (int): PGD iterations per batch. Default 5.
        norm_level: np.inf / 'inf', 2 or 1. Default 'inf'.
        rand_init (bool): random start in the ball (default True; MindArmour: False).
        predicted_labels, warmup: as :class:`NaturalAdversarialDefense`.
    """

    def __init__(self, network, loss_fn=None, optimizer=None, bounds=(0.0, 1.0),
                 replace_ratio=0.5, eps=0.3, eps_iter=0.1, nb_iter=5, norm_level="inf", *,
                 rand_init=True, predicted_labels=False, warmup=0):
        super().__init__(network, loss_fn, optimizer, bounds, replace_ratio, eps=eps,
                         eps_iter=eps_iter, nb_iter=nb_iter, norm_level=norm_level,
                         rand_init=rand_init, predicted_labels=predicted_labels,
                         warmup=warmup)


class FastAdversarialDefense(FusedAdversarialDefense):
    """"Fast is better than free" adversarial training (Wong, Rice & Kolter, 2020,
    arXiv:2001.03994): FGSM from a uniform random start in the Linf ball with step
    ``alpha = 1.25 * eps``, projected back, on every sample (``replace_ratio=1.0``).

    FGSM training can collapse suddenly ("catastrophic overfitting": FGSM accuracy climbs
    while PGD accuracy falls to ~0 within an epoch). With ``holdout=(x, y)`` (a slice of
    the training set the defense does not train on), :meth:`batch_defense` measures PGD
    accuracy there after every epoch, keeps the best weights, and stops, restoring them,
    when PGD accuracy falls more than ``max_drop`` below its best: a
    :class:`~mindsec.callbacks.RobustnessMonitor` with ``restore_best=True``.

    Args:
        network, loss_fn, optimizer, bounds: as :class:`NaturalAdversarialDefense`.
        replace_ratio (float): fraction of each batch replaced. Default 1.0.
        eps (float): Linf budget, fraction of the range. Default 0.3.
        alpha (float): FGSM step. Default ``1.25 * eps``.
        holdout (tuple): ``(inputs, labels)`` for early stopping, or None.
        holdout_attack: attack for the check. Default the pgd10 protocol (10 steps of
            2.5 eps / 10, random start).
        max_drop (float): tolerated fall of holdout PGD accuracy below its best. Default 0.2.
        predicted_labels, warmup: as :class:`NaturalAdversarialDefense`.
    """

    def __init__(self, network, loss_fn=None, optimizer=None, bounds=(0.0, 1.0),
                 replace_ratio=1.0, eps=0.3, alpha=None, *, holdout=None,
                 holdout_attack=None, max_drop=0.2, predicted_labels=False, warmup=0):
        eps = check_number("eps", eps, low=0.0, high=1.0)
        alpha = 1.25 * eps if alpha is None else check_number("alpha", alpha, low=0.0,
                                                                high=1.0)
        super().__init__(network, loss_fn, optimizer, bounds, replace_ratio, eps=eps,
                         eps_iter=alpha, nb_iter=1, rand_init=True,
                         predicted_labels=predicted_labels, warmup=warmup)
        self._max_drop = check_number("max_drop", max_drop, low=0.0, high=1.0)
        self._guard = None
        if holdout is not None:
            if not isinstance(holdout, (tuple, list)) or len(holdout) != 2:
                raise InputError("holdout must be a pair (inputs, labels)")
            hx = check_inputs(holdout[0], self._bounds, name="holdout inputs")
            hy = to_class_indices(holdout[1], len(hx), name="holdout labels")
            attack = holdout_attack if holdout_attack is not None else \
                pgd("pgd10", network, eps, bounds=bounds, loss_fn=self._loss_fn, seed=0)
            self._guard = RobustnessMonitor(network, hx, hy, eps=eps, robust_attack=attack,
                                            fgsm=False, collapse_drop=self._max_drop,
                                            restore_best=True, log=None)
        self.stopped_after = None

    def _after_epoch(self, record):
        """Holdout PGD accuracy (the RobustnessMonitor guard); True (stop, best weights
        restored) on a collapse."""
        if self._guard is None:
            return False
        best = self._guard.best
        measured = self._guard.measure(record["epoch"])
        record["holdout_pgd_acc"] = measured["pgd_acc"]
        if measured["stop"]:
            self.stopped_after = record["epoch"]
            record["stopped"] = f"holdout PGD accuracy fell to {measured['pgd_acc']:.4f} " \
                f"from {best:.4f}: catastrophic overfitting; best weights restored"
        return measured["stop"]

    def batch_defense(self, inputs, labels, batch_size=32, epochs=5, **kwargs):
        if self._guard is not None:
            self._guard.reset()
        self.stopped_after = None
        return super().batch_defense(inputs, labels, batch_size, epochs, **kwargs)
