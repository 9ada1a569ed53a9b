"""Networks (``mindspore.nn.Cell``) used by the examples and tests."""
from .lenet import LeNet5

__all__ = ["LeNet5"]
