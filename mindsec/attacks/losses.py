"""Losses for attacks that do not go blind where the softmax saturates.

Softmax cross-entropy ``CE = logsumexp(z) - z_y`` has the input gradient
``sum_j (p_j - [j=y]) dz_j/dx``. In float32 a confident model gives ``p_y == 1.0``
exactly (margin above ~17), so the true-class term vanishes and a gradient attack follows
only the tiny other-class terms: on a LeNet5 trained with MindArmour's tutorial recipe this
happens on about half of the MNIST test set, and FGSM eps=0.3 then leaves 54.5% accuracy
instead of ~8%.

mindsec's attacks use the log-odds of the true class instead::

    L(z, y) = logsumexp_{j != y}(z_j) - z_y          ("other-class log-odds")

Since ``CE = log1p(exp(L)) = softplus(L)``, ``dCE/dx = sigmoid(L) * dL/dx``: the same
direction scaled by a positive per-sample factor, which every attack here removes (sign,
or per-sample L1/L2/Linf normalisation). ``L`` has gradient ``softmax_{-y}(z) - e_y`` in the
logits, with no cancellation at any margin, so it never saturates. The returned loss value
is ``softplus(L)``, i.e. the cross-entropy itself, computed without cancellation.
"""
import mindspore as ms
from mindspore import nn, ops

_NEG = -3.0e38


def log_odds(logits, labels):
    """Per-sample ``logsumexp_{j!=y} z_j - z_y`` for class-index ``labels`` (int32 (N,))."""
    num_classes = logits.shape[-1]
    is_true = ops.one_hot(labels, num_classes, ms.Tensor(1.0, logits.dtype),
                          ms.Tensor(0.0, logits.dtype)) > 0.5
    true_logit = (logits * is_true.astype(logits.dtype)).sum(axis=-1)
    others = ops.select(is_true, ops.full_like(logits, _NEG), logits)
    return ops.logsumexp(others, -1) - true_logit


def saturated(logits, labels):
    """Per-sample bool: float32 softmax gives the label probability exactly 1.0 (the naive
    cross-entropy's input gradient has lost its true-class term)."""
    probs = ops.softmax(logits, axis=-1)
    num_classes = logits.shape[-1]
    onehot = ops.one_hot(labels, num_classes, ms.Tensor(1.0, ms.float32),
                         ms.Tensor(0.0, ms.float32))
    return (probs * onehot).sum(axis=-1) >= 1.0


class StableSoftmaxCrossEntropy(nn.Cell):
    """Softmax cross-entropy for class indices, summed over the batch, computed as
    ``softplus(log_odds)``: the attacks' loss (see module docstring)."""

    def __init__(self, network):
        super().__init__(auto_prefix=False)
        self.network = network

    def construct(self, x, labels):
        return ops.softplus(log_odds(self.network(x), labels)).sum()
