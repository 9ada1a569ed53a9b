"""The L-BFGS-B attack (Szegedy et al., 2014; Tabacof & Valle, "Exploring the Space of
Adversarial Images", arXiv:1510.05328), MindArmour's ``LBFGS``: the smallest L2 change
that makes the network classify a point as its target (untargeted: not as its label).

For each point ``x0`` with label ``y`` and a constant ``c``, L-BFGS-B (``scipy.optimize
.minimize(method="L-BFGS-B")``, bounds the data box, ``nb_iter`` iterations, 15
corrections) minimises MindArmour's objective

    ||x - x0||_2 + c * CE(x, y)        (targeted; untargeted: ||x - x0||_2 - c * CE(x, y))

from ``x0``; ``c`` starts at ``2 * eps`` and doubles, ``search_iters`` times at most, until
the result is adversarial (MindArmour's search); a point never made adversarial comes back
as the last run left it.

Every point runs its own L-BFGS-B, as in MindArmour, but the runs of a batch advance in
lockstep: whenever each running point has asked for the objective at a new ``x``, one
compiled MindSpore cell returns the objectives and gradients of all of them, in blocks of
8 rows of one fixed shape (blocks whose points have all finished are skipped). One
L-BFGS-B over the flattened batch, whose objective is the sum over points, would also
minimise every point's term, but its shared line search, curvature pairs and stopping
test would make each point's example depend on the other points of its batch (and the
batch's shape changes float32 gradients by ~1e-9, which 150 quasi-Newton iterations
amplify; hence the fixed blocks): here a point's example depends on the point alone.

Differences from MindArmour 2.0.0, each deliberate: MindArmour hands L-BFGS-B the value of
the objective above but only the cross-entropy's gradient (without ``c`` and the distance
term), so its line search often fails at ``x0`` and small constants leave points where
they are; mindsec passes the objective's own gradient. The cross-entropy is computed
without cancellation (``softplus`` of the log-odds); ``loss_fn`` must be softmax
cross-entropy or None (MindArmour's value is cross-entropy whatever ``loss_fn`` is).
Labels may be class indices or one-hot whatever ``sparse`` says; ``labels=None`` targets
the model's least-likely classes (untargeted: its predictions).
"""
import threading

import numpy as np
import mindspore as ms
from mindspore import nn, ops
from scipy.optimize import Bounds, minimize

from ..batching import pad_to, predict_logits
from ..checks import check_count, check_flag, check_number
from ..errors import InputError
from .base import DEFAULT_BATCH_SIZE, Attack, AttackKind, LabelSource
from .losses import log_odds
from .norms import L2

_CORRECTIONS = 15          # MindArmour's m
_DEFAULT_BATCH = 64        # MindArmour's batch_generate default
_CHUNK = 8                 # rows per evaluation: the same shape whatever the batch, so a
                           # point's float32 objective (and its run) does not depend on it


class _Objective(nn.Cell):
    """``(x, x0, y, c) -> (sum of the per-point objectives, per-point objectives)``."""

    def __init__(self, network, sign):
        super().__init__(auto_prefix=False)
        self.network = network
        self.sign = sign

    def construct(self, x, x0, y, c):
        ce = ops.softplus(log_odds(self.network(x), y))
        diff = (x - x0).reshape(x.shape[0], -1)
        dist = ops.sqrt((diff * diff).sum(axis=1) + 1e-24)
        per = dist + self.sign * c * ce
        return per.sum(), per


class _ObjectiveGrad(nn.Cell):
    """``(x, x0, y, c) -> (per-point objectives, their gradient in x)``, compiled."""

    def __init__(self, objective):
        super().__init__(auto_prefix=False)
        self.grad_fn = ops.grad(objective, grad_position=0, has_aux=True)

    @ms.jit
    def construct(self, x, x0, y, c):
        grad, (per,) = self.grad_fn(x, x0, y, c)
        return per, grad


class _Lockstep:
    """One L-BFGS-B per row, advanced together: each run's objective calls wait until every
    running row has asked, then ``evaluate({row: point})`` answers them all at once."""

    def __init__(self, evaluate, lower, upper, options):
        self.evaluate = evaluate
        self.lower, self.upper, self.options = lower, upper, options
        self.cond = threading.Condition()
        self.pending, self.answers, self.alive = {}, {}, set()
        self.failed = None
        self.errors = []

    def _objective(self, row):
        def fun(z):
            with self.cond:
                self.pending[row] = z
                self.cond.notify_all()
                while row not in self.answers and self.failed is None:
                    self.cond.wait()
                if self.failed is not None:
                    raise RuntimeError("objective failed")
                return self.answers.pop(row)
        return fun

    def _worker(self, row, start, out):
        try:
            out[row] = minimize(self._objective(row), start, jac=True, method="L-BFGS-B",
                                bounds=Bounds(self.lower, self.upper), options=self.options).x
        except Exception as exc:       # pylint: disable=broad-except
            self.errors.append(exc)     # raised again by run, in the caller's thread
        finally:
            with self.cond:
                self.alive.discard(row)
                self.cond.notify_all()

    def run(self, starts):
        """``{row: start (D,) float64}`` -> ``{row: result (D,)}``."""
        out = {}
        self.alive = set(starts)
        threads = [threading.Thread(target=self._worker, args=(row, start, out), daemon=True)
                   for row, start in starts.items()]
        for thread in threads:
            thread.start()
        try:
            while True:
                with self.cond:
                    while self.alive and not set(self.alive) <= set(self.pending):
                        self.cond.wait()
                    if not self.alive:
                        break
                    asked = dict(self.pending)
                    self.pending.clear()
                answers = self.evaluate(asked)
                with self.cond:
                    self.answers.update(answers)
                    self.cond.notify_all()
        except BaseException:
            with self.cond:
                self.failed = True
                self.cond.notify_all()
            raise
        finally:
            for thread in threads:
                thread.join()
        if self.errors:
            raise self.errors[0]
        return out


