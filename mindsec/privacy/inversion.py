"""Model inversion: what does the model think each class looks like?

* :class:`MIFace` — Fredrikson, Jha & Ristenpart, "Model Inversion Attacks that Exploit
  Confidence Information" (CCS 2015): optimise an input to maximise the model's confidence
  in a class. Unregularised, that gives adversarial noise; what makes the images
  recognisable is the prior: total variation, an L2 pull to the mean image, and (for the
  gradient-free variant) searching a coarse 8x8 image upsampled to the input size.
  White-box (``mode="gradient"``, needs ``PredictionAPI(..., white_box=True)``) descends
  the true gradient with Adam; ``mode="queries"`` estimates it from the API's answers
  alone (antithetic Gaussian finite differences, Ilyas et al.'s NES, 2018), every query
  counted.
"""
import numpy as np
import mindspore as ms
from mindspore import nn, ops

from ..checks import check_count, check_number
from ..errors import InputError
from .api import check_api

MODES = ("gradient", "queries")


def total_variation(x):
    """Anisotropic total variation per image of an (N, C, H, W) numpy array."""
    return (np.abs(np.diff(x, axis=2)).sum(axis=(1, 2, 3)) +
            np.abs(np.diff(x, axis=3)).sum(axis=(1, 2, 3)))


class _InversionLoss(nn.Cell):
    """Mean over the batch of -log p_target + tv * TV + l2 * ||x - prior||^2 per image."""

    def __init__(self, network, tv_weight, l2_weight):
        super().__init__(auto_prefix=False)
        self.network = network
        self.tv_weight = tv_weight
        self.l2_weight = l2_weight
        self.ce = nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction="mean")

    def construct(self, x, target, prior):
        tv = ops.abs(x[:, :, 1:, :] - x[:, :, :-1, :]).sum(axis=(1, 2, 3)) + \
            ops.abs(x[:, :, :, 1:] - x[:, :, :, :-1]).sum(axis=(1, 2, 3))
        l2 = ((x - prior) ** 2).sum(axis=(1, 2, 3))
        return self.ce(self.network(x), target) + (self.tv_weight * tv +
                                                   self.l2_weight * l2).mean()


class _InversionStep(nn.Cell):
    """One Adam step on the images (a Parameter), then a clip to the bounds."""

    def __init__(self, loss, images, lr, bounds):
        super().__init__(auto_prefix=False)
        self.loss = loss
        self.images = images
        self.optimizer = nn.Adam([images], learning_rate=lr)
        self.grad = ops.value_and_grad(self._loss, None, self.optimizer.parameters)
        self.low, self.high = bounds

    def _loss(self, target, prior):
        return self.loss(self.images, target, prior)

    def construct(self, target, prior):
        value, grads = self.grad(target, prior)
        self.optimizer(grads)
        ops.assign(self.images, ops.clamp(self.images, self.low, self.high))
        return value


