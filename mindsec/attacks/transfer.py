"""Transfer (black-box) attacks: adversarial examples made white-box against a surrogate
model and replayed on another — MindArmour's tutorial protocol, and what an extracted
model makes possible against a model behind an API."""
from ..errors import InputError
from .base import Attack


class TransferAttack:
    """Wraps an attack built on a surrogate network; its examples are meant for another
    model (the robustness runner judges them on the model it evaluates, and treats this
    attack as black-box when checking that white-box attacks are stronger).

    Args:
        attack (Attack): any mindsec attack, built on the surrogate network.
        name (str): label in reports. Default: ``"transfer-<attack>"``.
    """
    kind = "transfer"

    def __init__(self, attack, name=None):
        if not isinstance(attack, Attack):
            raise InputError(f"attack must be a mindsec attack, got {type(attack).__name__}")
        self.source = attack
        self.name = name

    @property
    def eps(self):
        return getattr(self.source, "eps", None)

    def generate(self, inputs, labels):
        return self.source.generate(inputs, labels)

    def batch_generate(self, inputs, labels, batch_size=None):
        return self.source.batch_generate(inputs, labels, batch_size)

    def generate_at(self, inputs, labels, eps, batch_size=None):
        return self.source.generate_at(inputs, labels, eps, batch_size)


__all__ = ["TransferAttack"]
