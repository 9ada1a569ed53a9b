"""What every attack shares: argument checks, label conversion, fixed-shape batching.

An attack subclass builds one compiled ``nn.Cell`` (``self._step``) mapping a batch
``(x, y)`` to ``(x_adv, n_saturated)`` on the device; this class feeds it numpy batches of
one fixed size (padding the ragged last batch), so a graph compiles once per
(model, batch shape), and converts at the edges only.
"""
import numbers

import numpy as np
import mindspore as ms
from mindspore import nn

from ..batching import num_classes, pad_to, padded_batches, predict_logits
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


# ----------------------------------------------------------------------------- checks
def check_number(name, value, low=None, high=None, low_open=True, allow_none=False):
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value):
        raise InputError(f"{name} must be a finite number, got {value!r}")
    value = float(value)
    if low is not None and (value < low or (low_open and value == low)):
        raise InputError(f"{name} must be {'>' if low_open else '>='} {low}, got {value}")
    if high is not None and value > high:
        raise InputError(f"{name} must be <= {high}, got {value}")
    return value


def check_bounds(bounds):
    """``None`` or a (min, max) pair of finite numbers with min < max."""
    if bounds is None:
        return None
    if not isinstance(bounds, (tuple, list)) or len(bounds) != 2:
        raise InputError(f"bounds must be a (min, max) pair, got {bounds!r}")
    low = check_number("bounds[0]", bounds[0])
    high = check_number("bounds[1]", bounds[1])
    if low >= high:
        raise InputError(f"bounds must satisfy min < max, got {tuple(bounds)}")
    return low, high


def check_inputs(inputs, bounds, name="inputs"):
    """A float32 numpy array (N, ...) with finite values inside ``bounds``."""
    if isinstance(inputs, ms.Tensor):
        inputs = inputs.asnumpy()
    if not isinstance(inputs, np.ndarray):
        raise InputError(f"{name} must be a numpy array or Tensor, got {type(inputs).__name__}")
    if not np.issubdtype(inputs.dtype, np.floating):
        raise InputError(f"{name} must be a float array (scaled to bounds), got dtype "
                         f"{inputs.dtype}")
    if inputs.ndim < 2 or inputs.shape[0] == 0:
        raise InputError(f"{name} must have shape (N, ...) with N >= 1, got {inputs.shape}")
    inputs = np.ascontiguousarray(inputs, dtype=np.float32)
    low, high = float(inputs.min()), float(inputs.max())   # NaN and Inf reach min or max
    if not (np.isfinite(low) and np.isfinite(high)):
        raise InputError(f"{name} contains NaN or Inf")
    if bounds is not None:
        if low < bounds[0] - 1e-6 or high > bounds[1] + 1e-6:
            raise InputError(f"{name} span [{low:g}, {high:g}], outside bounds {bounds}; "
                             f"pass the bounds of your data")
    return inputs


def to_class_indices(labels, n, num_classes=None, name="labels"):
    """Class indices (int32 (N,)) from class indices or one-hot rows (N, K)."""
    if isinstance(labels, ms.Tensor):
        labels = labels.asnumpy()
    labels = np.asarray(labels)
    if labels.ndim == 2:
        if not np.issubdtype(labels.dtype, np.number) or not np.isfinite(labels).all():
            raise InputError(f"{name}: one-hot rows must be finite numbers")
        if num_classes is not None and labels.shape[1] != num_classes:
            raise InputError(f"{name}: one-hot width {labels.shape[1]} does not match the "
                             f"network's {num_classes} outputs")
        is_one_hot = np.isin(labels, (0, 1)).all() and (labels.sum(axis=1) == 1).all()
        if not is_one_hot:
            raise InputError(f"{name}: 2-D labels must be one-hot rows (a single 1 per row)")
        labels = labels.argmax(axis=1)
    elif labels.ndim != 1:
        raise InputError(f"{name} must be class indices (N,) or one-hot (N, K), got shape "
                         f"{labels.shape}")
    elif not np.issubdtype(labels.dtype, np.integer):
        if not (np.issubdtype(labels.dtype, np.floating) and np.isfinite(labels).all()
                and (labels == np.round(labels)).all()):
            raise InputError(f"{name}: class indices must be integers, got dtype "
                             f"{labels.dtype}")
    if labels.shape[0] != n:
        raise InputError(f"{name} has {labels.shape[0]} entries for {n} inputs")
    labels = labels.astype(np.int32)
    top = num_classes if num_classes is not None else np.inf
    if labels.size and (labels.min() < 0 or labels.max() >= top):
        raise InputError(f"{name}: class indices must lie in [0, {num_classes}), got "
                         f"[{labels.min()}, {labels.max()}]")
    return labels