class MIFace:
    """Reconstruct one representative input per target class.

    Args:
        api (PredictionAPI): the model's API (``white_box=True`` for ``mode="gradient"``;
            probabilities for ``mode="queries"``).
        input_shape (tuple): one input's shape, e.g. ``(1, 32, 32)``.
        mode (str): ``"gradient"`` or ``"queries"``. Default ``"gradient"``.
        steps (int): optimisation steps. Default 300 (gradient) / 150 (queries).
        lr (float): step size. Default 0.05.
        tv_weight (float): total-variation weight. Default 0.02.
        l2_weight (float): weight of the pull towards ``prior``. Default 0.005.
        prior (np.ndarray): the starting image and L2 anchor, e.g. the mean of the
            attacker's auxiliary images; default a constant 0.2 (dark background).
        bounds (tuple): Default (0.0, 1.0).
        samples (int): finite-difference directions per step for ``mode="queries"``
            (each costs 2 queries per class). Default 40.
        sigma (float): finite-difference step. Default 0.05.
        coarse (int): side of the coarse image searched with ``mode="queries"``.
            Default 8.
        seed (int): Default 0.
    """

    def __init__(self, api, input_shape, mode="gradient", steps=None, lr=0.05, tv_weight=0.02,
                 l2_weight=0.005, prior=None, bounds=(0.0, 1.0), samples=40, sigma=0.05,
                 coarse=8, seed=0):
        self.api = check_api(api)
        if mode not in MODES:
            raise InputError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
        if mode == "gradient" and not api.white_box:
            raise InputError("mode='gradient' needs white-box access: "
                             "PredictionAPI(network, white_box=True); or use mode='queries'")
        if mode == "queries" and api.output != "probabilities":
            raise InputError(f"mode='queries' needs an API answering probabilities, this one "
                             f"answers {api.output!r}")
        self.input_shape = tuple(input_shape)
        if len(self.input_shape) != 3:
            raise InputError(f"input_shape must be (C, H, W), got {input_shape!r}")
        self.mode = mode
        self.steps = steps if steps is not None else (300 if mode == "gradient" else 150)
        for name, value in (("steps", self.steps), ("samples", samples), ("coarse", coarse)):
            check_count(name, value)
        self.lr = check_number("lr", lr, low=0.0)
        self.tv_weight = check_number("tv_weight", tv_weight, low=0.0, low_open=False)
        self.l2_weight = check_number("l2_weight", l2_weight, low=0.0, low_open=False)
        self.sigma = check_number("sigma", sigma, low=0.0)
        self.bounds = (float(bounds[0]), float(bounds[1]))
        if prior is None:
            prior = np.full(self.input_shape, 0.2, np.float32)
        prior = np.asarray(prior, np.float32)
        if prior.shape != self.input_shape:
            raise InputError(f"prior must have shape {self.input_shape}, got {prior.shape}")
        self.prior = prior
        self.samples = samples
        self.coarse = coarse
        self.seed = seed

    def invert(self, targets, log=None):
        """One image per entry of ``targets`` (class indices). Returns float32
        (len(targets), C, H, W)."""
        targets = np.asarray(targets, np.int32).ravel()
        if targets.size == 0:
            raise InputError("targets must name at least one class")
        if self.mode == "gradient":
            return self._gradient(targets, log)
        return self._queries(targets, log)

    def _gradient(self, targets, log):
        network = self.api.network
        network.set_train(False)
        start = np.repeat(self.prior[None], len(targets), axis=0)
        images = ms.Parameter(ms.Tensor(start), name="inverted_images")
        step = _InversionStep(_InversionLoss(network, self.tv_weight, self.l2_weight), images,
                              self.lr, self.bounds)
        target, prior = ms.Tensor(targets), ms.Tensor(start)
        for i in range(self.steps):
            value = step(target, prior)
            if log and (i + 1) % max(1, self.steps // 5) == 0:
                log(f"MI-Face step {i + 1}/{self.steps}: loss {float(value.asnumpy()):.4f}")
        return images.asnumpy().astype(np.float32)

    def _render(self, coarse):
        """Coarse (N, C, c, c) -> input size by nearest-neighbour repetition."""
        _, h, w = self.input_shape
        rows = (np.arange(h) * self.coarse) // h
        cols = (np.arange(w) * self.coarse) // w
        return coarse[:, :, rows][:, :, :, cols]

    def _objective(self, images, targets):
        """-log p_target (from the API) + the image prior, per image."""
        probs = self.api.query(images.astype(np.float32))
        conf = probs[np.arange(len(targets)), targets].astype(np.float64)
        reg = self.tv_weight * total_variation(images) + \
            self.l2_weight * ((images - self.prior) ** 2).sum(axis=(1, 2, 3))
        return -np.log(conf + 1e-12) + reg

    def _queries(self, targets, log):
        rng = np.random.default_rng(self.seed)
        c = self.input_shape[0]
        n = len(targets)
        # start from the prior, block-averaged to the coarse grid
        _, h, w = self.input_shape
        coarse = self.prior.reshape(c, self.coarse, h // self.coarse, self.coarse,
                                    w // self.coarse).mean(axis=(2, 4)) \
            if h % self.coarse == 0 and w % self.coarse == 0 \
            else np.full((c, self.coarse, self.coarse), float(self.prior.mean()))
        z = np.repeat(coarse[None], n, axis=0).astype(np.float64)
        m, v = np.zeros_like(z), np.zeros_like(z)
        low, high = self.bounds
        for i in range(self.steps):
            u = rng.standard_normal((self.samples,) + z.shape)
            plus = np.clip(z[None] + self.sigma * u, low, high)
            minus = np.clip(z[None] - self.sigma * u, low, high)
            batch = np.concatenate([plus, minus]).reshape((-1,) + z.shape[1:])
            tiled = np.tile(targets, 2 * self.samples)
            f = self._objective(self._render(batch), tiled).reshape(2, self.samples, n)
            grad = ((f[0] - f[1])[..., None, None, None] * u).mean(axis=0) / (2 * self.sigma)
            m = 0.9 * m + 0.1 * grad                       # Adam on the coarse image
            v = 0.999 * v + 0.001 * grad ** 2
            mhat, vhat = m / (1 - 0.9 ** (i + 1)), v / (1 - 0.999 ** (i + 1))
            z = np.clip(z - self.lr * mhat / (np.sqrt(vhat) + 1e-8), low, high)
            if log and (i + 1) % max(1, self.steps // 5) == 0:
                value = self._objective(self._render(z), targets).mean()
                log(f"MI-Face (queries) step {i + 1}/{self.steps}: objective {value:.4f}, "
                    f"{self.api.queries} queries")
        return self._render(z).astype(np.float32)
