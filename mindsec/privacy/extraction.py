"""Model extraction: stealing a model through its prediction API.

* :class:`EquationSolvingExtraction` — Tramer et al., "Stealing Machine Learning Models via
  Prediction APIs" (USENIX Security 2016): a (multinomial) logistic regression served with
  confidences is a set of linear equations in its parameters, ``log p_k - mean_j log p_j
  = w~_k . x + b~_k``; d+1 well-chosen queries determine them.
* :class:`KnockoffExtraction` — learning-based extraction of any classifier (Papernot et
  al. 2017; Orekondy et al., "Knockoff Nets", CVPR 2019): label the attacker's own images
  through the API and train a substitute on the answers (the probabilities as soft targets,
  or the labels alone).
"""
from dataclasses import dataclass

import numpy as np
import mindspore as ms
from mindspore import nn

from .. import train
from ..checks import check_count, check_number
from ..batching import predict_logits
from ..errors import InputError
from .api import check_api, check_records


@dataclass
class ExtractedLinear:
    """Recovered parameters of a linear softmax model. For a binary (one-logit) model,
    ``weights`` (1, d) and ``bias`` (1,) are the logit's own; for K classes they are
    centred over the classes (a softmax model is identifiable only up to a shift shared by
    all classes)."""
    weights: np.ndarray
    bias: np.ndarray
    queries: int
    binary: bool

    def logits(self, inputs):
        return inputs.reshape(len(inputs), -1).astype(np.float64) @ self.weights.T + self.bias


def centred(weights, bias):
    """``(W - mean_k W_k, b - mean_k b_k)``: the identifiable form of a softmax model."""
    weights, bias = np.asarray(weights, np.float64), np.asarray(bias, np.float64)
    return weights - weights.mean(axis=0), bias - bias.mean()


def parameter_error(extracted, weights, bias):
    """Max relative parameter error: ``max |theta_hat - theta| / max |theta|`` over all
    weights and biases, in the identifiable form (centred for K > 1 classes)."""
    weights, bias = np.asarray(weights, np.float64), np.asarray(bias, np.float64)
    if weights.ndim == 1:
        weights, bias = weights[None], np.atleast_1d(bias)
    if not extracted.binary:
        weights, bias = centred(weights, bias)
    true = np.concatenate([weights.ravel(), bias.ravel()])
    got = np.concatenate([extracted.weights.ravel(), extracted.bias.ravel()])
    if got.shape != true.shape:
        raise InputError(f"extracted parameters have {got.size} values, the reference "
                         f"{true.size}")
    return float(np.abs(got - true).max() / np.abs(true).max())


class EquationSolvingExtraction:
    """Recover a logistic / softmax regression from the confidences of its API.

    Args:
        api (PredictionAPI): serving the model with ``output="probabilities"``.
        input_shape (tuple): shape of one query (e.g. ``(784,)`` or ``(1, 28, 28)``).
        scale (float): size of each query's step away from the origin. Default 1.0.
        design (str): ``"basis"`` — the origin and ``scale`` times each unit vector (d+1
            queries, the best-conditioned system; each weight is one finite difference) —
            or ``"random"`` — Gaussian queries of standard deviation ``scale`` solved by least
            squares (Tramer's setting). Default ``"basis"``.
        seed (int): for the random design. Default 0.
    """

    def __init__(self, api, input_shape, scale=1.0, design="basis", seed=0):
        self.api = check_api(api)
        if api.output != "probabilities":
            raise InputError(f"equation solving needs an API answering probabilities, this "
                             f"one answers {api.output!r}")
        if not isinstance(input_shape, (tuple, list)) or not input_shape or \
                not all(isinstance(v, int) and v > 0 for v in input_shape):
            raise InputError(f"input_shape must be a tuple of positive integers, got "
                             f"{input_shape!r}")
        if design not in ("basis", "random"):
            raise InputError(f"design must be 'basis' or 'random', got {design!r}")
        self.input_shape = tuple(input_shape)
        self.num_features = int(np.prod(input_shape))
        self.scale = check_number("scale", scale, low=0.0)
        self.design = design
        self.seed = seed

    def queries_needed(self, queries=None):
        return self.num_features + 1 if queries is None else queries

    def _design(self, m):
        d = self.num_features
        if self.design == "basis":
            if m != d + 1:
                raise InputError(f"the basis design uses exactly d+1 = {d + 1} queries, "
                                 f"got queries={m}")
            return np.vstack([np.zeros((1, d)), self.scale * np.eye(d)])
        return self.scale * np.random.default_rng(self.seed).standard_normal((m, d))

    def extract(self, queries=None):
        """Query the API ``queries`` times (default d+1) and solve. Returns
        :class:`ExtractedLinear`."""
        d = self.num_features
        m = self.queries_needed(queries)
        if isinstance(m, bool) or not isinstance(m, int) or m < d + 1:
            raise InputError(f"queries must be an integer >= d+1 = {d + 1}, got {queries!r}")
        x = self._design(m)
        probs = self.api.query(x.astype(np.float32).reshape((m,) + self.input_shape))
        probs = probs.astype(np.float64)
        if self.api.decimals is not None:        # a rounded 0 or 1: half a rounding step
            floor = 0.5 * 10.0 ** -self.api.decimals
            probs = np.clip(probs, floor, 1.0 - floor)
        elif np.any(probs <= 0.0):
            raise InputError("the API answered probabilities of exactly 0 (saturated); use a "
                             "smaller scale")
        log_p = np.log(probs)
        if self.api.binary:                       # the logit itself: log(p1 / p0)
            target = (log_p[:, 1] - log_p[:, 0])[:, None]
        else:
            target = log_p - log_p.mean(axis=1, keepdims=True)
        if self.design == "basis":
            bias = target[0]
            weights = (target[1:] - target[0]) / self.scale
            weights = weights.T
        else:
            design = np.hstack([x, np.ones((m, 1))])
            theta, *_ = np.linalg.lstsq(design, target, rcond=None)
            weights, bias = theta[:-1].T, theta[-1]
        return ExtractedLinear(weights=weights, bias=np.asarray(bias), queries=m,
                               binary=bool(self.api.binary))


