"""Spatial smoothing (feature squeezing, Xu et al. 2018): the target model's outputs on an
input and on its median-filtered copy; a large distance between them flags it.

The median filter runs on the device in one compiled cell: the edges are padded as
``scipy.ndimage`` 'reflect' does (the edge sample repeated), the ``ksize * ksize`` shifted
copies stacked and sorted, the middle one taken (the upper middle for an even window, as
scipy does). It filters each image over its last two (spatial) axes, each channel apart;
inputs (N, D) are filtered along D.
"""
from functools import lru_cache

import numpy as np
import mindspore as ms
from mindspore import nn, ops

from ..checks import check_count, check_flag
from ..errors import InputError
from .detector import (Detector, as_network, check_rate, check_threshold, checked, flags,
                       need_fit, predict)

_METRICS = ("l1", "l2")


def _reflect_index(size, k):
    """Indices into an axis of ``size`` padded by ``k // 2`` before and ``k - 1 - k // 2``
    after, mirrored with the edge repeated (scipy's 'reflect', numpy's 'symmetric')."""
    before, after = k // 2, k - 1 - k // 2
    return np.pad(np.arange(size), (before, after), mode="symmetric").astype(np.int32)


class _MedianFilter(nn.Cell):
    """Median over a ``k`` x ``k`` window of the last two axes (``k`` along the last axis
    only with ``two_d=False``)."""

    def __init__(self, shape, k, two_d):
        super().__init__()
        self.k = k
        self.two_d = two_d
        self.w_index = ms.Tensor(_reflect_index(shape[-1], k))
        self.width = shape[-1]
        if two_d:
            self.h_index = ms.Tensor(_reflect_index(shape[-2], k))
            self.height = shape[-2]
        self.rank = (k * k if two_d else k) // 2

    def construct(self, x):
        rank = x.ndim
        padded = ops.gather(x, self.w_index, rank - 1)
        shifts = []
        if self.two_d:
            padded = ops.gather(padded, self.h_index, rank - 2)
            for i in range(self.k):
                for j in range(self.k):
                    shifts.append(padded[..., i:i + self.height, j:j + self.width])
        else:
            for j in range(self.k):
                shifts.append(padded[..., j:j + self.width])
        window = ops.stack(shifts, axis=-1)
        ordered, _ = ops.sort(window, axis=-1)
        return ordered[..., self.rank]


def median_filter(inputs, ksize=3):
    """Median-filter each sample of numpy ``inputs`` over its last two axes (its last axis
    for (N, D)), on the device; float32 of the same shape."""
    inputs = checked(inputs)
    ksize = check_count("ksize", ksize)
    return predict(_filter_cell(inputs.shape[1:], ksize), inputs)


@lru_cache(maxsize=16)
def _filter_cell(sample_shape, ksize):
    """One compiled filter per sample shape and window, reused by every call."""
    return _MedianFilter(sample_shape, ksize, len(sample_shape) >= 2)


class SpatialSmoothing(Detector):
    """Flags inputs on which the model's output moves far under a median filter.

    Args:
        model (Union[Model, nn.Cell]): the target model.
        ksize (int): the filter window. Default: 3.
        is_local_smooth (bool): kept for MindArmour's signature (unused there too).
            Default: True.
        metric (str): the distance between the outputs, 'l1' or 'l2'. Default: 'l1'.
        false_positive_ratio (float): fraction of benign inputs ``fit`` flags at most.
            Default: 0.05.
    """

    def __init__(self, model, ksize=3, is_local_smooth=True, metric="l1",
                 false_positive_ratio=0.05):
        super().__init__()
        self._ksize = check_count("ksize", ksize)
        self._is_local_smooth = check_flag("is_local_smooth", is_local_smooth)
        self._model = as_network("model", model)
        if metric not in _METRICS:
            raise InputError(f"metric must be one of {', '.join(_METRICS)}, got {metric!r}")
        self._metric = metric
        self._fpr = check_rate("false_positive_ratio", false_positive_ratio)
        self._threshold = None

    def fit(self, inputs, labels=None):
        """Set and return the threshold (np.float32): the distance at the
        ``int(N * (1 - false_positive_ratio))``-th place of the sorted benign distances."""
        dist = np.sort(self.detect_diff(inputs))
        index = min(int(len(dist) * (1 - self._fpr)), len(dist) - 1)
        self._threshold = dist[index]
        return self._threshold

    def detect(self, inputs):
        """``list[int]``: 1 where the distance exceeds the threshold."""
        need_fit(self._threshold, type(self).__name__)
        return flags(self.detect_diff(inputs), self._threshold)

    def detect_diff(self, inputs):
        """The l1 (or l2) distance between the model's outputs on each input and on its
        smoothed copy (float32 (N,))."""
        inputs = checked(inputs)
        raw = predict(self._model, inputs)
        smooth = predict(self._model, self.transform(inputs))
        return np.linalg.norm(smooth - raw, ord=1 if self._metric == "l1" else 2,
                              axis=1).astype(np.float32)

    def transform(self, inputs):
        """The median-filtered inputs (see :func:`median_filter`)."""
        return median_filter(inputs, self._ksize)

    def set_threshold(self, threshold):
        """Set the detection threshold (> 0)."""
        self._threshold = check_threshold(threshold)
