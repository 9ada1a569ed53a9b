"""The threat model in code: a trained classifier served behind a prediction API.

Every privacy attack in :mod:`mindsec.privacy` talks only to a :class:`PredictionAPI`, so
the number of queries it reports is the number it made, and the API's own defenses
(rounding, top-k, labels only) change what every attack sees.
"""
import numpy as np
from scipy.special import expit, softmax

from ..batching import num_classes, predict_logits
from ..checks import check_count
from ..errors import InputError

OUTPUTS = ("probabilities", "top_k", "label")


class QueryBudgetExceeded(InputError):
    """A query would take the API past its budget."""


class PredictionAPI:
    """Answers batches of queries from ``network`` and counts them.

    Args:
        network (nn.Cell): returns logits (N, K); K == 1 is a binary model whose single
            logit is passed through a sigmoid (the API then answers two columns).
        output (str): ``"probabilities"`` (the full vector), ``"top_k"`` (the ``top_k``
            largest probabilities, the others reported as 0) or ``"label"`` (the predicted
            class index only). Default ``"probabilities"``.
        top_k (int): entries kept with ``output="top_k"``. Default 1.
        decimals (int): round the probabilities to this many decimals (a common serving
            defense); ``None`` answers full float32. Default None.
        budget (int): most queries (images) the API answers in all; ``None`` for no limit.
        batch_size (int): how many queries the network scores at once. Default 1000.
        white_box (bool): the attacker also holds the network itself (its gradients), as
            in white-box model inversion; ``network`` is then reachable through
            :attr:`network`. Default False (black box: only :meth:`query`).

    ``queries`` counts every image answered; ``calls`` counts requests.
    """

    def __init__(self, network, output="probabilities", top_k=1, decimals=None,
                 budget=None, batch_size=1000, white_box=False):
        if output not in OUTPUTS:
            raise InputError(f"output must be one of {', '.join(OUTPUTS)}, got {output!r}")
        for name, value in (("top_k", top_k), ("budget", budget), ("batch_size", batch_size)):
            check_count(name, value, allow_none=True)
        if decimals is not None and (isinstance(decimals, bool) or not isinstance(decimals, int)
                                     or not 0 <= decimals <= 8):
            raise InputError(f"decimals must be an integer in [0, 8] or None, got {decimals!r}")
        self._network = network
        self.white_box = bool(white_box)
        self.output = output
        self.top_k = top_k
        self.decimals = decimals
        self.budget = budget
        self.batch_size = batch_size
        self.queries = 0
        self.calls = 0
        self._sample_shape = None
        self._classes = None
        self._binary = None

    @property
    def network(self):
        """The served network, for white-box attacks only."""
        if not self.white_box:
            raise InputError("this API is black-box: create it with white_box=True to give "
                             "attacks the network's gradients")
        return self._network

    @property
    def binary(self):
        """True when the served model has one logit (answered as two probabilities)."""
        return self._binary

    @property
    def num_classes(self):
        """Classes the API answers for (known after the first query)."""
        return self._classes

    def serves(self, network):
        """Whether this API answers queries from ``network`` (that very cell)."""
        return network is self._network

    def remaining(self):
        """Queries left in the budget (``None``: unlimited)."""
        return None if self.budget is None else self.budget - self.queries

    def _check(self, inputs):
        if not isinstance(inputs, np.ndarray) or inputs.ndim < 2:
            raise InputError(f"queries must be a numpy array (N, ...), got "
                             f"{type(inputs).__name__} {getattr(inputs, 'shape', '')}")
        if inputs.dtype != np.float32:
            raise InputError(f"queries must be float32, got {inputs.dtype}")
        if len(inputs) == 0:
            raise InputError(f"queries must hold at least one input, got shape {inputs.shape}")
        if not np.all(np.isfinite(inputs)):
            raise InputError("queries contain NaN or infinite values")
        if self._sample_shape is None:
            classes = num_classes(self._network, inputs[:1])
            self._classes = 2 if classes == 1 else classes
            self._binary = classes == 1
            self._sample_shape = inputs.shape[1:]
        elif inputs.shape[1:] != self._sample_shape:
            raise InputError(f"queries must have shape (N, "
                             f"{', '.join(map(str, self._sample_shape))}), got {inputs.shape}")
        if self.budget is not None and self.queries + len(inputs) > self.budget:
            raise QueryBudgetExceeded(
                f"query budget exceeded: {len(inputs)} queries asked, "
                f"{self.budget - self.queries} of {self.budget} left")

    def query(self, inputs):
        """Answer ``inputs`` (float32 (N, ...)): probabilities (N, K) float32 for
        ``"probabilities"`` and ``"top_k"`` (zeros outside the top k), class indices (N,)
        int64 for ``"label"``."""
        self._check(inputs)
        logits = predict_logits(self._network, inputs, self.batch_size).astype(np.float64)
        self.queries += len(inputs)
        self.calls += 1
        if logits.shape[1] == 1:
            p = expit(logits[:, 0])
            probs = np.stack([1.0 - p, p], axis=1)
        else:
            probs = softmax(logits, axis=1)
        if self.output == "label":
            return probs.argmax(axis=1)
        probs = probs.astype(np.float32)
        if self.output == "top_k" and self.top_k < probs.shape[1]:
            drop = np.argsort(-probs, axis=1, kind="stable")[:, self.top_k:]
            np.put_along_axis(probs, drop, 0.0, axis=1)
        if self.decimals is not None:
            probs = np.round(probs, self.decimals)
        return probs

    def __repr__(self):
        defense = f", decimals={self.decimals}" if self.decimals is not None else ""
        top = f", top_k={self.top_k}" if self.output == "top_k" else ""
        return (f"PredictionAPI(output={self.output!r}{top}{defense}, queries={self.queries}"
                f"{'' if self.budget is None else f'/{self.budget}'})")


def check_records(name, records, minimum=1, what="records"):
    """``records`` (an array, or an ``(inputs, labels)`` pair) holds at least ``minimum``
    entries; returns how many it holds."""
    if isinstance(records, tuple):
        if len(records) != 2:
            raise InputError(f"{name} must be an (inputs, labels) pair, got a tuple of "
                             f"{len(records)}")
        if len(records[0]) != len(records[1]):
            raise InputError(f"{name}: {len(records[0])} inputs but {len(records[1])} labels")
        records = records[0]
    if not hasattr(records, "__len__"):
        raise InputError(f"{name} must be an array of {what}, got {type(records).__name__}")
    if len(records) < minimum:
        raise InputError(f"{name} must hold at least {minimum} {what}, got {len(records)}")
    return len(records)


def check_api(api):
    if not isinstance(api, PredictionAPI):
        raise InputError(f"api must be a mindsec.privacy.PredictionAPI, got "
                         f"{type(api).__name__}")
    return api


