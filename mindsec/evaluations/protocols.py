"""Named evaluation protocols: a figure called "PGD-40" means one attack everywhere.

=========  =====================================================================  =======
name       attack                                                                 used by
=========  =====================================================================  =======
pgd10      PGD, Linf, 10 steps of 2.5 eps / 10, uniform random start              training
                                                                                  monitors
pgd20      PGD, Linf, 20 steps of 2.5 eps / 20, uniform random start              report
pgd40      PGD, Linf, 40 steps of eps / 30, uniform random start                  defend,
                                                                                  notebook
cascade    PGD-40 x5 restarts, then FGSM, then Square (score-based, 1,000         evaluate
           queries; and, if asked, DeepFool Linf and transfer FGSM / PGD-40
           from a surrogate), each on the points the earlier ones left standing
           (:func:`~mindsec.evaluations.evaluate_robustness`)
autoattack AutoAttack standard: APGD-CE, APGD-T, FAB-T, Square-5000              evaluate
           (:class:`~mindsec.evaluations.AutoAttack`)                            --attack
=========  =====================================================================  =======

Square is in the cascade so that a black-box attack breaking points the gradient attacks
left standing (the signature of misleading gradients) is flagged there too.

2.5 eps / steps is Madry et al.'s step (the walk can cross the ball 1.25 times); eps / 30
over 40 steps is the setting of mindsec's NAD reports. Every figure from these is an upper
bound on robust accuracy: a stronger attack (AutoAttack) can only lower it. Reports name
the protocol that produced each figure (:attr:`PGDProtocol.title`).
"""
from dataclasses import dataclass

import numpy as np
from mindspore import nn

from ..attacks import (DeepFool, FastGradientSignMethod, ProjectedGradientDescent,
                       SquareAttack, TransferAttack)
from ..checks import check_count, check_number
from ..errors import InputError


@dataclass(frozen=True)
class PGDProtocol:
    """PGD with ``steps`` steps of ``multiplier * eps / divisor`` from a random start."""
    name: str
    steps: int
    multiplier: float
    divisor: float
    restarts: int = 1

    def step(self, eps):
        """The step for budget ``eps`` (as mindsec has always computed it for this
        protocol, so its figures reproduce bit for bit)."""
        if self.multiplier == 1.0:
            return eps / self.divisor
        return self.multiplier * eps / self.divisor

    @property
    def title(self):
        """``"PGD-40 (40 steps of eps/30, random start)"``."""
        size = "eps" if self.multiplier == 1.0 else f"{self.multiplier:g} eps"
        restarts = f" x{self.restarts} restarts" if self.restarts > 1 else ""
        return (f"PGD-{self.steps}{restarts} ({self.steps} steps of {size}/{self.divisor:g}, "
                f"random start)")

    def attack(self, network, eps, *, loss_fn=None, bounds=(0.0, 1.0), seed=0,
               restarts=None):
        """The protocol's :class:`~mindsec.attacks.ProjectedGradientDescent` on
        ``network`` at ``eps`` (``loss_fn``: default softmax cross-entropy)."""
        eps = check_number("eps", eps, low=0.0, high=1.0)
        restarts = self.restarts if restarts is None else check_count("restarts", restarts)
        loss_fn = loss_fn if loss_fn is not None else \
            nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction="mean")
        return ProjectedGradientDescent(network, eps=eps, eps_iter=self.step(eps),
                                        nb_iter=self.steps, bounds=bounds, loss_fn=loss_fn,
                                        nb_restarts=restarts, seed=seed)


PROTOCOLS = {
    "pgd10": PGDProtocol("pgd10", 10, 2.5, 10),
    "pgd20": PGDProtocol("pgd20", 20, 2.5, 20),
    "pgd40": PGDProtocol("pgd40", 40, 1.0, 30),
}
CASCADE = ("cascade: PGD-40 x5 restarts, then FGSM, then Square-1000 (+ DeepFool, transfer "
           "attacks if asked)")
AUTOATTACK = "AutoAttack standard (APGD-CE, APGD-T, FAB-T, Square-5000; Croce & Hein 2020)"


def protocol(name):
    """The :class:`PGDProtocol` called ``name`` (one of :data:`PROTOCOLS`)."""
    if name not in PROTOCOLS:
        raise InputError(f"protocol must be one of {', '.join(PROTOCOLS)}, got {name!r}")
    return PROTOCOLS[name]


def pgd(name, network, eps, **kwargs):
    """``protocol(name).attack(network, eps, **kwargs)``."""
    return protocol(name).attack(network, eps, **kwargs)


def cascade(model, eps=0.3, *, restarts=5, deepfool=False, surrogate=None, seed=0,
            steps=None, step=None, loss_fn=None, square=1000):
    """The ``cascade`` protocol's attacks on ``model`` (for
    :func:`~mindsec.evaluations.evaluate_robustness`), built at ``eps`` (the runner scales
    the PGD step with each eps it evaluates). ``steps``/``step`` override PGD-40's 40 steps
    of eps/30 (the figure is then no longer the named protocol's); ``square``: Square's
    queries per point (0 leaves it out)."""
    loss_fn = loss_fn if loss_fn is not None else nn.SoftmaxCrossEntropyWithLogits(sparse=True)
    base = PROTOCOLS["pgd40"]

    def make_pgd(net, nb_restarts):
        if steps is None and step is None:
            return base.attack(net, eps, loss_fn=loss_fn, seed=seed, restarts=nb_restarts)
        return ProjectedGradientDescent(
            net, eps=eps, eps_iter=base.step(eps) if step is None else step,
            nb_iter=base.steps if steps is None else steps, loss_fn=loss_fn,
            nb_restarts=nb_restarts, seed=seed)

    attacks = [make_pgd(model, restarts), FastGradientSignMethod(model, eps=eps,
                                                                 loss_fn=loss_fn)]
    if deepfool:
        attacks.append(DeepFool(model, 10, norm_level=np.inf, bounds=(0.0, 1.0)))
    if square:
        attacks.append(SquareAttack(model, eps=eps, n_queries=check_count("square", square),
                                    seed=seed))
    if surrogate is not None:
        attacks += [TransferAttack(FastGradientSignMethod(surrogate, eps=eps, loss_fn=loss_fn)),
                    TransferAttack(make_pgd(surrogate, 1))]
    return attacks


__all__ = ["PGDProtocol", "PROTOCOLS", "CASCADE", "AUTOATTACK", "protocol", "pgd", "cascade"]
