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

from ..checks import check_flag
from ..errors import InputError

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


class LogitGap(nn.Cell):
    """``(x, k, y) -> sum_n (z_{n,k_n} - z_{n,y_n})`` for per-sample classes ``k`` and ``y``:
    its input gradient is every sample's ``grad (z_k - z_y)`` at once (DeepFool's and FAB's
    linearisation of the boundary between ``y`` and ``k``)."""

    def __init__(self, network):
        super().__init__(auto_prefix=False)
        self.network = network

    def construct(self, x, k, y):
        z = self.network(x)
        zk = ops.gather_elements(z, 1, k.reshape(-1, 1))
        zy = ops.gather_elements(z, 1, y.reshape(-1, 1))
        return (zk - zy).sum()


class StableSoftmaxCrossEntropy(nn.Cell):
    """Softmax cross-entropy for class indices, summed over the batch, computed as
    ``softplus(log_odds)``: the attacks' loss (see module docstring)."""

    def __init__(self, network):
        super().__init__(auto_prefix=False)
        self.network = network

    def construct(self, x, labels):
        return ops.softplus(log_odds(self.network(x), labels)).sum()


def _is_softmax_ce(loss_fn):
    """Whether ``loss_fn`` is plain softmax cross-entropy on logits (any reduction)."""
    if isinstance(loss_fn, nn.SoftmaxCrossEntropyWithLogits):
        return True
    if isinstance(loss_fn, nn.CrossEntropyLoss):
        return getattr(loss_fn, "weight", None) is None and \
            not getattr(loss_fn, "label_smoothing", 0.0)
    return False


class LogOddsLoss(nn.Cell):
    """(x, y, valid) -> (sum of other-class log-odds, #saturated valid rows); with
    ``count=False`` the count is not computed (-1: unknown), as in the training step."""

    def __init__(self, network, count=True):
        super().__init__(auto_prefix=False)
        self.network = network
        self.count = count
        self.unknown = ms.Tensor(-1.0, ms.float32)

    def construct(self, x, y, valid):
        logits = self.network(x)
        if self.count:
            n_sat = (saturated(logits, y).astype(ms.float32) * valid).sum()
        else:
            n_sat = self.unknown
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
    """``loss_fn=None``: the network maps (x, y) to its loss; ``y`` a tuple (a multi-input
    network: its other inputs, then its labels) is spread, ``network(x, *y)``."""

    def __init__(self, network):
        super().__init__(auto_prefix=False)
        self.network = network
        self.unknown = ms.Tensor(-1.0, ms.float32)

    def construct(self, x, y, valid):
        if isinstance(y, tuple):
            return self.network(x, *y), self.unknown
        return self.network(x, y), self.unknown


def build_loss(network, loss_fn, stable_loss):
    """``(logits network or None, loss cell (x, y, valid) -> (loss, #saturated), label
    mode)`` for an attack on ``network`` with ``loss_fn``: the cancellation-free log-odds
    where ``loss_fn`` is softmax cross-entropy and ``stable_loss`` (also inside an
    ``nn.WithLossCell`` passed with ``loss_fn=None``), else ``loss_fn`` as given."""
    check_flag("stable_loss", stable_loss)
    if loss_fn is not None and not isinstance(loss_fn, nn.Cell):
        raise InputError(f"loss_fn must be a mindspore.nn.Cell or None, got "
                         f"{type(loss_fn).__name__}")
    if loss_fn is None and isinstance(network, nn.WithLossCell) and stable_loss:
        backbone = network.backbone_network
        inner = next((c for c in network.cells() if c is not backbone), None)
        if _is_softmax_ce(inner):
            loss_fn, network = inner, backbone
    if loss_fn is None:
        return None, _NetworkIsLoss(network), "asis"
    if stable_loss and _is_softmax_ce(loss_fn):
        return network, LogOddsLoss(network), "index"
    onehot = isinstance(loss_fn, nn.SoftmaxCrossEntropyWithLogits) and not loss_fn.sparse
    return (network, _UserLoss(network, loss_fn, onehot, _is_softmax_ce(loss_fn)),
            "onehot" if onehot else "index")
