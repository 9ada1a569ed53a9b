"""Training: one compiled train step, per-epoch progress, atomic resumable checkpoints.

The recipes (optimizer, learning rate and schedule, batch, epochs) are data in
:mod:`mindsec.recipes`; :func:`make_optimizer` turns one into a MindSpore optimizer.

The train step is a ``nn.Cell`` (forward, loss, weight gradients, optimizer update, and the
batch's correct-prediction count) called in the process's execution mode; in GRAPH mode it
compiles once because every batch has the same shape (the incomplete last batch of an epoch
is dropped; shuffling differs per epoch so every sample is seen).

A checkpoint holds the weights, the optimizer state (moments, step count) and the recipe,
seed and finished epoch; each epoch's shuffle is derived from ``(seed, epoch)``, so a run
resumed from a checkpoint continues exactly where the killed run would have gone.
"""
import time
from pathlib import Path

import numpy as np
import mindspore as ms
from mindspore import nn, ops

from . import checkpoint, context, distributed, runrecord
from .batching import accuracy
from .errors import DataError, InputError
from .progress import Stages
from .recipes import RECIPES, SCHEDULES, Recipe, get_recipe, recipe_dict  # noqa: F401


def make_optimizer(network, recipe, steps_per_epoch):
    """The recipe's MindSpore optimizer over ``network``'s trainable parameters."""
    total = steps_per_epoch * recipe.epochs
    if recipe.schedule == "cosine":
        lr = nn.cosine_decay_lr(0.0, recipe.lr, total, steps_per_epoch, recipe.epochs)
    elif recipe.schedule == "cosine-step":
        lr = [float(v) for v in recipe.lr * 0.5 * (1 + np.cos(np.pi * np.arange(total) / total))]
    elif recipe.schedule == "onecycle":
        lr = [float(v) for v in np.interp(np.arange(1, total + 1), [0, 0.4 * total, total],
                                          [0.0, recipe.lr, 0.0])]
    elif recipe.schedule == "constant":
        lr = recipe.lr
    else:
        raise InputError(f"schedule must be one of {', '.join(SCHEDULES)}, got "
                         f"{recipe.schedule!r}")
    params = network.trainable_params()
    if recipe.optimizer == "adam":
        return nn.Adam(params, learning_rate=lr)
    return nn.Momentum(params, learning_rate=lr, momentum=recipe.momentum)


class TrainStep(nn.Cell):
    """One optimisation step on ``x`` with labels in two forms: ``y_idx`` (class indices,
    for counting hits) and ``y_loss`` (what ``loss_fn`` takes: the same indices, or one-hot
    rows). Returns ``(mean loss, number of correct predictions)``. A loss with
    ``reduction='none'`` is differentiated as its sum, as MindArmour's ``TrainOneStepCell``
    does. In a data-parallel run (:mod:`mindsec.distributed`) the weight gradients are
    all-reduced (mean) before the update."""

    def __init__(self, network, loss_fn, optimizer):
        super().__init__(auto_prefix=False)
        self.network = network
        self.loss_fn = loss_fn
        self.optimizer = optimizer
        self.weight_grad = ops.value_and_grad(self._train_loss, None, optimizer.parameters,
                                              has_aux=True)
        reducer = distributed.grad_reducer(optimizer.parameters)
        self.data_parallel = reducer is not None
        if self.data_parallel:
            self.grad_reducer = reducer

    def _train_loss(self, x, y_loss):
        logits = self.network(x)
        return self.loss_fn(logits, y_loss), logits

    def train(self, x, y_idx, y_loss):
        """Update the weights; returns (mean loss, per-sample hit as float 0/1)."""
        (loss, logits), grads = self.weight_grad(x, y_loss)
        if self.data_parallel:
            grads = self.grad_reducer(grads)
        self.optimizer(grads)
        return loss.mean(), (logits.argmax(axis=1) == y_idx).astype(ms.float32)

    def construct(self, x, y_idx, y_loss):
        loss, hit = self.train(x, y_idx, y_loss)
        return loss, hit.sum()


