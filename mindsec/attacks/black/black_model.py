"""The model a black-box attack queries: MindArmour's ``BlackModel`` and the counted adapter.

A MindArmour user's ``BlackModel`` subclass (``predict(inputs) -> (m, n)`` scores) works
unchanged with mindsec's black-box attacks; so do a :class:`mindsec.privacy.PredictionAPI`
(its budget binds, its serving defenses apply, it counts every image) and a plain MindSpore
network that returns logits (served by a fresh ``PredictionAPI``). The attacks never call
``predict`` one image at a time: :class:`Queries` sends a whole batch of candidates in one
call, checks the answer's shape, and counts the images asked.
"""
from abc import abstractmethod
from types import FunctionType

import numpy as np
from mindspore import nn

from ...errors import InputError


class BlackModel:
    """The target model as a black box (MindArmour's abstract base): subclasses implement
    :meth:`predict`."""

    def __init__(self):
        pass

    @abstractmethod
    def predict(self, inputs):
        """Scores ``(m, n)`` for the ``m`` inputs (numpy), ``n`` the number of classes."""
        raise NotImplementedError("predict() is abstract in BlackModel: implement it in "
                                  "the subclass")

    def is_adversarial(self, data, label, is_targeted):
        """Whether the one sample ``data`` is adversarial: classified as ``label`` when
        targeted, as anything else when not."""
        predicted = np.argmax(self.predict(np.expand_dims(data, axis=0))[0])
        if is_targeted:
            return predicted == label
        return predicted != label


class ServedModel(BlackModel):
    """A :class:`~mindsec.privacy.PredictionAPI` (or a network returning logits, served by
    a plain one) as a :class:`BlackModel`: ``predict`` answers the API's probabilities.

    Args:
        target (PredictionAPI | nn.Cell): what answers the queries. An API must answer
            probabilities (``output="probabilities"`` or ``"top_k"``).
    """

    def __init__(self, target):
        super().__init__()
        # pylint: disable=import-outside-toplevel
        from ...privacy.api import PredictionAPI   # lazy: mindsec.privacy loads sklearn
        if isinstance(target, nn.Cell):
            target = PredictionAPI(target)
        if not isinstance(target, PredictionAPI):
            raise InputError(f"ServedModel needs a mindsec.privacy.PredictionAPI or a "
                             f"mindspore.nn.Cell, got {type(target).__name__}")
        if target.output == "label":
            raise InputError("the PredictionAPI must answer probabilities (output "
                             "'probabilities' or 'top_k'), got output='label'")
        self.api = target

    @property
    def queries(self):
        """Images the API has answered in all."""
        return self.api.queries

    def predict(self, inputs):
        return self.api.query(np.ascontiguousarray(inputs, dtype=np.float32))


def as_black_model(model):
    """``model`` as something with ``predict``: a BlackModel (or any object with a
    ``predict`` method) as it is, a PredictionAPI or an ``nn.Cell`` as a
    :class:`ServedModel`; anything else is a one-line InputError."""
    # pylint: disable=import-outside-toplevel
    from ...privacy.api import PredictionAPI
    if isinstance(model, (PredictionAPI, nn.Cell)):
        return ServedModel(model)
    if isinstance(model, BlackModel) or callable(getattr(model, "predict", None)):
        return model
    raise InputError(f"model must be a BlackModel, a mindsec.privacy.PredictionAPI or a "
                     f"mindspore.nn.Cell, got {type(model).__name__}")


def checked_target_images(target_images):
    """``set_target_images``' argument (HSJA, NES): a numeric numpy array (a Tensor is read
    back), else a one-line InputError."""
    if hasattr(target_images, "asnumpy"):
        target_images = target_images.asnumpy()
    if not isinstance(target_images, np.ndarray) or \
            not np.issubdtype(target_images.dtype, np.number):
        raise InputError(f"target_images must be a numeric numpy array, got "
                         f"{type(target_images).__name__}")
    return target_images


class BudgetSpent(Exception):
    """The PredictionAPI's query budget ran out."""


