"""Transfer (black-box) attacks: adversarial examples made white-box against a surrogate
model and replayed on another — MindArmour's tutorial protocol, and what an extracted
model makes possible against a model behind an API."""
from ..errors import InputError
from .base import DEFAULT_BATCH_SIZE, Attack, AttackKind


class TransferAttack(Attack):
    """Wraps an attack built on a surrogate network; its examples are meant for another
    model (the robustness runner judges them on the model it evaluates, and treats this
    attack as black-box when checking that white-box attacks are stronger).

    Its ``norm``, ``eps``, ``bounds`` and ``targeted`` are the surrogate attack's; its
    ``model`` is None: the model judged is not the one the examples were made on, so the
    runner needs it given.

    Args:
        attack (Attack): any mindsec attack, built on the surrogate network.
        name (str): label in reports. Default: ``"transfer-<attack>"``.
    """
    kind = AttackKind.TRANSFER

    def __init__(self, attack, name=None):
        if not isinstance(attack, Attack) or isinstance(attack, TransferAttack):
            raise InputError(f"attack must be a mindsec (white-box) attack, got "
                             f"{type(attack).__name__}")
        super().__init__(attack.network, attack.bounds)
        self._source = attack
        self._norm = attack.norm
        self._eps = attack.eps
        self._is_targeted = attack.targeted
        self.name = name

    @property
    def source(self):
        """The attack on the surrogate that makes the examples."""
        return self._source

    @property
    def label(self):
        return self.name or f"transfer-{self._source.label}"

    def reseed(self, seed):
        self._source.reseed(seed)

    def generate(self, inputs, labels):
        return self._source.generate(inputs, labels)

    def batch_generate(self, inputs, labels, batch_size=DEFAULT_BATCH_SIZE):
        return self._source.batch_generate(inputs, labels, batch_size)

    def generate_at(self, inputs, labels, eps, batch_size=DEFAULT_BATCH_SIZE):
        return self._source.generate_at(inputs, labels, eps, batch_size)


__all__ = ["TransferAttack"]
