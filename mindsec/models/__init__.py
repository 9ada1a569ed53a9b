"""Networks (``mindspore.nn.Cell``) used by the examples and tests."""
from .efficientnet_lite import EfficientNetLite0
from .lenet import LeNet5
from .mobilenet_v2 import MobileNetV2
from .small_cnn import SmallCNN

MODELS = {"lenet5": LeNet5, "smallcnn": SmallCNN}     # the MNIST (1x32x32) classifiers
IMAGENET_MODELS = {"efficientnet-lite0": EfficientNetLite0}  # (3x224x224) in [0, 1]

__all__ = ["LeNet5", "SmallCNN", "MobileNetV2", "EfficientNetLite0", "MODELS",
           "IMAGENET_MODELS"]