def _check_arrays(x, y):
    if not isinstance(x, np.ndarray) or x.ndim != 4 or x.dtype != np.float32:
        raise InputError(f"train inputs must be a float32 array (N,C,H,W), got "
                         f"{getattr(x, 'dtype', type(x).__name__)} {getattr(x, 'shape', '')}")
    y = np.asarray(y)
    if y.ndim == 2:          # one-hot -> class indices, once, at the edge
        y = y.argmax(axis=1)
    if y.ndim != 1 or y.shape[0] != x.shape[0]:
        raise InputError(f"train labels must be (N,) class indices or (N,K) one-hot matching "
                         f"{x.shape[0]} inputs, got shape {y.shape}")
    return x, y.astype(np.int32)


def fit(network, train_x, train_y, recipe, seed=0, ckpt_path=None, resume=False,
        eval_data=None, log=print, meta=None, callbacks=None):
    """Train ``network`` in place on numpy arrays with ``recipe``.

    Args:
        network (nn.Cell): returns logits.
        train_x (np.ndarray): float32 (N,C,H,W).
        train_y (np.ndarray): int class indices (N,) or one-hot (N,K).
        recipe (Recipe): see :data:`RECIPES`.
        seed (int): shuffling seed (set ``mindspore.set_seed`` before building the network
            for repeatable initial weights).
        ckpt_path (str): where to write the checkpoint after every epoch (atomically).
        resume (bool): continue from ``ckpt_path`` if it exists.
        eval_data (tuple): ``(x, y)`` scored after every epoch, or ``None``.
        log (callable): receives one progress line per epoch.
        meta (dict): extra values stored in each checkpoint (e.g. the data used).
        callbacks (list): objects with ``after_epoch(record) -> stop`` (e.g.
            :class:`mindsec.callbacks.RobustnessMonitor`), called after every epoch.

    Under ``msrun`` (after :func:`mindsec.distributed.setup`) ``recipe.batch_size`` is per
    worker and the run is data-parallel.

    Returns:
        list[dict]: one record per epoch trained in this call (loss, train accuracy,
        samples/s, eval accuracy, seconds).
    """
    train_x, train_y = _check_arrays(train_x, train_y)
    n = train_x.shape[0]
    batch_size = recipe.batch_size * distributed.world()    # global batch
    if n < batch_size:
        raise InputError(f"need at least batch_size={batch_size} training samples, "
                         f"got {n}")
    steps = n // batch_size
    optimizer = make_optimizer(network, recipe, steps)
    loss_fn = nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction="mean")
    step = TrainStep(network, loss_fn, optimizer)

    def batch(idx, epoch, i):   # pylint: disable=unused-argument
        idx = distributed.local(idx)
        labels = ms.Tensor(train_y[idx])
        return ms.Tensor(train_x[idx]), labels, labels

    return run_epochs(step, network, n, batch_size, recipe.epochs, batch,
                      counts=(("train_acc", batch_size),), seed=seed, shuffle=True,
                      ckpt_path=ckpt_path, resume=resume, eval_data=eval_data, log=log,
                      identity={"recipe": recipe.name, "seed": seed, "epochs": recipe.epochs},
                      meta=meta, after_epoch=chain_hooks(callbacks))


def chain_hooks(callbacks, first=None):
    """One ``after_epoch`` hook calling ``first`` then each callback's ``after_epoch``;
    stop when any asks to. ``None`` when there is nothing to call."""
    hooks = ([first] if first else []) + [cb.after_epoch for cb in callbacks or ()]
    if not hooks:
        return None

    def after_epoch(record):
        stop = False
        for hook in hooks:
            stop = bool(hook(record)) or stop
        return stop
    return after_epoch


