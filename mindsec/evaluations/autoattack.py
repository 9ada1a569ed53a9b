"""AutoAttack (Croce & Hein, ICML 2020, arXiv:2003.01690) on MindSpore: a fixed ensemble of
parameter-free attacks, each run only on the points the earlier ones left standing, so the
robust accuracy it reports is the worst case per point.

=========  ===============================================================================
version    attacks, in the order they run
=========  ===============================================================================
standard   APGD-CE (100 iterations), APGD-T (targeted DLR, 9 target classes, 100 each),
           FAB-T (9 target classes, 100 iterations each), Square (5,000 queries, p 0.8)
plus       APGD-CE and APGD-DLR (5 restarts each), APGD-T, FAB (5 restarts), FAB-T,
           Square (5 restarts of 5,000 queries); mindsec's runner keeps its kind order
           (gradient attacks, then FAB, then Square), which changes who is credited
           with a break, not the worst case
rand       APGD-CE and APGD-DLR with the gradient averaged over 20 draws (EOT), for
           randomised defenses
=========  ===============================================================================

The attacks are mindsec's :class:`~mindsec.attacks.AutoProjectedGradientDescent`,
:class:`~mindsec.attacks.FastAdaptiveBoundary` and :class:`~mindsec.attacks.SquareAttack`
(which talks to the model only through :class:`mindsec.privacy.PredictionAPI`), run by
:func:`~mindsec.evaluations.evaluate_robustness`, whose report carries the per-attack break
counts, a Clopper-Pearson interval and the sanity flags (AutoAttack's own checks among
them: a randomised model, probability outputs, zero gradients, a model in training mode,
and Square breaking points the gradient attacks left standing).
"""
import numpy as np
from mindspore import nn

from ..attacks import AutoProjectedGradientDescent, FastAdaptiveBoundary, SquareAttack
from ..attacks.norms import get_norm
from ..batching import num_classes, predict_logits
from ..checks import check_count, check_inputs, check_seed, to_class_indices
from ..errors import InputError

VERSIONS = ("standard", "plus", "rand")