class Queries:
    """Counted, batched queries to a black model, for the attacks.

    ``scores(x)`` asks the model for a whole batch in one ``predict`` call and checks the
    answer is ``(len(x), n)``; ``adversarial(x, labels, targeted)`` is MindArmour's
    ``is_adversarial`` for the batch (the argmax of the scores; a subclass that overrides
    ``is_adversarial`` is asked per sample, as its own rule may need). ``total`` counts
    the images asked. A spent PredictionAPI budget raises :class:`BudgetSpent`.
    """

    def __init__(self, model):
        self.model = as_black_model(model)
        self.total = 0
        self.num_classes = None
        own_rule = getattr(type(self.model), "is_adversarial", None)
        self._own_rule = own_rule is not None and own_rule is not BlackModel.is_adversarial \
            and not _is_mindarmour_default(own_rule)

    def scores(self, x):
        from ...privacy.api import QueryBudgetExceeded  # pylint: disable=import-outside-toplevel
        x = np.ascontiguousarray(x, dtype=np.float32)
        try:
            out = self.model.predict(x)
        except QueryBudgetExceeded as exc:
            raise BudgetSpent(str(exc)) from None
        if hasattr(out, "asnumpy"):
            out = out.asnumpy()
        out = np.asarray(out)
        if out.ndim != 2 or out.shape[0] != len(x):
            raise InputError(f"{type(self.model).__name__}.predict must return scores of "
                             f"shape ({len(x)}, num_classes) for {len(x)} inputs, got shape "
                             f"{out.shape}")
        if self.num_classes is None:
            self.num_classes = out.shape[1]
        self.total += len(x)
        return out.astype(np.float64)

    def adversarial(self, x, labels, targeted):
        """bool (m,): which of the candidates ``x`` are adversarial for ``labels``."""
        if self._own_rule:
            from ...privacy.api import QueryBudgetExceeded  # pylint: disable=C0415
            try:
                hits = np.array([bool(self.model.is_adversarial(one, lab, targeted))
                                 for one, lab in zip(x, labels)])
            except QueryBudgetExceeded as exc:
                raise BudgetSpent(str(exc)) from None
            self.total += len(x)
            return hits
        predicted = self.scores(x).argmax(axis=1)
        return predicted == labels if targeted else predicted != labels


def _is_mindarmour_default(method):
    """Whether ``method`` is MindArmour's own ``BlackModel.is_adversarial`` (the argmax
    rule, which the batched one reproduces)."""
    return isinstance(method, FunctionType) and \
        method.__qualname__ == "BlackModel.is_adversarial" and \
        str(method.__module__).startswith("mindarmour.")


class BlackBoxAttack:
    """What mindsec's MindArmour-named black-box attacks share: the counted model, the
    bounds, the targeted flag, the seed, and the checked ``(inputs, labels)`` pair.

    ``generate(inputs, labels)`` returns MindArmour's ``(is_adv, adv, query_counts)``:
    bool (N,), the examples (N, ...) float32, int64 (N,) queries made per point. After
    each call ``stats`` holds ``samples``, ``queries`` (all images this call asked, the
    label queries of ``labels=None`` included) and ``budget_exhausted``.
    """

    kind = None
    short_name = None

    def __init__(self, model, bounds, is_targeted, sparse, seed):
        # pylint: disable=import-outside-toplevel
        from ..base import AttackKind
        from ...checks import check_bounds, check_flag, check_seed
        self.kind = AttackKind.SCORE_BASED
        self._queries = Queries(model)
        self._bounds = check_bounds(bounds)
        if self._bounds is None:
            raise InputError("bounds must be a (min, max) pair, got None")
        self._is_targeted = check_flag("is_targeted", is_targeted)
        self._sparse = check_flag("sparse", sparse)
        self._seed = check_seed(seed)
        self._rng = np.random.default_rng(self._seed)
        self.name = None
        self.stats = {"samples": 0, "queries": 0, "budget_exhausted": False}

    @property
    def model(self):
        """The black model queried (a :class:`ServedModel` for an API or a network)."""
        return self._queries.model

    @property
    def bounds(self):
        return self._bounds

    @property
    def targeted(self):
        return self._is_targeted

    @property
    def seed(self):
        return self._seed

    @property
    def label(self):
        return self.name or self.short_name or type(self).__name__

    def reseed(self, seed):
        """Restart the random draws from ``seed``."""
        from ...checks import check_seed  # pylint: disable=import-outside-toplevel
        self._seed = check_seed(seed)
        self._rng = np.random.default_rng(self._seed)

    def _pair(self, inputs, labels):
        """Checked float32 inputs, int class indices (N,), and the queries spent on them
        (the model's predictions where ``labels`` is None: one per point)."""
        from ...checks import check_inputs  # pylint: disable=import-outside-toplevel
        inputs = check_inputs(inputs, self._bounds)
        n = inputs.shape[0]
        spent = np.zeros(n, np.int64)
        if labels is None:
            if self._is_targeted:
                raise InputError("labels=None is for untargeted attacks; a targeted attack "
                                 "needs its target labels")
            labels = self._queries.scores(inputs).argmax(axis=1)
            spent += 1
            return inputs, labels.astype(np.int64), spent
        labels = labels.asnumpy() if hasattr(labels, "asnumpy") else np.asarray(labels)
        if not self._sparse:
            if labels.ndim != 2:
                raise InputError(f"labels must be one-hot (N, K) with sparse=False, got "
                                 f"shape {labels.shape}")
            labels = labels.argmax(axis=1)
        if labels.ndim != 1 or labels.shape[0] != n:
            raise InputError(f"labels must be class indices of shape ({n},), got shape "
                             f"{labels.shape}")
        if not np.issubdtype(labels.dtype, np.integer):
            if not np.all(labels == np.round(labels)):
                raise InputError("labels must be integer class indices (sparse=True)")
        return inputs, labels.astype(np.int64), spent
