"""Iterative gradient attacks: BIM, PGD (Linf, L2 and L1, random start, restarts) and MIM.

Same classes, arguments and defaults as MindArmour's
``mindarmour.adv_robustness.attacks.iterative_gradient_method`` (``eps=0.3``,
``eps_iter=0.1``, ``nb_iter=5``, ``bounds=(0.0, 1.0)``, budgets as fractions of the data
range). With ``r = hi - lo`` and ``P`` the projection onto the eps-ball around ``x`` (Linf:
clip each pixel to ``x +- eps*r``; L2: shrink ``x_t - x`` to norm ``eps*r``) followed by a
clip to the bounds, each iteration is

* BIM (Kurakin et al., 2017, arXiv:1607.02533): ``x_t+1 = P(x_t + eps_iter*r*sign(g))``;
* PGD (Madry et al., 2018, arXiv:1706.06083): the same with ``sign(g)`` (Linf) or
  ``g/||g||_2`` (L2), from a random start in the ball, best of ``nb_restarts`` runs;
* MIM (Dong et al., 2018, arXiv:1710.06081): ``m_t+1 = decay*m_t + g/||g||``,
  ``x_t+1 = P(x_t + eps_iter*r*sign(m_t+1))``,

``g`` the loss's input gradient (negated for targeted attacks). The step is
:class:`mindsec.attacks.core.AscentStep` (gradient, update, projection, clip), compiled once
and reused for every iteration, batch and eps; the loop issues device calls only, with no
host round trip, and the last batch is padded to a fixed shape.

Differences from MindArmour, each deliberate: the cancellation-free loss (see
:mod:`mindsec.attacks.losses`; ``stable_loss=False`` restores plain cross-entropy); PGD
starts at a random point of the ball (``rand_init=False`` gives MindArmour's start at
``x``); the L2 projection is onto the L2 ball (MindArmour clips each pixel to ``+-eps``
there, which is an Linf box); targeted PGD descends the loss (MindArmour's PGD ignores
``is_targeted``); ``generate(inputs, labels=None)`` attacks the model's own predictions
(no label leaking when used for training).
"""
import numpy as np
import mindspore as ms
from mindspore import nn, ops

from ..checks import check_count, check_flag, check_number, check_seed
from ..errors import InputError
from .base import Attack, AttackKind
from .core import AscentSettings, AscentStep
from .losses import build_loss
from .norms import LINF, get_norm


class _Judge(nn.Cell):
    """(x, y) -> per-sample 1.0 where the attack succeeded (misclassified, or classified as
    the target)."""

    def __init__(self, network, targeted):
        super().__init__(auto_prefix=False)
        self.network = network
        self.targeted = targeted

    @ms.jit
    def construct(self, x, y):
        hit = self.network(x).argmax(axis=-1).astype(ms.int32) == y
        return hit if self.targeted else ops.logical_not(hit)


