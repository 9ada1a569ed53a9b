"""Region-based classification (Cao and Gong, ACSAC 2017): an input's region label is the
majority vote of the model over ``number_points`` points drawn uniformly from the hypercube
of radius ``r`` around it; where it differs from the model's label, the input is flagged.

One compiled cell per batch draws the points of every input of the batch at once on the
device (``ops.UniformReal``), clips them to [0, 1] as MindArmour does, runs the model on all
of them and counts the votes; ties go to the smallest class (``argmax`` of the counts).
The draws are seeded from ``numpy.random`` (MindArmour's source of randomness) when the
cell is built, so ``np.random.seed`` makes a run repeatable.
"""
import numpy as np
import mindspore as ms
from mindspore import nn, ops

from ..attacks.base import auto_batch_size
from ..batching import pad_to, padded_batches
from ..checks import check_count, check_flag, check_number, to_class_indices
from ..errors import InputError
from .detector import Detector, as_network, checked, predict


class _RegionVote(nn.Cell):
    """``(x (B, ...), radius) -> (region label (B,), the points (B, P, ...))``."""

    def __init__(self, network, number_points, num_classes, seeds):
        super().__init__(auto_prefix=False)
        self.network = network
        self.points = number_points
        self.classes = num_classes
        self.uniform = ops.UniformReal(seed=seeds[0], seed2=seeds[1])

    def construct(self, x, radius):
        shape = x.shape
        tiled = ops.broadcast_to(x.expand_dims(1), (shape[0], self.points) + shape[1:])
        noise = self.uniform((shape[0], self.points) + shape[1:]) * 2.0 - 1.0
        cube = ops.clip_by_value(tiled + radius * noise, 0.0, 1.0)
        logits = self.network(cube.reshape((shape[0] * self.points,) + shape[1:]))
        votes = ops.one_hot(logits.argmax(axis=1).astype(ms.int32), self.classes,
                            ops.ones((), ms.float32), ops.zeros((), ms.float32))
        counts = votes.reshape(shape[0], self.points, self.classes).sum(axis=1)
        return counts.argmax(axis=1).astype(ms.int32), cube


class RegionBasedDetector(Detector):
    """Flags inputs whose region-based label differs from the model's label.

    Args:
        model (Union[Model, nn.Cell]): the target model (returns logits).
        number_points (int): points drawn from each input's hypercube. Default: 10.
        initial_radius (float): the radius search's start. Default: 0.0.
        max_radius (float): the radius search's end. Default: 1.0.
        search_step (float): the radius search's step. Default: 0.01.
        degrade_limit (float): the accuracy drop on benign inputs ``fit`` accepts.
            Default: 0.0.
        sparse (bool): ``fit``'s labels are class indices (True) or one-hot (False).
            Default: False.

    Each coordinate of a point is drawn uniformly in ``[x - r, x + r]`` (the paper's
    hypercube); the data are taken to lie in [0, 1].
    """

    def __init__(self, model, number_points=10, initial_radius=0.0, max_radius=1.0,
                 search_step=0.01, degrade_limit=0.0, sparse=False):
        super().__init__()
        self._model = as_network("model", model)
        self._number_points = check_count("number_points", number_points)
        self._initial_radius = check_number("initial_radius", initial_radius, low=0.0,
                                            low_open=False)
        self._max_radius = check_number("max_radius", max_radius, low=0.0)
        if self._max_radius < self._initial_radius:
            raise InputError(f"max_radius must be >= initial_radius={self._initial_radius}, "
                             f"got {self._max_radius}")
        self._search_step = check_number("search_step", search_step, low=0.0)
        self._degrade_limit = check_number("degrade_limit", degrade_limit, low=0.0,
                                           low_open=False)
        self._sparse = check_flag("sparse", sparse)
        self._radius = None
        self._cells = {}

    def set_radius(self, radius):
        """Set the hypercube radius (in [initial_radius, max_radius])."""
        self._radius = check_number("radius", radius, low=self._initial_radius,
                                    high=self._max_radius, low_open=False)

    def fit(self, inputs, labels=None):
        """Search the radius from ``initial_radius`` up in ``search_step`` steps while the
        region-based accuracy on benign ``inputs`` stays within ``degrade_limit`` of the
        model's; set and return the last radius that did (float)."""
        inputs = checked(inputs)
        if labels is None:
            raise InputError("labels must be given to fit a RegionBasedDetector (the true "
                             "classes of the benign inputs)")
        labels = self._labels(labels, inputs.shape[0])
        raw_acc = float(np.mean(predict(self._model, inputs).argmax(axis=1) == labels))
        iters = int(np.round((self._max_radius - self._initial_radius) / self._search_step))
        radius = self._initial_radius
        for _ in range(iters):
            region_acc = float(np.mean(self._region(inputs, radius)[0] == labels))
            if region_acc < raw_acc - self._degrade_limit:
                break
            radius += self._search_step
        self._radius = float(max(radius - self._search_step, self._initial_radius))
        return self._radius

    def _labels(self, labels, n):
        arr = labels.asnumpy() if hasattr(labels, "asnumpy") else np.asarray(labels)
        if self._sparse and arr.ndim != 1:
            raise InputError(f"labels must be class indices (N,) with sparse=True, got shape "
                             f"{arr.shape}")
        if not self._sparse and arr.ndim != 2:
            raise InputError(f"labels must be one-hot (N, K) with sparse=False, got shape "
                             f"{arr.shape}; pass sparse=True for class indices")
        return to_class_indices(arr, n)

    def _need_radius(self):
        if self._radius is None:
            raise InputError("RegionBasedDetector has no radius yet: call fit() on benign "
                             "inputs and labels or set_radius() first")

    def _region(self, inputs, radius, keep_points=False):
        """Region labels (int32 (N,)) and, with ``keep_points``, the points (N, P, ...)."""
        points = self._number_points
        batch = max(1, auto_batch_size(inputs.shape[1:]) // points)
        batch = min(batch, inputs.shape[0])
        key = (inputs.shape[1:], batch)
        if key not in self._cells:
            k = predict(self._model, inputs[:1]).shape[1]
            seeds = np.random.randint(1, 2**31 - 1, size=2)
            self._cells[key] = _RegionVote(self._model, points, k, (int(seeds[0]),
                                                                    int(seeds[1])))
        cell = self._cells[key]
        r = ms.Tensor(np.float32(radius))
        tags = np.empty(inputs.shape[0], np.int32)
        cubes = np.empty((inputs.shape[0], points) + inputs.shape[1:], np.float32) \
            if keep_points else None
        for start, stop in padded_batches(inputs.shape[0], batch):
            tag, cube = cell(ms.Tensor(pad_to(inputs[start:stop], batch)), r)
            tags[start:stop] = tag.asnumpy()[: stop - start]
            if keep_points:
                cubes[start:stop] = cube.asnumpy()[: stop - start]
        return tags, cubes

    def detect(self, inputs):
        """``list[int]``: 1 where the region label differs from the model's label."""
        self._need_radius()
        raw, region = self.detect_diff(inputs)
        return [int(v) for v in raw.argmax(axis=1) != region]

    def detect_diff(self, inputs):
        """``(the model's outputs (N, K), the region labels (N,))``."""
        self._need_radius()
        inputs = checked(inputs)
        return predict(self._model, inputs), self._region(inputs, self._radius)[0]

    def transform(self, inputs):
        """The hypercube points of each input (float32 (N, number_points, ...))."""
        self._need_radius()
        inputs = checked(inputs)
        return self._region(inputs, self._radius, keep_points=True)[1]