def run_epochs(step, network, n, batch_size, epochs, make_batch, counts, *, seed=0,
               shuffle=True, ckpt_path=None, resume=False, eval_data=None, log=print,
               identity=None, meta=None, after_epoch=None):
    """The epoch loop shared by training and adversarial training.

    ``step(*make_batch(indices, epoch, i))`` runs one optimisation step and returns
    ``(loss, count_1, ...)``; ``counts`` names each count and the number of samples it is
    out of, e.g. ``(("train_acc", 128),)``. In a data-parallel run ``batch_size`` is the
    global batch, ``make_batch`` returns this worker's shard of it
    (:func:`mindsec.distributed.local`), the per-epoch figures are summed over workers and
    only worker 0 writes the checkpoint. Batches have a fixed size (the incomplete last
    one is dropped); with ``shuffle`` the order is a permutation drawn from ``(seed,
    epoch)``, so an epoch is the same whether or not the run was resumed. After every
    epoch: one progress line, an optional test accuracy on ``eval_data``, and an atomic
    checkpoint of ``step`` (weights and optimizer state) with ``identity`` (checked on
    resume) and ``meta``. ``after_epoch(record)`` may add to the record and return True to
    stop (the checkpoint is then marked finished). Runs in GRAPH mode whatever the process's mode (a
    parameter-updating step under ``mindspore.jit`` is ~9x slower on CPU). Returns one
    record per epoch trained here.
    """
    identity = dict(identity or {})
    steps = n // batch_size
    step.set_train(True)
    start_epoch = 0
    if resume and ckpt_path and Path(ckpt_path).exists():
        start_epoch = _resume(step, ckpt_path, identity)
        log(f"resumed from {ckpt_path} after epoch {start_epoch}/{epochs}")
    history = []
    with context.in_mode("graph"):
        for epoch in range(start_epoch, epochs):
            order = np.random.default_rng([seed, epoch]).permutation(n) if shuffle \
                else np.arange(n)
            t0 = time.perf_counter()
            outputs = []          # device scalars, read once per epoch: no per-step sync
            bar = Stages(steps, f"epoch {epoch + 1}/{epochs}", unit="step", leave=False)
            for i in range(steps):
                outputs.append(step(*make_batch(order[i * batch_size:(i + 1) * batch_size],
                                                epoch, i)))
                bar.step()          # a bar on a terminal; elsewhere the epoch line below
            bar.close()
            values = np.array([[float(o.asnumpy()) for o in outs] for outs in outputs])
            values = distributed.sum_across(values)
            values[:, 0] /= distributed.world()      # loss: the mean over workers
            sums = values.sum(axis=0)
            seconds = time.perf_counter() - t0
            record = {"epoch": epoch + 1, "loss": sums[0] / steps, "last_loss": values[-1, 0]}
            for (name, per_batch), total in zip(counts, sums[1:]):
                record[name] = total / (steps * per_batch) if per_batch else float("nan")
            record.update(samples_per_s=steps * batch_size / seconds, seconds=seconds)
            if eval_data is not None:
                network.set_train(False)
                record["eval_acc"] = accuracy(network, *eval_data)
                network.set_train(True)
            stop = bool(after_epoch(record)) if after_epoch is not None else False
            if ckpt_path and distributed.is_main():
                done = {"epoch": epochs, "stopped_after": epoch + 1} if stop else \
                    {"epoch": epoch + 1}
                checkpoint.save(step, ckpt_path, **done, **identity, **(meta or {}))
            history.append(record)
            log(format_record(record, epochs))
            runrecord.note_progress(format_record(record, epochs), epoch + 1, epochs)
            if stop:
                log(record.get("stopped", "stopped early"))
                break
    network.set_train(False)
    return history


def _resume(step, ckpt_path, identity):
    params, meta = checkpoint.load(ckpt_path)
    for key, value in identity.items():
        if meta.get(key) != value:
            raise InputError(f"--resume: checkpoint {ckpt_path} was written with "
                             f"{key}={meta.get(key)!r}, this run has {key}={value!r}")
    not_loaded, _ = ms.load_param_into_net(step, params, strict_load=True)
    if not_loaded:
        raise DataError(f"checkpoint {ckpt_path} lacks {', '.join(not_loaded[:4])}")
    return int(meta["epoch"])


def format_record(record, epochs):
    extra = "".join(f"  {key.replace('_', ' ')} {value:.4f}" for key, value in record.items()
                    if key.endswith("_acc") and key not in ("eval_acc", "holdout_pgd_acc"))
    line = (f"epoch {record['epoch']:>2}/{epochs}  loss {record['loss']:.4f}{extra}  "
            f"{record['samples_per_s']:,.0f} samples/s  {record['seconds']:.1f} s")
    if "eval_acc" in record:
        line += f"  test acc {record['eval_acc']:.4f}"
    if "holdout_pgd_acc" in record:
        line += f"  holdout PGD acc {record['holdout_pgd_acc']:.4f}"
    return line


