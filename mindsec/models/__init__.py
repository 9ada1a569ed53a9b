"""Networks (``mindspore.nn.Cell``) used by the examples and tests."""
from .lenet import LeNet5
from .mobilenet_v2 import MobileNetV2
from .small_cnn import SmallCNN

MODELS = {"lenet5": LeNet5, "smallcnn": SmallCNN}     # the MNIST (1x32x32) classifiers

__all__ = ["LeNet5", "SmallCNN", "MobileNetV2", "MODELS"]
