"""Ensemble adversarial training (MindArmour's ``EnsembleAdversarialDefense``).

Tramèr et al., 2018, "Ensemble Adversarial Training: Attacks and Defenses"
(arXiv:1705.07204): each batch mixes adversarial examples from several attacks. In
MindArmour the class is :class:`~mindsec.defenses.adversarial.AdversarialDefenseWithAttacks`
under another name, and so it is here: ``ceil(replace_ratio * batch)`` random samples of
each batch are replaced, split evenly (``n_adv // len(attacks)`` each, in list order) among
``attacks``, which run against the current weights, and one training step is taken on the
mixed batch.

Inherited differences from MindArmour (see :mod:`mindsec.defenses.adversarial`):
``defense`` returns the loss as a Python float (MindArmour: a 0-d numpy array), works on a
copy of ``inputs`` (MindArmour overwrites the caller's array with the adversarial rows),
takes no extra clean "graph initialisation" step on its first call (MindArmour's first
``defense`` call trains twice), draws the replaced rows from its own seeded generator
(MindArmour: the global ``np.random``), accepts ``replace_ratio`` in the closed [0, 1]
(MindArmour: strictly between 0 and 1, so it cannot replace a whole batch), accepts a tuple
of attacks as well as a list, and raises a one-line :class:`~mindsec.errors.InputError`
(a ``ValueError``) for bad arguments.
"""
from .adversarial import AdversarialDefenseWithAttacks


class EnsembleAdversarialDefense(AdversarialDefenseWithAttacks):
    """Adversarial training on batches mixed with examples from a list of attacks.

    Args:
        network (nn.Cell): returns logits; trained in place.
        attacks (list): non-empty list of attack objects (each with ``generate(x, y)``).
        loss_fn (nn.Cell): default ``SoftmaxCrossEntropyWithLogits(sparse=True)``.
        optimizer (nn.Optimizer): default ``Momentum(lr=0.01, momentum=0.9)``.
        bounds (tuple): (clip_min, clip_max) of the data. Default (0.0, 1.0).
        replace_ratio (float): fraction of each batch replaced, in [0, 1]. Default 0.5.

    Raises:
        InputError: if ``replace_ratio`` is outside [0, 1], ``attacks`` is empty or holds
            something without ``generate``, or ``bounds`` is not a (min, max) pair.
    """

    def __init__(self, network, attacks, loss_fn=None, optimizer=None, bounds=(0.0, 1.0),
                 replace_ratio=0.5):
        super().__init__(network, attacks, loss_fn, optimizer, bounds, replace_ratio)


__all__ = ["EnsembleAdversarialDefense"]