class IterativeGradientMethod(AscentSettings, Attack):
    """Base of the iterative attacks (MindArmour's ``IterativeGradientMethod``).

    Args:
        network (nn.Cell): the model: returns logits, or (``loss_fn=None``) the loss of
            ``(inputs, labels)``.
        eps (float): perturbation budget as a fraction of the data range, in (0, 1] for
            Linf (an L2 budget may exceed 1). Default 0.3.
        eps_iter (float): step per iteration, same unit, > 0. Default 0.1.
        bounds (tuple): ``(min, max)`` of the data. None: no clipping, eps in data units.
        nb_iter (int): iterations. Default 5.
        loss_fn (nn.Cell): as :class:`~mindsec.attacks.FastGradientSignMethod`.
        is_targeted (bool): labels are targets. Default False.
        stable_loss (bool): cancellation-free cross-entropy (default) or ``loss_fn`` as is.
        seed (int): seed of the random start. Default: drawn from ``np.random``.
    """
    _norm = LINF                # the ball; each step is its steepest direction
    _decay = None               # momentum (MIM)
    _momentum_norm = LINF       # what the gradient is normalised by before the momentum
    _rand_init = False
    _nb_restarts = 1
    kind = AttackKind.ITERATIVE
    short_name = "BIM"
    _tuple_inputs = True        # MindArmour's multi-input form (loss_fn=None)

    def __init__(self, network, eps=0.3, eps_iter=0.1, bounds=(0.0, 1.0), nb_iter=5,
                 loss_fn=None, *, is_targeted=False, stable_loss=True, seed=None):
        super().__init__(network, bounds)
        self._eps = self._checked_eps(eps)
        self._eps_iter = check_number("eps_iter", eps_iter, low=0.0)
        self._nb_iter = check_count("nb_iter", nb_iter)
        self._is_targeted = check_flag("is_targeted", is_targeted)
        self._seed = check_seed(seed)
        self._rng = np.random.default_rng(self._seed)
        self._logits_net, self._loss_cell, self._label_mode = build_loss(network, loss_fn,
                                                                          stable_loss)
        if self._nb_restarts > 1 and self._logits_net is None:
            raise InputError("nb_restarts > 1 needs a network that returns logits and a "
                             "loss_fn (to tell which restart succeeded)")
        self._step = AscentStep(self._loss_cell, self._norm, self._is_targeted, self._bounds,
                                decay=self._decay, momentum_norm=self._momentum_norm)
        self._judge = None

    # -- what the attack is (read-only; norm, eps, eps_iter, nb_iter, rand_init from
    # AscentSettings) -------------------------------------------------------------------
    @property
    def nb_restarts(self):
        return self._nb_restarts

    @property
    def label(self):
        """``"PGD-40x5"``, ``"PGD-10-L2"``, ``"MIM-5"``, or ``name`` if set."""
        if self.name:
            return self.name
        text = f"{self.short_name}-{self._nb_iter}"
        if self._nb_restarts > 1:
            text += f"x{self._nb_restarts}"
        if self._norm is not LINF:
            text += f"-{self._norm!r}"
        return text

    # -- the loop ------------------------------------------------------------------------
    def _start(self, x, eps):
        """Random start: uniform in the Linf box, or uniform radius and direction in the
        L2 ball; a device tensor of the batch's shape. ``x`` itself without rand_init."""
        if not self._rand_init:
            return x
        radius = eps * self._step.scale
        start = x + ms.Tensor(self._norm.random_start(self._rng, tuple(x.shape), radius))
        return self._step.box.clip(start)

    def _step_extras(self, shape):   # pylint: disable=unused-argument
        """What a subclass's compiled step takes after the common arguments (none here)."""
        return ()

    def _attack_batch(self, x, y, valid, eps, eps_iter, first):
        """``nb_iter`` compiled steps on one padded batch; returns (x_adv, #saturated)."""
        eps_t = ms.Tensor(np.float32(eps))
        eps_iter_t = ms.Tensor(np.float32(eps_iter))
        momentum = ops.zeros_like(x)
        x_t = self._start(x, eps)
        n_sat = None
        for i in range(self._nb_iter):
            args = (x_t, x, y, valid, eps_t, eps_iter_t, momentum,
                    *self._step_extras(tuple(x.shape)))
            if first and i == 0:
                x_t, momentum, sat = self._first_call(args, tuple(x.shape))
            else:
                x_t, momentum, sat = self._step(*args)
            n_sat = sat if i == 0 else n_sat
        return x_t, n_sat

    def _success(self, x_adv, y):
        if self._judge is None:
            self._judge = _Judge(self._logits_net, self._is_targeted)
        return self._judge(x_adv, y)

    def _run(self, inputs, labels, batch_size, eps=None, eps_iter=None):
        """Attack every input; with restarts, each further run only on the inputs not yet
        fooled, keeping the first adversarial found (the last try where none was)."""
        eps = self._eps if eps is None else eps
        eps_iter = self._eps_iter if eps_iter is None else eps_iter
        out = np.empty_like(inputs)
        todo = np.arange(inputs.shape[0])
        counts = []
        for restart in range(self._nb_restarts):
            sub_x, sub_y = inputs[todo], labels[todo]
            fooled = np.zeros(todo.size, bool)
            for start, stop, x, y, valid in self._feed(sub_x, sub_y, min(batch_size,
                                                                         todo.size)):
                adv, n_sat = self._attack_batch(x, y, valid, eps, eps_iter,
                                                first=restart == 0 and start == 0)
                if restart == 0:
                    counts.append(n_sat)
                m = stop - start
                out[todo[start:stop]] = adv.asnumpy()[:m]
                if self._nb_restarts > 1:
                    fooled[start:stop] = self._success(adv, y).asnumpy()[:m]
            todo = todo[~fooled]
            if todo.size == 0:
                break
        self.stats = {"samples": inputs.shape[0], "saturated": self._saturated_total(counts)}
        return out

    def generate_at(self, inputs, labels, eps, batch_size=None):
        """As :meth:`batch_generate` with budget ``eps`` instead of the attack's own; the
        step size keeps its ratio to the budget (``eps_iter * eps / self.eps``). The same
        compiled step serves every eps (robustness curves)."""
        eps = self._checked_eps(eps)
        inputs, labels, batch_size = self._checked(inputs, labels, batch_size)
        return self._run(inputs, labels, batch_size, eps, self._eps_iter * eps / self._eps)


