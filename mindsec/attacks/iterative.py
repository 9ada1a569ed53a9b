"""Iterative gradient attacks: BIM, PGD (Linf and L2, random start, restarts) and MIM.

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

``g`` the loss's input gradient (negated for targeted attacks). One compiled step (gradient,
update, projection, clip) is reused for every iteration, batch and eps; the loop issues
device calls only, with no host round trip, and the last batch is padded to a fixed shape.

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

from ..errors import InputError
from .base import Attack, check_count, check_number
from .gradient import _direction, build_loss, check_flag, check_norm_level, check_seed


class _IterStep(nn.Cell):
    """One iteration ``(x_t, x, y, valid, eps, eps_iter, m_t) -> (x_t+1, m_t+1,
    #saturated)``; ``eps``/``eps_iter`` are tensors (fractions of the range), so one
    compiled graph serves every budget."""

    def __init__(self, loss_cell, step_norm, ball, targeted, bounds, decay, decay_norm):
        super().__init__(auto_prefix=False)
        self.grad_fn = ops.value_and_grad(loss_cell, grad_position=0, has_aux=True)
        self.step_norm = step_norm      # "sign" or 2
        self.ball = ball                # "inf" or 2
        self.targeted = targeted
        self.decay = decay              # None: no momentum
        self.decay_norm = decay_norm
        self.has_bounds = bounds is not None
        self.low, self.high = bounds if bounds is not None else (0.0, 1.0)
        self.scale = (self.high - self.low) if bounds is not None else 1.0

    @ms.jit
    def construct(self, x_t, x, y, valid, eps, eps_iter, momentum):
        (_, n_sat), grad = self.grad_fn(x_t, y, valid)
        if self.targeted:
            grad = -grad
        if self.decay is not None:
            momentum = self.decay * momentum + _direction(grad, self.decay_norm)
            step = ops.sign(momentum)
        else:
            step = _direction(grad, self.step_norm)
        x_new = x_t + (eps_iter * self.scale) * step
        x_new = x + _project(x_new - x, eps * self.scale, self.ball)
        if self.has_bounds:
            x_new = ops.clamp(x_new, self.low, self.high)
        return x_new, momentum, n_sat


def random_start(rng, shape, radius, ball):
    """A random point of the ball around 0 (numpy float32 ``shape``): uniform in the Linf
    box, or a uniform direction at a uniform radius in the L2 ball."""
    if ball == "inf":
        return rng.uniform(-radius, radius, size=shape).astype(np.float32)
    delta = rng.standard_normal(size=shape).astype(np.float32)
    flat = delta.reshape(shape[0], -1)
    flat *= (radius * rng.uniform(0, 1, size=(shape[0], 1)) /
             (np.linalg.norm(flat, axis=1, keepdims=True) + 1e-12)).astype(np.float32)
    return delta


def _project(delta, radius, ball):
    """``delta`` moved into the Linf or L2 ball of ``radius`` (per sample)."""
    if ball == "inf":
        return ops.clamp(delta, -radius, radius)
    flat = delta.reshape(delta.shape[0], -1)
    norm = ops.sqrt((flat * flat).sum(axis=1, keepdims=True))
    factor = ops.minimum(ops.ones_like(norm), radius / (norm + 1e-12))
    return (flat * factor).reshape(delta.shape)


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


class IterativeGradientMethod(Attack):
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
    _step_norm = "sign"
    _ball = "inf"
    _decay = None
    _decay_norm = "inf"
    _rand_init = False
    _nb_restarts = 1
    kind = "iterative"

    def __init__(self, network, eps=0.3, eps_iter=0.1, bounds=(0.0, 1.0), nb_iter=5,
                 loss_fn=None, *, is_targeted=False, stable_loss=True, seed=None):
        super().__init__(network, bounds)
        linf = self._ball == "inf" and self._bounds is not None
        self._eps = check_number("eps", eps, low=0.0, high=1.0 if linf else None)
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
        self._step = _IterStep(self._loss_cell, self._step_norm, self._ball,
                               self._is_targeted, self._bounds, self._decay,
                               self._decay_norm)
        self._judge = None

    # -- the loop ------------------------------------------------------------------------
    def _start(self, x, eps):
        """Random start: uniform in the Linf box, or uniform radius and direction in the
        L2 ball; a device tensor of the batch's shape. ``x`` itself without rand_init."""
        if not self._rand_init:
            return x
        radius = eps * (self._bounds[1] - self._bounds[0] if self._bounds else 1.0)
        start = x + ms.Tensor(random_start(self._rng, tuple(x.shape), radius, self._ball))
        if self._bounds is not None:
            start = ops.clamp(start, self._bounds[0], self._bounds[1])
        return start

    def _attack_batch(self, x, y, valid, eps, eps_iter, first):
        """``nb_iter`` compiled steps on one padded batch; returns (x_adv, #saturated)."""
        eps_t = ms.Tensor(np.float32(eps))
        eps_iter_t = ms.Tensor(np.float32(eps_iter))
        momentum = ops.zeros_like(x)
        x_t = self._start(x, eps)
        n_sat = None
        for i in range(self._nb_iter):
            args = (x_t, x, y, valid, eps_t, eps_iter_t, momentum)
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
        linf = self._ball == "inf" and self._bounds is not None
        eps = check_number("eps", eps, low=0.0, high=1.0 if linf else None)
        inputs, labels, batch_size = self._checked(inputs, labels, batch_size)
        return self._run(inputs, labels, batch_size, eps, self._eps_iter * eps / self._eps)

    @property
    def eps(self):
        return self._eps


class BasicIterativeMethod(IterativeGradientMethod):
    """Basic Iterative Method (Kurakin et al., 2017): ``nb_iter`` FGSM steps of
    ``eps_iter``, each projected back into the Linf ball of ``eps``. Starts at ``x``."""

    def __init__(self, network, eps=0.3, eps_iter=0.1, bounds=(0.0, 1.0), is_targeted=False,
                 nb_iter=5, loss_fn=None, *, stable_loss=True, seed=None):
        super().__init__(network, eps=eps, eps_iter=eps_iter, bounds=bounds, nb_iter=nb_iter,
                         loss_fn=loss_fn, is_targeted=is_targeted, stable_loss=stable_loss,
                         seed=seed)


class ProjectedGradientDescent(BasicIterativeMethod):
    """Projected Gradient Descent (Madry et al., 2018), Linf or L2.

    Args as :class:`BasicIterativeMethod`, plus ``norm_level`` (``np.inf``/'inf', or 2;
    default 'inf'), ``rand_init`` (start at a uniform random point of the ball; default
    True — MindArmour starts at ``x``) and ``nb_restarts`` (independent random starts;
    each input keeps the first that fools the model; default 1).
    """

    def __init__(self, network, eps=0.3, eps_iter=0.1, bounds=(0.0, 1.0), is_targeted=False,
                 nb_iter=5, norm_level="inf", loss_fn=None, *, rand_init=True, nb_restarts=1,
                 stable_loss=True, seed=None):
        norm = check_norm_level(norm_level)
        if norm == 1:
            raise InputError("norm_level must be np.inf or 2 for ProjectedGradientDescent "
                             "(L1 is not supported), got 1")
        self._ball = norm
        self._step_norm = "sign" if norm == "inf" else 2
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

    def __init__(self, network, eps=0.3, eps_iter=0.1, bounds=(0.0, 1.0), is_targeted=False,
                 nb_iter=5, decay_factor=1.0, norm_level="inf", loss_fn=None, *,
                 stable_loss=True, seed=None):
        self._decay_norm = check_norm_level(norm_level)
        self._decay = check_number("decay_factor", decay_factor, low=0.0)
        super().__init__(network, eps=eps, eps_iter=eps_iter, bounds=bounds,
                         is_targeted=is_targeted, nb_iter=nb_iter, loss_fn=loss_fn,
                         stable_loss=stable_loss, seed=seed)


__all__ = ["IterativeGradientMethod", "BasicIterativeMethod", "ProjectedGradientDescent",
           "MomentumIterativeMethod"]