class LBFGS(Attack):
    """L-BFGS-B attack (see the module docstring); MindArmour's class and arguments.

    Args:
        network (nn.Cell): returns logits.
        eps (float): the first constant is ``2 * eps``, > 0. Default 1e-5.
        bounds (tuple): ``(min, max)`` of the data. Default (0.0, 1.0).
        is_targeted (bool): labels are targets. Default True.
        nb_iter (int): L-BFGS-B iterations per constant. Default 150.
        search_iters (int): constants tried at most (doubling). Default 30.
        loss_fn (nn.Cell): softmax cross-entropy or None (the same).
        sparse (bool): accepted for compatibility; labels may be indices or one-hot.
    """
    kind = AttackKind.MINIMAL
    short_name = "LBFGS"
    _labels_none = LabelSource.LEAST_LIKELY
    _norm = L2

    def __init__(self, network, eps=1e-5, bounds=(0.0, 1.0), is_targeted=True, nb_iter=150,
                 search_iters=30, loss_fn=None, sparse=False):
        if bounds is None:
            raise InputError("bounds must be a (min, max) pair for LBFGS, got None")
        super().__init__(network, bounds)
        self._initial_const = check_number("eps", eps, low=0.0)
        self._is_targeted = check_flag("is_targeted", is_targeted)
        self._nb_iter = check_count("nb_iter", nb_iter)
        self._search_iters = check_count("search_iters", search_iters)
        check_flag("sparse", sparse)
        if loss_fn is not None and not isinstance(
                loss_fn, (nn.SoftmaxCrossEntropyWithLogits, nn.CrossEntropyLoss)):
            raise InputError(f"loss_fn must be softmax cross-entropy or None for LBFGS (its "
                             f"objective is L2 + c * cross-entropy), got "
                             f"{type(loss_fn).__name__}")
        self._logits_net = network
        self._objective = _ObjectiveGrad(_Objective(network, 1.0 if self._is_targeted
                                                    else -1.0))

    @property
    def initial_const(self):
        """``eps``: the search starts at twice it."""
        return self._initial_const

    @property
    def search_iters(self):
        return self._search_iters

    def batch_generate(self, inputs, labels, batch_size=DEFAULT_BATCH_SIZE):
        """As :meth:`generate` in batches (default 64, as MindArmour)."""
        return super().batch_generate(inputs, labels,
                                      _DEFAULT_BATCH if batch_size is None else batch_size)

    def _adversarial(self, adv, labels):
        pred = predict_logits(self._logits_net, adv, adv.shape[0]).argmax(axis=1)
        return pred == labels if self._is_targeted else pred != labels

    def _run(self, inputs, labels, batch_size):
        out = np.empty_like(inputs)
        for start, stop, x, y, _ in self._feed(inputs, labels, batch_size):
            out[start:stop] = self._attack_batch(x, y, stop - start, labels[start:stop])
        self.stats = {"samples": inputs.shape[0], "saturated": None}
        return out

    def _attack_batch(self, x, y, real, labels):
        x0 = x.asnumpy()
        shape, b = x0.shape, x0.shape[0]
        flat0 = x0.reshape(b, -1).astype(np.float64)
        lo, hi = self._bounds
        lower, upper = np.full(flat0.shape[1], lo), np.full(flat0.shape[1], hi)
        adv = x0[:real].copy()
        todo = np.arange(real)

        y0 = y.asnumpy()
        width = -(-b // _CHUNK) * _CHUNK
        x0_pad = ms.Tensor(pad_to(x0, width))
        y_pad = ms.Tensor(pad_to(y0, width))
        current = pad_to(x0, width).copy()
        const = np.full(width, 2.0 * self._initial_const, np.float32)

        def evaluate(asked):
            for row, z in asked.items():
                current[row] = z.reshape(shape[1:])
            answers = {}
            for chunk in sorted({row // _CHUNK for row in asked}):
                part = slice(chunk * _CHUNK, (chunk + 1) * _CHUNK)
                per, grad = self._objective(ms.Tensor(current[part]), x0_pad[part],
                                            y_pad[part], ms.Tensor(const[part]))
                per, grad = per.asnumpy().astype(np.float64), grad.asnumpy()
                for row in asked:
                    if row // _CHUNK == chunk:
                        answers[row] = (per[row % _CHUNK],
                                        grad[row % _CHUNK].reshape(-1).astype(np.float64))
            return answers

        options = {"maxiter": self._nb_iter, "maxcor": _CORRECTIONS}
        for _ in range(self._search_iters):
            runs = _Lockstep(evaluate, lower, upper, options).run(
                {int(row): flat0[row] for row in todo})
            found = np.stack([np.clip(runs[int(row)], lo, hi) for row in todo]) \
                .astype(np.float32).reshape((len(todo),) + shape[1:])
            adv[todo] = found
            hit = self._adversarial(found, labels[todo])
            todo = todo[~hit]
            if todo.size == 0:
                break
            const[todo] *= 2.0
        return adv


__all__ = ["LBFGS"]