class BasicIterativeMethod(IterativeGradientMethod):
    """Basic Iterative Method (Kurakin et al., 2017): ``nb_iter`` FGSM steps of
    ``eps_iter``, each projected back into the Linf ball of ``eps``. Starts at ``x``."""

    def __init__(self, network, eps=0.3, eps_iter=0.1, bounds=(0.0, 1.0), is_targeted=False,
                 nb_iter=5, loss_fn=None, *, stable_loss=True, seed=None):
        super().__init__(network, eps=eps, eps_iter=eps_iter, bounds=bounds, nb_iter=nb_iter,
                         loss_fn=loss_fn, is_targeted=is_targeted, stable_loss=stable_loss,
                         seed=seed)


class ProjectedGradientDescent(BasicIterativeMethod):
    """Projected Gradient Descent (Madry et al., 2018), Linf, L2 or L1.

    Args as :class:`BasicIterativeMethod`, plus ``norm_level`` (``np.inf``/'inf', 2 or 1;
    default 'inf'; the L1 ball is projected onto exactly, the step is the gradient over
    its L1 norm), ``rand_init`` (start at a uniform random point of the ball; default
    True — MindArmour starts at ``x``) and ``nb_restarts`` (independent random starts;
    each input keeps the first that fools the model; default 1).
    """
    short_name = "PGD"

    def __init__(self, network, eps=0.3, eps_iter=0.1, bounds=(0.0, 1.0), is_targeted=False,
                 nb_iter=5, norm_level="inf", loss_fn=None, *, rand_init=True, nb_restarts=1,
                 stable_loss=True, seed=None):
        self._norm = get_norm(norm_level)
        self._rand_init = check_flag("rand_init", rand_init)
        self._nb_restarts = check_count("nb_restarts", nb_restarts)
        if self._nb_restarts > 1 and not self._rand_init:
            raise InputError("nb_restarts > 1 needs rand_init=True (restarts from x would "
                             "repeat the same run)")
        super().__init__(network, eps=eps, eps_iter=eps_iter, bounds=bounds,
                         is_targeted=is_targeted, nb_iter=nb_iter, loss_fn=loss_fn,
                         stable_loss=stable_loss, seed=seed)


class MomentumIterativeMethod(IterativeGradientMethod):
    """Momentum Iterative Method (Dong et al., 2018): the gradient, divided by its
    per-sample ``norm_level`` norm (1, 2 or np.inf; MindArmour's default 'inf'),
    accumulates in ``m`` with ``decay_factor``; each step is ``eps_iter * sign(m)``,
    projected into the Linf ball of ``eps``. Starts at ``x``."""
    short_name = "MIM"

    def __init__(self, network, eps=0.3, eps_iter=0.1, bounds=(0.0, 1.0), is_targeted=False,
                 nb_iter=5, decay_factor=1.0, norm_level="inf", loss_fn=None, *,
                 stable_loss=True, seed=None):
        self._momentum_norm = get_norm(norm_level)
        self._decay = check_number("decay_factor", decay_factor, low=0.0)
        super().__init__(network, eps=eps, eps_iter=eps_iter, bounds=bounds,
                         is_targeted=is_targeted, nb_iter=nb_iter, loss_fn=loss_fn,
                         stable_loss=stable_loss, seed=seed)

    @property
    def decay_factor(self):
        return self._decay


__all__ = ["IterativeGradientMethod", "BasicIterativeMethod", "ProjectedGradientDescent",
           "MomentumIterativeMethod"]
