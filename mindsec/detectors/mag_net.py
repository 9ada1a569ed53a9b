"""MagNet's detectors (Meng and Chen, CCS 2017): reconstruction error and divergence.

:class:`ErrorBasedDetector` scores an input by the mean squared error between it and its
auto-encoder reconstruction; :class:`DivergenceBasedDetector` by the Jensen-Shannon
divergence between the target model's softmax (at temperature ``t``) on the input and on
its reconstruction. Both threshold the score at the value that flags a
``false_positive_rate`` fraction of benign inputs. The reconstruction and both model
passes run in one compiled cell per batch on the device; the divergence is numpy.

:class:`MagNetAutoEncoder` is MagNet's MNIST auto-encoder (detector I) and
:func:`train_auto_encoder` trains any auto-encoder to reconstruct clean inputs from noisy
ones with MindSpore's Adam and MSE loss through :func:`mindsec.train.run_epochs`.
"""
import numpy as np
import mindspore as ms
from mindspore import nn, ops
from scipy import stats
from scipy.special import softmax

from .. import train
from ..checks import check_bounds, check_count, check_number
from ..errors import InputError
from .detector import (Detector, as_network, check_rate, check_threshold,
                       checked, flags, need_fit, predict)


class _ReconstructionError(nn.Cell):
    """``x -> mean((x - ae(x))**2)`` over each sample's elements: (N,)."""

    def __init__(self, auto_encoder):
        super().__init__(auto_prefix=False)
        self.auto_encoder = auto_encoder

    def construct(self, x):
        diff = x - self.auto_encoder(x)
        return (diff * diff).reshape(x.shape[0], -1).mean(axis=1)


class _TwoViews(nn.Cell):
    """``x -> [model(x), model(ae(x))]`` concatenated on the last axis: (N, 2K)."""

    def __init__(self, auto_encoder, model):
        super().__init__(auto_prefix=False)
        self.auto_encoder = auto_encoder
        self.model = model

    def construct(self, x):
        return ops.concat((self.model(x), self.model(self.auto_encoder(x))), axis=-1)


class ErrorBasedDetector(Detector):
    """Rejects inputs whose auto-encoder reconstruction error is large (MagNet).

    Args:
        auto_encoder (Union[Model, nn.Cell]): a trained auto-encoder (same shape out as in).
        false_positive_rate (float): fraction of benign inputs ``fit`` flags. Default: 0.01.
        bounds (tuple): ``(clip_min, clip_max)`` of :meth:`transform`'s output, or None.
            Default: (0.0, 1.0).
    """

    def __init__(self, auto_encoder, false_positive_rate=0.01, bounds=(0.0, 1.0)):
        super().__init__()
        self._auto_encoder = as_network("auto_encoder", auto_encoder)
        self._false_positive_rate = check_rate("false_positive_rate", false_positive_rate)
        self._bounds = check_bounds(bounds)
        self._threshold = None
        self._score_cell = None

    def fit(self, inputs, labels=None):
        """Set and return the threshold (np.float32): the ``int(N * false_positive_rate)``-th
        largest score on benign ``inputs`` (the largest when that count is 0)."""
        marks = np.sort(self.detect_diff(inputs))
        num = int(marks.shape[0] * self._false_positive_rate)
        self._threshold = marks[-num] if num >= 1 else marks[-1]
        return self._threshold

    def detect(self, inputs):
        """``list[int]``: 1 where the score exceeds the threshold."""
        need_fit(self._threshold, type(self).__name__)
        return flags(self.detect_diff(inputs), self._threshold)

    def detect_diff(self, inputs):
        """Mean squared reconstruction error of each input (float32 (N,))."""
        inputs = checked(inputs)
        if self._score_cell is None:
            self._score_cell = _ReconstructionError(self._auto_encoder)
        return predict(self._score_cell, inputs)

    def transform(self, inputs):
        """The reconstructions, clipped to ``bounds``."""
        out = predict(self._auto_encoder, checked(inputs))
        if self._bounds is not None:
            out = np.clip(out, *self._bounds)
        return out

    def set_threshold(self, threshold):
        """Set the detection threshold (> 0)."""
        self._threshold = check_threshold(threshold)