def agreement(victim, substitute, inputs, batch_size=1000):
    """Fidelity: the fraction of ``inputs`` on which the two networks predict the same
    class (an evaluation, not an attack: the victim is called directly, not queried)."""
    a = predict_logits(victim, inputs, batch_size).argmax(axis=1)
    b = predict_logits(substitute, inputs, batch_size).argmax(axis=1)
    return float(np.mean(a == b))


class KnockoffExtraction:
    """Train ``substitute`` to imitate the model behind ``api`` from the attacker's images.

    Args:
        api (PredictionAPI): any output kind; probabilities (full or top-k, renormalised)
            are soft targets, labels are hard targets.
        substitute (nn.Cell): the attacker's network (returns logits), trained in place.
        lr (float): Adam's peak learning rate, decayed on a cosine to 0. Default 2e-3.
        batch_size (int): Default 128.
        epochs (int): passes over the answered queries. Default 10.
        seed (int): shuffling seed. Default 0.
    """

    def __init__(self, api, substitute, lr=2e-3, batch_size=128, epochs=10, seed=0):
        self.api = check_api(api)
        if not isinstance(substitute, nn.Cell):
            raise InputError(f"substitute must be a mindspore.nn.Cell, got "
                             f"{type(substitute).__name__}")
        for name, value in (("batch_size", batch_size), ("epochs", epochs)):
            check_count(name, value)
        self.substitute = substitute
        self.recipe = train.Recipe("knockoff", "adam", lr=check_number("lr", lr, low=0.0),
                                   batch_size=batch_size, epochs=epochs, schedule="cosine")
        self.seed = seed
        self.answers = None

    def targets(self, answers):
        """(class indices, loss targets) from the API's answers."""
        if self.api.output == "label":
            idx = answers.astype(np.int32)
            return idx, idx
        soft = answers.astype(np.float32)
        total = soft.sum(axis=1, keepdims=True)
        soft = np.where(total > 0, soft / np.maximum(total, 1e-12), 1.0 / soft.shape[1])
        return soft.argmax(axis=1).astype(np.int32), soft.astype(np.float32)

    def extract(self, inputs, eval_data=None, log=print):
        """Query the API once on ``inputs`` (float32, the attacker's images; each counts
        against the budget) and train the substitute on the answers. ``eval_data``:
        ``(x, victim_predictions)`` scored after each epoch (agreement). Returns the
        per-epoch history."""
        n = check_records("inputs (the attacker's images)", inputs,
                          minimum=self.recipe.batch_size,
                          what=f"images (one batch, batch_size={self.recipe.batch_size})")
        answers = self.api.query(inputs)
        self.answers = answers
        y_idx, y_loss = self.targets(answers)
        steps = n // self.recipe.batch_size
        optimizer = train.make_optimizer(self.substitute, self.recipe, steps)
        loss = nn.SoftmaxCrossEntropyWithLogits(sparse=self.api.output == "label",
                                                reduction="mean")
        step = train.TrainStep(self.substitute, loss, optimizer)

        def batch(idx, epoch, i):   # pylint: disable=unused-argument
            return ms.Tensor(inputs[idx]), ms.Tensor(y_idx[idx]), ms.Tensor(y_loss[idx])

        return train.run_epochs(step, self.substitute, n, self.recipe.batch_size,
                                self.recipe.epochs, batch,
                                counts=(("train_acc", self.recipe.batch_size),),
                                seed=self.seed, eval_data=eval_data, log=log)
