"""Networks (``mindspore.nn.Cell``) used by the examples and tests."""
from .lenet import LeNet5
from .small_cnn import SmallCNN

MODELS = {"lenet5": LeNet5, "smallcnn": SmallCNN}

__all__ = ["LeNet5", "SmallCNN", "MODELS"]
