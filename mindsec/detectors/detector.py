"""The base of mindsec's adversarial-example detectors (MindArmour's ``Detector``).

Every detector keeps MindArmour's contract: ``fit(inputs, labels=None)`` sets the
threshold (or radius) from benign samples and returns it, ``detect(inputs)`` returns a
``list[int]`` (1: adversarial), ``detect_diff(inputs)`` the raw score before the
threshold, ``transform(inputs)`` the filtered inputs. A method a detector does not have
raises ``NotImplementedError`` naming the class, as in MindArmour.

The networks a detector runs (target model, auto-encoder, encoder) may be given as a
``mindspore.Model`` (MindArmour's argument) or as the ``nn.Cell`` itself; predictions go
through :func:`mindsec.batching.predict_logits` (fixed-shape batches, compiled once).
"""
import numpy as np
import mindspore as ms
from mindspore import nn

from ..attacks.base import auto_batch_size
from ..batching import predict_logits
from ..checks import check_inputs, check_number
from ..errors import InputError


class Detector:
    """Abstract base of all detectors: ``fit``, ``detect``, ``detect_diff``, ``transform``."""

    def fit(self, inputs, labels=None):
        """Set the detection threshold from benign ``inputs``; returns it."""
        raise NotImplementedError(_missing(self, "fit"))

    def detect(self, inputs):
        """``list[int]``: 1 where an input is judged adversarial."""
        raise NotImplementedError(_missing(self, "detect"))

    def detect_diff(self, inputs):
        """The raw score of each input (before the threshold)."""
        raise NotImplementedError(_missing(self, "detect_diff"))

    def transform(self, inputs):
        """The inputs with the adversarial noise filtered out."""
        raise NotImplementedError(_missing(self, "transform"))


def _missing(obj, method):
    name = type(obj).__name__
    if type(obj) is Detector:    # pylint: disable=unidiomatic-typecheck
        return f"{method}() is abstract in Detector: a subclass implements it"
    return f"{method}() is not available in the class `{name}`"


# ----------------------------------------------------------------------------- helpers
def as_network(name, model):
    """The ``nn.Cell`` behind ``model``: a ``mindspore.Model``'s predict network, or the
    cell itself."""
    if isinstance(model, ms.Model):
        model = model.predict_network
    if not isinstance(model, nn.Cell):
        raise InputError(f"{name} must be a mindspore.Model or nn.Cell, got "
                         f"{type(model).__name__}")
    model.set_train(False)
    return model


def checked(inputs, name="inputs"):
    """``inputs`` as float32 numpy (N, ...), finite (no range: detectors take any data)."""
    return check_inputs(inputs, None, name=name)


def predict(network, inputs):
    """``network``'s outputs for checked numpy ``inputs``, in compiled batches; inputs that
    do not fit the network give one line."""
    try:
        return predict_logits(network, inputs, auto_batch_size(inputs.shape[1:]))
    except (TypeError, ValueError, RuntimeError) as exc:
        first = next((line.strip() for line in str(exc).splitlines() if line.strip()),
                     type(exc).__name__)
        raise InputError(f"inputs of shape {inputs.shape} do not fit the network: "
                         f"{first}") from None


def check_rate(name, value):
    """A rate in [0, 1]."""
    return check_number(name, value, low=0.0, high=1.0, low_open=False)


def check_threshold(value, name="threshold"):
    """A positive threshold (MindArmour's ``set_threshold`` check)."""
    if isinstance(value, np.ndarray) and value.size == 1:
        value = value.item()
    if isinstance(value, np.generic):
        value = value.item()
    return check_number(name, value, low=0.0)


def need_fit(value, cls, setter="set_threshold()"):
    if value is None:
        raise InputError(f"{cls} has no threshold yet: call fit() on benign inputs or "
                         f"{setter} before detect()")


def flags(scores, threshold):
    """``list[int]``: 1 where ``scores > threshold``."""
    return [int(v) for v in (np.asarray(scores) > threshold)]