class DivergenceBasedDetector(ErrorBasedDetector):
    """Rejects inputs on which the target model's softmax changes much under the
    auto-encoder: the Jensen-Shannon divergence at temperature ``t`` (MagNet).

    Args:
        auto_encoder (Union[Model, nn.Cell]): a trained auto-encoder.
        model (Union[Model, nn.Cell]): the target model (returns logits).
        option (str): the divergence; only "jsd" exists (as in MindArmour). Default: "jsd".
        t (int): softmax temperature. Default: 1.
        bounds (tuple): ``(clip_min, clip_max)`` of :meth:`transform`. Default: (0.0, 1.0).
    """

    def __init__(self, auto_encoder, model, option="jsd", t=1, bounds=(0.0, 1.0)):
        super().__init__(auto_encoder, bounds=bounds)
        self._model = as_network("model", model)
        if option != "jsd":
            raise NotImplementedError(f"option {option!r} is not implemented: "
                                      f"DivergenceBasedDetector has only option='jsd'")
        self._option = option
        self._t = check_count("t", t)

    def detect_diff(self, inputs):
        """Jensen-Shannon divergence between the softmax on each input and on its
        reconstruction (float (N,))."""
        inputs = checked(inputs)
        if self._score_cell is None:
            self._score_cell = _TwoViews(self._auto_encoder, self._model)
        both = predict(self._score_cell, inputs)
        k = both.shape[1] // 2
        return _jsd(softmax(both[:, :k] / self._t, axis=1),
                    softmax(both[:, k:] / self._t, axis=1))


def _jsd(p, q):
    """Row-wise Jensen-Shannon divergence (natural log) of probability rows ``p``, ``q``."""
    p = p / (np.abs(p).sum(axis=1, keepdims=True) + 1e-12)
    q = q / (np.abs(q).sum(axis=1, keepdims=True) + 1e-12)
    m = 0.5 * (p + q)
    return 0.5 * (stats.entropy(p, m, axis=1) + stats.entropy(q, m, axis=1))


# ----------------------------------------------------------------------------- training
class MagNetAutoEncoder(nn.Cell):
    """MagNet's MNIST auto-encoder (detector I): two 3x3 sigmoid convolutions around a 2x2
    average pool, a nearest-neighbour upsampling and two more; output in (0, 1). Input
    height and width must be even."""

    def __init__(self, in_channels=1, filters=3):
        super().__init__()
        in_channels = check_count("in_channels", in_channels)
        filters = check_count("filters", filters)

        def conv(cin, cout):
            return nn.Conv2d(cin, cout, 3, pad_mode="same", has_bias=True)
        self.enc1 = conv(in_channels, filters)
        self.pool = nn.AvgPool2d(2, 2)
        self.enc2 = conv(filters, filters)
        self.dec1 = conv(filters, filters)
        self.dec2 = conv(filters, filters)
        self.out = conv(filters, in_channels)
        self.sigmoid = nn.Sigmoid()

    def construct(self, x):
        h = self.pool(self.sigmoid(self.enc1(x)))
        h = self.sigmoid(self.dec1(self.sigmoid(self.enc2(h))))
        h = ops.repeat_elements(ops.repeat_elements(h, 2, axis=2), 2, axis=3)
        return self.sigmoid(self.out(self.sigmoid(self.dec2(h))))


def train_auto_encoder(auto_encoder, inputs, epochs=10, batch_size=32, learning_rate=1e-2,
                       noise=0.1, seed=0, bounds=(0.0, 1.0), log=None):
    """Train ``auto_encoder`` in place to reconstruct ``inputs`` (numpy (N, C, H, W)) from
    copies with Gaussian noise of standard deviation ``noise`` (clipped to ``bounds``), with
    Adam and the mean squared error, as MagNet does. Returns the per-epoch history of
    :func:`mindsec.train.run_epochs` (``loss``: the mean squared error)."""
    inputs = checked(inputs)
    epochs = check_count("epochs", epochs)
    batch_size = check_count("batch_size", batch_size)
    learning_rate = check_number("learning_rate", learning_rate, low=0.0)
    noise = check_number("noise", noise, low=0.0, low_open=False)
    bounds = check_bounds(bounds)
    n = inputs.shape[0]
    if n < batch_size:
        raise InputError(f"inputs must hold at least batch_size={batch_size} samples, got {n}")
    network = as_network("auto_encoder", auto_encoder)
    optimizer = nn.Adam(network.trainable_params(), learning_rate=learning_rate)
    step = train.TrainStep(network, nn.MSELoss(), optimizer)
    unused = ms.Tensor(np.zeros(1, np.int32))     # TrainStep counts hits; nothing to count

    def batch(idx, epoch, i):
        clean = inputs[idx]
        rng = np.random.default_rng([seed, epoch, i])
        noisy = clean + noise * rng.standard_normal(clean.shape).astype(np.float32)
        if bounds is not None:
            noisy = np.clip(noisy, *bounds)
        return ms.Tensor(noisy.astype(np.float32)), unused, ms.Tensor(clean)

    return train.run_epochs(step, network, n, batch_size, epochs, batch,
                            counts=(("hits", 0),), seed=seed,
                            log=log or (lambda line: None))