class AutoAttack:
    """AutoAttack's cascade on ``network`` (see the module docstring).

    Args:
        network (nn.Cell): the model (returns logits).
        norm: ``"Linf"`` (or np.inf, "inf") or ``"L2"`` (or 2).
        eps (float): the budget, a fraction of the data range (Linf in (0, 1]).
        version (str): ``"standard"``, ``"plus"`` or ``"rand"``.
        seed (int): seed of every random draw (random starts, Square's squares).
        bounds (tuple): ``(min, max)`` of the data. Default (0, 1).
        n_iter (int): iterations of APGD and FAB. Default 100.
        n_queries (int): Square's queries per point. Default 5000.
        n_target_classes (int): targets of APGD-T and FAB-T, at most the model's classes
            minus one. Default 9 (fewer where the model has fewer classes).
        api (PredictionAPI): what Square queries (serving defenses apply); default the
            network served as is.
    """

    def __init__(self, network, norm="Linf", eps=0.3, version="standard", seed=0, *,
                 bounds=(0.0, 1.0), n_iter=100, n_queries=5000, n_target_classes=9,
                 api=None):
        if not isinstance(norm, str) or norm.lower() not in ("linf", "l2", "inf"):
            norm = get_norm(norm, allowed=("linf", "l2"), owner="AutoAttack")
        else:
            norm = get_norm(norm.lower(), allowed=("linf", "l2"), owner="AutoAttack")
        if version not in VERSIONS:
            raise InputError(f"version must be one of {', '.join(VERSIONS)}, got {version!r}")
        self._network = network
        self._norm = norm
        self._version = version
        self._seed = check_seed(seed)
        self._bounds = bounds
        self._n_iter = check_count("n_iter", n_iter)
        self._n_queries = check_count("n_queries", n_queries)
        self._n_targets = check_count("n_target_classes", n_target_classes)
        self._api = api
        self._logits = self.attacked_network
        # checks eps (and network, bounds) once, as every attack of the cascade will
        self._eps = self._make("apgd-ce", 10, eps).eps

    @property
    def network(self):
        return self._network

    @property
    def norm(self):
        return self._norm

    @property
    def eps(self):
        return self._eps

    @property
    def version(self):
        return self._version

    @property
    def seed(self):
        return self._seed

    @property
    def name(self):
        """``"AutoAttack standard (Linf, eps 0.3)"``."""
        return f"AutoAttack {self._version} ({self._norm!r}, eps {self._eps:g})"

    @property
    def attacked_network(self):
        """What the attacks differentiate and query: the network, or, where it ends in a
        softmax (``nn.SequentialCell([..., nn.Softmax()])``), the part before it (the same
        decisions; losses on logits do not saturate)."""
        net = self._network
        if isinstance(net, nn.SequentialCell) and len(net) > 1 and \
                isinstance(net[len(net) - 1], nn.Softmax):
            return nn.SequentialCell([net[i] for i in range(len(net) - 1)])
        return net

    def _make(self, which, classes, eps=None, restarts=1):
        eps = self._eps if eps is None else eps
        net, norm, seed, bounds = self._logits, self._norm, self._seed, self._bounds
        targets = min(self._n_targets, classes - 1)
        eot = 20 if self._version == "rand" else 1
        if which in ("apgd-ce", "apgd-dlr"):
            return AutoProjectedGradientDescent(
                net, eps=eps, bounds=bounds, nb_iter=self._n_iter, norm_level=norm,
                loss=which[5:], nb_restarts=restarts, eot_iter=eot, seed=seed)
        if which == "apgd-t":
            return AutoProjectedGradientDescent(
                net, eps=eps, bounds=bounds, nb_iter=self._n_iter, norm_level=norm,
                n_target_classes=targets, seed=seed)
        if which in ("fab", "fab-t"):
            return FastAdaptiveBoundary(
                net, eps=eps, norm_level=norm, n_iter=self._n_iter, n_restarts=restarts,
                n_target_classes=targets if which == "fab-t" else 0, bounds=bounds, seed=seed)
        return SquareAttack(net, eps=eps, norm_level=norm, n_queries=self._n_queries,
                            p_init=0.8, n_restarts=restarts, bounds=bounds, seed=seed,
                            api=self._api)

    def cascade(self, model=None, inputs=None):
        """The version's attacks, in order, for a model with the classes of ``network``'s
        output on ``inputs`` (one sample is enough). ``model`` must be ``network``."""
        if model is not None and model is not self._network:
            raise InputError("AutoAttack was built on another network than the model "
                             "evaluated: build it on the model")
        if inputs is None:
            raise InputError("AutoAttack.cascade needs an input sample (to count classes)")
        inputs = check_inputs(inputs, self._bounds)
        classes = num_classes(self._network, inputs[:1])
        if classes < 3:
            raise InputError(f"AutoAttack needs a model with at least 3 classes (DLR loss), "
                             f"this one has {classes}")
        if self._version == "standard":
            plan = [("apgd-ce", 1), ("apgd-t", 1), ("fab-t", 1), ("square", 1)]
        elif self._version == "plus":
            plan = [("apgd-ce", 5), ("apgd-dlr", 5), ("apgd-t", 1), ("fab", 5),
                    ("fab-t", 1), ("square", 5)]
        else:
            plan = [("apgd-ce", 1), ("apgd-dlr", 1)]
        return [self._make(which, classes, restarts=r) for which, r in plan]

    def evaluate(self, inputs, labels, eps=None, **kwargs):
        """:func:`~mindsec.evaluations.evaluate_robustness` of the network under this
        cascade at ``eps`` (default the attack's; a list gives a curve). Keyword arguments
        go to the runner (``batch_size``, ``state_dir``, ``shard``, ``log``...); the seed
        is the attack's."""
        from .robustness import evaluate_robustness  # pylint: disable=import-outside-toplevel
        eps = [self._eps] if eps is None else list(np.atleast_1d(eps))
        kwargs.setdefault("seed", self._seed)
        return evaluate_robustness(self._network, (inputs, labels), eps, self, **kwargs)

    def batch_generate(self, inputs, labels, batch_size=None):
        """Worst-case adversarial examples at ``eps``: each point gets the example of the
        first attack of the cascade that fooled the model within the ball (the input
        itself where none did). Also sets :attr:`broken_by` (per point, the attack's label,
        or "" where none broke it, "clean error" where it was misclassified already) and
        :attr:`last_run` (the attack objects, e.g. their ``stats`` and compiled ``shapes``)."""
        x = check_inputs(inputs, self._bounds)
        classes = num_classes(self._network, x[:1])
        y = to_class_indices(labels, len(x), classes)
        batch = batch_size if batch_size is None else check_count("batch_size", batch_size)
        pred = predict_logits(self._network, x, 1000).argmax(axis=1)
        out = x.copy()
        broken_by = np.where(pred != y, "clean error", "").astype(object)
        scale = self._bounds[1] - self._bounds[0]
        self.last_run = self.cascade(self._network, x)
        for attack in self.last_run:
            idx = np.flatnonzero(broken_by == "")
            if idx.size == 0:
                break
            adv = attack.generate_at(x[idx], y[idx], self._eps, batch)
            fooled = (predict_logits(self._network, adv, 1000).argmax(axis=1) != y[idx]) & \
                (self._norm.distance(adv, x[idx], scale) <= self._eps * (1 + 1e-5) + 1e-6)
            out[idx[fooled]] = adv[fooled]
            broken_by[idx[fooled]] = attack.label
        self.broken_by = broken_by
        return out


__all__ = ["AutoAttack", "VERSIONS"]
