"""Fixed-shape batching: every batch has the same shape so a compiled graph is built once.

The last, ragged batch is padded (by repeating its first rows) and the padding dropped
from the result.
"""
import numpy as np
import mindspore as ms


def padded_batches(n, batch_size):
    """Yield ``(start, stop)`` index ranges covering ``range(n)`` in ``batch_size`` steps."""
    for start in range(0, n, batch_size):
        yield start, min(start + batch_size, n)


def bucket_size(n, batch_size):
    """The batch to pad ``n`` inputs to: ``batch_size`` if they fill it, else the next power
    of two at or above ``n``. Attacks that run on shrinking subsets (restarts, cascades)
    then compile at most ``1 + log2(batch_size)`` graphs instead of one per subset size."""
    if n >= batch_size:
        return int(batch_size)
    return int(min(batch_size, 1 << max(0, int(n - 1).bit_length())))


class Rows:
    """Arrays that share their first axis, sliced, indexed and padded together: what a
    multi-input network takes beside the input an attack perturbs (its other inputs and
    its labels, MindArmour's tuple ``inputs`` and ``labels``). On the device they are one
    tuple of tensors (:func:`to_tensor`)."""

    def __init__(self, arrays):
        self.arrays = tuple(arrays)

    @property
    def shape(self):
        return (self.arrays[0].shape[0],)

    def __len__(self):
        return self.arrays[0].shape[0]

    def __getitem__(self, index):
        return Rows(a[index] for a in self.arrays)


def to_tensor(value):
    """A numpy array as a Tensor; :class:`Rows` as a tuple of Tensors, marked mutable so a
    compiled step takes its values as inputs (not constants, which would recompile)."""
    if isinstance(value, Rows):
        return ms.mutable(tuple(ms.Tensor(a) for a in value.arrays))
    return ms.Tensor(value)


def pad_to(array, size):
    """``array`` (or :class:`Rows`) with its first axis padded to ``size`` rows (edge rows
    repeated)."""
    if isinstance(array, Rows):
        return Rows(pad_to(a, size) for a in array.arrays)
    missing = size - array.shape[0]
    if missing <= 0:
        return array
    reps = np.resize(np.arange(array.shape[0]), missing)
    return np.concatenate([array, array[reps]], axis=0)


def num_classes(network, sample):
    """Width of ``network``'s output for one input (``sample``: numpy (1, ...)). Inputs
    that do not fit the network raise one line (``InputError``), not MindSpore's trace."""
    from .errors import InputError  # pylint: disable=import-outside-toplevel
    try:
        return int(network(ms.Tensor(sample)).shape[-1])
    except (TypeError, ValueError, RuntimeError) as exc:
        first = next((line.strip() for line in str(exc).splitlines() if line.strip()),
                     type(exc).__name__)
        raise InputError(f"inputs of shape (N, {', '.join(map(str, sample.shape[1:]))}) "
                         f"do not fit the network: {first}") from None


def predict_logits(network, inputs, batch_size=1000):
    """``network``'s outputs for numpy ``inputs``, in fixed-size batches (a ragged last
    batch padded to a power of two). Returns numpy."""
    n = inputs.shape[0]
    batch_size = max(1, int(batch_size))
    # a ragged last batch (or fewer inputs than a batch) is padded to a power of two, not
    # to a whole batch: a caller whose query sizes vary (Square's shrinking set of points,
    # a black-box attack's probes) compiles a few graphs, not one per size, and computes
    # at most twice the rows it asked for
    outs = []
    for start, stop in padded_batches(n, batch_size):
        size = bucket_size(stop - start, batch_size)
        # every batch is dispatched before any is read back: no wait on the device per batch
        outs.append((stop - start, network(ms.Tensor(pad_to(inputs[start:stop], size)))))
    return np.concatenate([out.asnumpy()[:m] for m, out in outs])


def accuracy(network, inputs, labels, batch_size=1000):
    """Top-1 accuracy of ``network`` on numpy ``inputs`` and class-index ``labels``."""
    preds = predict_logits(network, inputs, batch_size).argmax(axis=1)
    return float(np.mean(preds == np.asarray(labels)))


def predict_proba(network, inputs, batch_size=1000):
    """Softmax of ``network``'s logits for numpy ``inputs`` (float32 (N, K))."""
    from scipy.special import softmax  # pylint: disable=import-outside-toplevel
    return softmax(predict_logits(network, inputs, batch_size), axis=1).astype(np.float32)