def check_count(name, value, low=1):
    """An integer ``>= low`` (iterations, restarts, classes)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise InputError(f"{name} must be an integer >= {low}, got {value!r}")
    return int(value)


def check_batch_size(batch_size):
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) \
            or batch_size <= 0:
        raise InputError(f"batch_size must be a positive integer, got {batch_size!r}")
    return int(batch_size)


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

    def __init__(self, network, bounds):
        if not isinstance(network, nn.Cell):
            raise InputError(f"network must be a mindspore.nn.Cell, got "
                             f"{type(network).__name__}")
        self._network = network
        self._bounds = check_bounds(bounds)
        self._step = None
        self._label_mode = "index"
        self._num_classes = None
        self._logits_net = None      # the network that returns logits, where known
        self.stats = {"samples": 0, "saturated": None}

    # -- subclass hooks ------------------------------------------------------------------
    def _prepare_labels(self, labels, inputs):
        """Labels in the format the compiled step takes, checked against ``inputs``."""
        n = inputs.shape[0]
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
    def generate(self, inputs, labels):
        """Adversarial examples for ``inputs`` (numpy (N, ...)) in one batch.

        ``labels``: class indices (N,) or one-hot (N, K) — the true labels, or the target
        labels for a targeted attack; ``None`` attacks the model's own predictions
        (untargeted; avoids label leaking in adversarial training).
        """
        inputs, labels, _ = self._checked(inputs, labels, None, whole=True)
        return self._run(inputs, labels, inputs.shape[0])

    def batch_generate(self, inputs, labels, batch_size=DEFAULT_BATCH_SIZE):
        """As :meth:`generate`, in batches of ``batch_size`` (default: :func:`auto_batch_size`,
        2048 for MNIST; the last batch is padded, so a compiled graph is reused)."""
        inputs, labels, batch_size = self._checked(inputs, labels, batch_size)
        return self._run(inputs, labels, batch_size)

    def _checked(self, inputs, labels, batch_size, whole=False):
        """Checked inputs, labels in the step's format, and the batch size (all of the
        inputs with ``whole``; else the given or automatic size, at most N)."""
        inputs = check_inputs(inputs, self._bounds)
        if labels is None:
            labels = self.predicted_labels(inputs)
        labels = self._prepare_labels(labels, inputs)
        if whole:
            return inputs, labels, inputs.shape[0]
        batch_size = auto_batch_size(inputs.shape[1:]) if batch_size is None \
            else check_batch_size(batch_size)
        return inputs, labels, min(batch_size, inputs.shape[0])

    def predicted_labels(self, inputs, batch_size=DEFAULT_BATCH_SIZE):
        """The model's predicted classes for ``inputs`` (int32 (N,)): the labels an
        untargeted attack uses when given ``labels=None``."""
        if self._logits_net is None:
            raise InputError("labels=None needs a network that returns logits and a loss_fn")
        if getattr(self, "_is_targeted", False):
            raise InputError("labels=None is for untargeted attacks; a targeted attack needs "
                             "its target labels")
        inputs = check_inputs(inputs, self._bounds)
        batch_size = auto_batch_size(inputs.shape[1:]) if batch_size is None \
            else check_batch_size(batch_size)
        try:
            logits = predict_logits(self._logits_net, inputs, batch_size)
        except (TypeError, ValueError, RuntimeError) as exc:
            raise InputError(f"inputs of shape {inputs.shape} do not fit the network: "
                             f"{_first_line(exc)}") from None
        return logits.argmax(axis=1).astype(np.int32)

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
                   ms.Tensor(pad_to(labels[start:stop], batch_size)), valid)

    @staticmethod
    def _saturated_total(counts):
        """Sum of the per-batch saturation counts (device scalars, read once), or None
        where the step could not tell (negative counts)."""
        total = sum(float(k.asnumpy()) for k in counts)
        return None if total < 0 else int(round(total))

    def _run(self, inputs, labels, batch_size):
        n = inputs.shape[0]
        out = np.empty_like(inputs)
        counts = []
        for start, stop, x, y, valid in self._feed(inputs, labels, batch_size):
            args = (x, y, valid, self._batch_noise(x.shape))
            if start == 0:
                adv, n_sat = self._first_call(args, inputs.shape)
            else:
                adv, n_sat = self._step(*args)
            out[start:stop] = adv.asnumpy()[: stop - start]
            counts.append(n_sat)
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


def _first_line(exc):
    return next((line.strip() for line in str(exc).splitlines() if line.strip()),
                type(exc).__name__)
