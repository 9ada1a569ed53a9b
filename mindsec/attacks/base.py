"""What every attack shares: its public description, label conversion, fixed-shape batching.

An attack subclass builds one compiled ``nn.Cell`` (``self._step``) mapping a batch
``(x, y)`` to ``(x_adv, n_saturated)`` on the device; this class feeds it numpy batches of
one fixed size (padding the ragged last batch), so a graph compiles once per
(model, batch shape), and converts at the edges only.

Every attack describes itself through read-only properties — ``kind``, ``norm``, ``eps``,
``bounds``, ``targeted``, ``label_source``, ``model``, ``sweepable``, ``label`` — and the
evaluation runner, the defenses and the reports read only those.
"""
from enum import Enum

import numpy as np
import mindspore as ms
from mindspore import nn

from ..batching import Rows, num_classes, pad_to, padded_batches, predict_logits, to_tensor
from ..checks import (check_batch_size, check_bounds, check_inputs, check_number,
                      check_seed, to_class_indices)
from ..errors import InputError

DEFAULT_BATCH_SIZE = None  # auto: see auto_batch_size (MindArmour's default is 64)
_AUTO_BATCH_BYTES = 8 << 20
_AUTO_BATCH_RANGE = (64, 2048)


def auto_batch_size(sample_shape, budget=_AUTO_BATCH_BYTES, share=1):
    """The default batch: the largest power of two whose float32 inputs fit in ``budget``
    bytes (8 MiB) divided by ``share``, within [64, 2048] — 2048 for MNIST 32x32 (1.8x
    the throughput of MindArmour's 64 on CPU), 64 for 224x224 RGB, so large models do not
    run out of memory by default."""
    per_sample = 4 * int(np.prod(sample_shape))
    fits = max(1, budget // (per_sample * max(1, share)))
    size = 1 << (int(fits).bit_length() - 1)
    return int(min(max(size, _AUTO_BATCH_RANGE[0]), _AUTO_BATCH_RANGE[1]))


class AttackKind(str, Enum):
    """What an attack is, for the order of a cascade and the sanity checks (a ``str``, so
    it reads and serialises as its value)."""
    ITERATIVE = "iterative"        # white-box, many gradient steps
    MINIMAL = "minimal"            # white-box, the smallest perturbation that flips (DeepFool)
    SINGLE_STEP = "single-step"    # white-box, one gradient step (FGSM family)
    SCORE_BASED = "score-based"    # black-box: queries the model's scores (Square)
    TRANSFER = "transfer"          # black-box: made on a surrogate, replayed

    def __str__(self):
        return self.value


class LabelSource(str, Enum):
    """What an attack attacks when called with ``labels=None``."""
    PREDICTED = "predicted"        # the model's own predictions (no label leaking)
    LEAST_LIKELY = "least-likely"  # targets: the model's least-likely classes
    REQUIRED = "required"          # labels must be given (targeted, or a network that
                                   # returns its loss)

    def __str__(self):
        return self.value


# ----------------------------------------------------------------------------- base class
class Attack:
    """Base of mindsec's attacks (MindArmour's ``Attack`` interface).

    Subclasses set ``self._step`` (an ``nn.Cell`` ``(x, y, valid, noise) -> (x_adv,
    n_saturated)``, ``valid`` a 0/1 float mask of the real rows, ``noise`` from
    :meth:`_batch_noise`, ``n_saturated`` negative if unknown) and
    ``self._label_mode``: ``"index"`` (labels go in as int32 class indices) or the label
    format the user's own loss needs (``"onehot"``, ``"asis"``).

    After each call, ``self.stats`` holds ``{"samples": N, "saturated": K}``: K inputs on
    which float32 softmax gave the label probability exactly 1.0 (where plain
    cross-entropy's gradient goes blind; mindsec's default loss does not), or ``None``
    where the network's output is not logits.
    """

    kind = None                  # an AttackKind, set by each family
    short_name = None            # "FGSM", "PGD", ...: the start of :attr:`label`
    _labels_none = LabelSource.PREDICTED     # what labels=None means, where it can
    _norm = None                 # a mindsec.attacks.norms.Norm, where the budget has one

    def __init__(self, network, bounds):
        if not isinstance(network, nn.Cell):
            raise InputError(f"network must be a mindspore.nn.Cell, got "
                             f"{type(network).__name__}")
        self._network = network
        self._bounds = check_bounds(bounds)
        self._eps = None
        self._is_targeted = False
        self._step = None
        self._label_mode = "index"
        self._num_classes = None
        self._logits_net = None      # the network that returns logits, where known
        self.name = None             # a label for reports; default :attr:`label`
        self.stats = {"samples": 0, "saturated": None}

    # -- what the attack is (read-only) -------------------------------------------------
    @property
    def network(self):
        """The network the attack was built on (logits, or its loss with loss_fn=None)."""
        return self._network

    @property
    def model(self):
        """The network that returns logits and whose decisions the attack flips (the model
        it judges); None where the network returns its loss."""
        return self._logits_net

    @property
    def bounds(self):
        """``(min, max)`` of the data, or None (no clipping; budgets in data units)."""
        return self._bounds

    @property
    def norm(self):
        """The :class:`~mindsec.attacks.norms.Norm` the budget is measured in (None for a
        minimal attack, whose perturbation has no budget)."""
        return self._norm

    @property
    def eps(self):
        """The budget as a fraction of the data range (None for a minimal attack)."""
        return self._eps

    @property
    def targeted(self):
        """Whether the labels are targets."""
        return self._is_targeted

    @property
    def label_source(self):
        """What ``labels=None`` attacks (a :class:`LabelSource`)."""
        if self._logits_net is None or \
                (self._is_targeted and self._labels_none is LabelSource.PREDICTED):
            return LabelSource.REQUIRED
        return self._labels_none

    @property
    def sweepable(self):
        """Whether :meth:`sweep` answers many eps from one gradient."""
        return False

    @property
    def label(self):
        """A short label for reports: ``name`` if set, else e.g. ``"FGSM"``."""
        return self.name or self.short_name or type(self).__name__

    def reseed(self, seed):
        """Restart the attack's random draws from ``seed`` (a resumable or sharded evaluation
        seeds every chunk of points by its position, so a chunk's result does not depend on
        which process ran it, or when). Deterministic attacks ignore it."""
        seed = check_seed(seed)
        if hasattr(self, "_seed"):
            self._seed = seed
        if hasattr(self, "_rng"):
            self._rng = np.random.default_rng(seed)

    def _checked_eps(self, eps):
        """``eps`` in (0, 1] for an Linf budget on bounded data, else > 0."""
        linf = self._norm is not None and self._norm.name == "linf" and \
            self._bounds is not None
        return check_number("eps", eps, low=0.0, high=1.0 if linf else None)

    # -- subclass hooks ------------------------------------------------------------------
    def _prepare_labels(self, labels, inputs):
        """Labels in the format the compiled step takes, checked against ``inputs``."""
        n = inputs.shape[0]
        if isinstance(labels, Rows):         # checked by _checked_rows
            return labels
        if self._num_classes is None and self._logits_net is not None:
            self._num_classes = num_classes(self._logits_net, inputs[:1])
        if self._label_mode == "asis":
            labels = labels.asnumpy() if isinstance(labels, ms.Tensor) else np.asarray(labels)
            if labels.shape[0] != n:
                raise InputError(f"labels has {labels.shape[0]} entries for {n} inputs")
            return labels
        indices = to_class_indices(labels, n, self._num_classes)
        if self._label_mode == "onehot":
            return np.eye(self._num_classes, dtype=np.float32)[indices]
        return indices

    # -- public API ------------------------------------------------------------------------
    def generate(self, inputs, labels=None):
        """Adversarial examples for ``inputs`` (numpy (N, ...)) in one batch.

        ``labels``: class indices (N,) or one-hot (N, K) — the true labels, or the target
        labels for a targeted attack; ``None`` attacks the model's own predictions
        (untargeted; avoids label leaking in adversarial training), or, for an attack whose
        ``label_source`` is least-likely, the model's least-likely classes as targets.

        A multi-input network that is its own loss (``loss_fn=None``; the gradient and
        iterative attacks) takes MindArmour's tuples: ``inputs = (x, *others)`` perturbs
        ``x`` and passes ``others`` to the network beside it, ``labels`` may be a tuple of
        arrays, and the network is called as ``network(x, *others, *labels)``; the result
        is the adversarial ``x``.
        """
        inputs, labels, _ = self._checked(inputs, labels, None, whole=True)
        return self._run(inputs, labels, inputs.shape[0])

    def batch_generate(self, inputs, labels=None, batch_size=DEFAULT_BATCH_SIZE):
        """As :meth:`generate`, in batches of ``batch_size`` (default: :func:`auto_batch_size`,
        2048 for MNIST; the last batch is padded, so a compiled graph is reused)."""
        inputs, labels, batch_size = self._checked(inputs, labels, batch_size)
        return self._run(inputs, labels, batch_size)

    def _checked(self, inputs, labels, batch_size, whole=False):
        """Checked inputs, labels in the step's format, and the batch size (all of the
        inputs with ``whole``; else the given or automatic size, at most N)."""
        if isinstance(inputs, tuple) or self._label_mode == "asis" and \
                isinstance(labels, tuple) and all(np.ndim(v) >= 1 for v in labels):
            inputs, labels = self._checked_rows(inputs, labels)
        else:
            inputs = check_inputs(inputs, self._bounds)
        if labels is None:
            labels = self.least_likely(inputs) \
                if self._labels_none is LabelSource.LEAST_LIKELY else self.predicted_labels(inputs)
        labels = self._prepare_labels(labels, inputs)
        if whole:
            return inputs, labels, inputs.shape[0]
        batch_size = auto_batch_size(inputs.shape[1:]) if batch_size is None \
            else check_batch_size(batch_size)
        return inputs, labels, min(batch_size, inputs.shape[0])

    # attacks whose loss may be the user's multi-input network (loss_fn=None) set it
    _tuple_inputs = False

    def _checked_rows(self, inputs, labels):
        """MindArmour's multi-input form, for a network that is its own loss: ``inputs`` a
        tuple whose first array is perturbed and whose others go to the network beside it,
        ``labels`` an array or a tuple of arrays; returns (the checked first array, the
        rest as :class:`~mindsec.batching.Rows`: the network's other inputs, then the
        labels)."""
        name = type(self).__name__
        if not self._tuple_inputs:
            raise InputError(f"{name} takes one inputs array, got a {type(inputs).__name__}; "
                             f"tuple inputs (a multi-input network) work with the gradient "
                             f"and iterative attacks")
        if self._label_mode != "asis":
            raise InputError("tuple inputs need loss_fn=None and a network that takes "
                             "(inputs..., labels...) and returns its loss, as in MindArmour")
        parts = inputs if isinstance(inputs, tuple) else (inputs,)
        if not parts:
            raise InputError("inputs is an empty tuple; expected (the perturbed inputs, "
                             "the network's other inputs...)")
        first = check_inputs(parts[0], self._bounds,
                             name="inputs[0]" if len(parts) > 1 else "inputs")
        if labels is None:
            raise InputError("labels=None needs a network that returns logits and a loss_fn; "
                             "a network that is its own loss needs its labels")
        tags = [f"inputs[{i}]" for i in range(1, len(parts))]
        if isinstance(labels, tuple) and all(np.ndim(v) >= 1 for v in labels):
            tags += [f"labels[{i}]" for i in range(len(labels))]
        else:
            labels = (labels,)
            tags.append("labels")
        rest = []
        for tag, value in zip(tags, parts[1:] + labels):
            value = value.asnumpy() if isinstance(value, ms.Tensor) else np.asarray(value)
            if value.ndim == 0 or value.shape[0] != first.shape[0]:
                raise InputError(f"{tag} must have {first.shape[0]} rows, one per input, got "
                                 f"shape {value.shape}")
            rest.append(value)
        return first, Rows(rest)

    def predicted_labels(self, inputs, batch_size=DEFAULT_BATCH_SIZE):
        """The model's predicted classes for ``inputs`` (int32 (N,)): the labels an
        untargeted attack uses when given ``labels=None``."""
        if self._is_targeted and self._logits_net is not None:
            raise InputError("labels=None is for untargeted attacks; a targeted attack needs "
                             "its target labels")
        return self._logits(inputs, batch_size).argmax(axis=1).astype(np.int32)

    def least_likely(self, inputs, batch_size=DEFAULT_BATCH_SIZE):
        """The class of lowest logit for each input (int32 (N,)): the targets of
        ``labels=None`` for an attack whose ``label_source`` is least-likely (LLC, JSMA)."""
        return self._logits(inputs, batch_size).argmin(axis=1).astype(np.int32)

    def _logits(self, inputs, batch_size):
        """The judged network's logits for ``inputs``, checked, in batches."""
        if self._logits_net is None:
            raise InputError("labels=None needs a network that returns logits and a loss_fn")
        inputs = check_inputs(inputs, self._bounds)
        batch_size = auto_batch_size(inputs.shape[1:]) if batch_size is None \
            else check_batch_size(batch_size)
        try:
            logits = predict_logits(self._logits_net, inputs, batch_size)
        except (TypeError, ValueError, RuntimeError) as exc:
            raise InputError(f"inputs of shape {inputs.shape} do not fit the network: "
                             f"{_first_line(exc)}") from None
        return logits

    def stream(self, dataset, columns=(0, 1)):
        """Attack a ``mindspore.dataset`` pipeline batch by batch (for data that does not
        fit in memory). Yields ``(adversarial images, labels)`` as numpy arrays; batches
        are padded to the first batch's size so the graph compiles once."""
        if not hasattr(dataset, "create_tuple_iterator"):
            raise InputError(f"dataset must be a mindspore.dataset pipeline, got "
                             f"{type(dataset).__name__}")
        batch_size = None
        self.stats = {"samples": 0, "saturated": None}
        total = {"samples": 0, "saturated": 0}
        for row in dataset.create_tuple_iterator(output_numpy=True):
            x = check_inputs(row[columns[0]], self._bounds, name="dataset images")
            y = row[columns[1]]
            batch_size = batch_size or x.shape[0]
            adv = self._run(x, self._prepare_labels(y, x), batch_size)
            total["samples"] += self.stats["samples"]
            if self.stats["saturated"] is None:
                total["saturated"] = None
            elif total["saturated"] is not None:
                total["saturated"] += self.stats["saturated"]
            yield adv, y
        self.stats = total

    # -- the loop ------------------------------------------------------------------------
    def _feed(self, inputs, labels, batch_size):
        """Yield ``(start, stop, x, y, valid)`` device tensors for fixed-size batches; the
        last batch is padded and ``valid`` (1.0 on real rows) masks the padding."""
        ones = ms.Tensor(np.ones(batch_size, np.float32))
        for start, stop in padded_batches(inputs.shape[0], batch_size):
            valid = ones
            if stop - start < batch_size:
                mask = np.zeros(batch_size, np.float32)
                mask[: stop - start] = 1.0
                valid = ms.Tensor(mask)
            yield (start, stop, ms.Tensor(pad_to(inputs[start:stop], batch_size)),
                   to_tensor(pad_to(labels[start:stop], batch_size)), valid)

    @staticmethod
    def _saturated_total(counts):
        """Sum of the per-batch saturation counts (device scalars, read once), or None
        where the step could not tell (negative counts)."""
        total = sum(float(k.asnumpy()) for k in counts)
        return None if total < 0 else int(round(total))

    def _run(self, inputs, labels, batch_size):
        """One compiled step per batch. Each batch's result is read back only after the
        next batch is dispatched, so the host copy overlaps the device's work instead of
        waiting for it batch by batch."""
        n = inputs.shape[0]
        out = np.empty_like(inputs)
        counts = []
        pending = None
        for start, stop, x, y, valid in self._feed(inputs, labels, batch_size):
            args = (x, y, valid, self._batch_noise(x.shape))
            if start == 0:
                adv, n_sat = self._first_call(args, inputs.shape)
            else:
                adv, n_sat = self._step(*args)
            if pending is not None:
                _read_into(out, *pending)
            pending = (start, stop, adv)
            counts.append(n_sat)
        _read_into(out, *pending)
        self.stats = {"samples": n, "saturated": self._saturated_total(counts)}
        return out

    _no_noise = None

    def _batch_noise(self, shape):   # pylint: disable=unused-argument
        """Extra random input of the step for one batch, a device tensor (see subclasses);
        a placeholder here, made once (not at import: the device may not be set yet)."""
        if Attack._no_noise is None:
            Attack._no_noise = ms.Tensor(np.zeros((1,), np.float32))
        return Attack._no_noise

    def _first_call(self, args, shape):
        """Run (and compile) the step; inputs that do not fit the network give one line."""
        try:
            return self._step(*args)
        except (TypeError, ValueError, RuntimeError) as exc:
            raise InputError(f"inputs of shape {shape} do not fit the network: "
                             f"{_first_line(exc)}") from None


def _read_into(out, start, stop, tensor):
    """Copy a padded batch's device result into rows ``start:stop`` of ``out``."""
    out[start:stop] = tensor.asnumpy()[: stop - start]


def _first_line(exc):
    return next((line.strip() for line in str(exc).splitlines() if line.strip()),
                type(exc).__name__)
