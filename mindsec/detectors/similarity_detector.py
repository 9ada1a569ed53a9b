"""Stateful detection of query-based black-box attacks (Chen, Carlini and Wagner, 2019).

Queries are encoded by ``trans_model``; a query whose mean distance to its ``k`` nearest
neighbours among the recent queries (the buffer) is below a threshold is flagged, and the
buffer emptied. ``fit`` sets the threshold from benign data so that a fraction ``fpr`` of
it would be flagged. Encoding runs in compiled batches; the distances are numpy (float64,
chunked by ``chunk_size`` rows).
"""
import numpy as np

from ..checks import check_count, check_flag
from ..errors import InputError
from .detector import Detector, as_network, check_rate, check_threshold, checked, predict


class SimilarityDetector(Detector):
    """Flags queries remarkably close to earlier ones.

    Args:
        trans_model (Union[Model, nn.Cell]): an encoder to a lower-dimension vector.
        max_k_neighbor (int): the most nearest neighbours. Default: 1000.
        chunk_size (int): rows of the distance matrix computed at once. Default: 1000.
        max_buffer_size (int): the buffer is emptied when it reaches this. Default: 10000.
        tuning (bool): ``fit`` returns thresholds for every k in 1..K (True) or K only.
            Default: False.
        fpr (float): false positive rate on benign queries. Default: 0.001.
    """

    def __init__(self, trans_model, max_k_neighbor=1000, chunk_size=1000,
                 max_buffer_size=10000, tuning=False, fpr=0.001):
        super().__init__()
        self._max_k_neighbor = check_count("max_k_neighbor", max_k_neighbor)
        self._trans_model = as_network("trans_model", trans_model)
        self._tuning = check_flag("tuning", tuning)
        self._chunk_size = check_count("chunk_size", chunk_size)
        self._max_buffer_size = check_count("max_buffer_size", max_buffer_size)
        self._fpr = check_rate("fpr", fpr)
        self._num_of_neighbors = None
        self._threshold = None
        self._num_queries = 0
        self._buffer = None          # (max_buffer_size, D) float64, the first _fill rows used
        self._fill = 0
        self._detected_queries = []

    def _encode(self, inputs):
        codes = predict(self._trans_model, checked(inputs))
        return codes.reshape(codes.shape[0], -1).astype(np.float64)

    def fit(self, inputs, labels=None):
        """From benign ``inputs`` (at least ``max_k_neighbor``): ``(list[int] k, list[float]
        thresholds)``, for k = 1..K with ``tuning`` else K only; the last pair is set."""
        data = checked(inputs)
        if data.shape[0] < self._max_k_neighbor:
            raise InputError(f"inputs must hold at least max_k_neighbor="
                             f"{self._max_k_neighbor} samples, got {data.shape[0]}")
        codes = self._encode(data)
        k_max = self._max_k_neighbor
        sq = (codes * codes).sum(axis=1)
        nearest = []
        for start in range(0, codes.shape[0], self._chunk_size):
            rows = codes[start:start + self._chunk_size]
            d2 = sq[start:start + self._chunk_size, None] + sq[None, :] - 2.0 * rows @ codes.T
            dist = np.sqrt(np.maximum(d2, 0.0))
            dist[np.arange(rows.shape[0]), np.arange(start, start + rows.shape[0])] = 0.0
            if k_max < dist.shape[1]:
                dist = np.partition(dist, k_max - 1, axis=1)[:, :k_max]
            nearest.append(np.sort(dist, axis=1))
        nearest = np.concatenate(nearest)
        means = np.cumsum(nearest, axis=1) / np.arange(1, k_max + 1)   # mean of the first k
        index = min(int(nearest.shape[0] * self._fpr), nearest.shape[0] - 1)
        ks = list(range(1 if self._tuning else k_max, k_max + 1))
        thresholds = [float(np.sort(means[:, k - 1])[index]) for k in ks]
        self._num_of_neighbors, self._threshold = ks[-1], thresholds[-1]
        return ks, thresholds

    def detect(self, inputs):
        """Process the query sequence ``inputs`` in order (the buffer carries over between
        calls); the flagged queries' numbers go to :meth:`get_detected_queries`."""
        if self._threshold is None or self._num_of_neighbors is None:
            raise InputError("SimilarityDetector has no threshold yet: call fit() on benign "
                             "inputs or set_threshold() before detect()")
        for query in self._encode(inputs):
            self._process_query(query)

    def _process_query(self, query):
        if self._buffer is None or self._buffer.shape[1] != query.shape[0]:
            self._buffer = np.empty((self._max_buffer_size, query.shape[0]), np.float64)
            self._fill = 0
        k = self._num_of_neighbors
        if self._fill < k:
            self._append(query)
            return
        dists = np.linalg.norm(self._buffer[:self._fill] - query, axis=1)
        k_avg = np.partition(dists, k - 1)[:k].mean()
        self._append(query)
        if self._fill >= self._max_buffer_size:
            self.clear_buffer()
        if k_avg < self._threshold:
            self._detected_queries.append(self._num_queries)
            self.clear_buffer()

    def _append(self, query):
        self._buffer[self._fill] = query
        self._fill += 1
        self._num_queries += 1

    def clear_buffer(self):
        """Empty the buffer of recent queries."""
        self._fill = 0

    def set_threshold(self, num_of_neighbors, threshold):
        """Set k and the threshold."""
        self._num_of_neighbors = check_count("num_of_neighbors", num_of_neighbors)
        self._threshold = check_threshold(threshold)

    def get_detection_interval(self):
        """``list[int]``: the number of queries between adjacent detections."""
        q = self._detected_queries
        return [q[i + 1] - q[i] for i in range(len(q) - 1)]

    def get_detected_queries(self):
        """``list[int]``: the sequence numbers (1-based) of the flagged queries."""
        return self._detected_queries

    def detect_diff(self, inputs):
        raise NotImplementedError("detect_diff() is not available in the class "
                                  "`SimilarityDetector`")

    def transform(self, inputs):
        raise NotImplementedError("transform() is not available in the class "
                                  "`SimilarityDetector`")
