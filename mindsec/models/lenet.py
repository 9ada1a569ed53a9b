"""LeNet5 exactly as in MindArmour's tutorials (``examples/common/networks/lenet5``)."""
from mindspore import nn
from mindspore.common.initializer import TruncatedNormal


def _conv(in_channels, out_channels, kernel_size):
    return nn.Conv2d(in_channels, out_channels, kernel_size=kernel_size, stride=1, padding=0,
                     pad_mode="valid", has_bias=False, weight_init=TruncatedNormal(0.02))


def _dense(in_features, out_features):
    return nn.Dense(in_features, out_features, weight_init=TruncatedNormal(0.02),
                    bias_init=TruncatedNormal(0.02))


class LeNet5(nn.Cell):
    """LeNet5 for 1x32x32 inputs: conv(1->6,k5) - pool - conv(6->16,k5) - pool -
    dense 400-120-84-``num_classes``, ReLU, 2x2 max-pool, no conv bias, returns logits."""

    def __init__(self, num_classes=10, num_channels=1):
        super().__init__()
        self.conv1 = _conv(num_channels, 6, 5)
        self.conv2 = _conv(6, 16, 5)
        self.fc1 = _dense(16 * 5 * 5, 120)
        self.fc2 = _dense(120, 84)
        self.fc3 = _dense(84, num_classes)
        self.relu = nn.ReLU()
        self.max_pool2d = nn.MaxPool2d(kernel_size=2, stride=2)
        self.flatten = nn.Flatten()

    def construct(self, x):
        x = self.max_pool2d(self.relu(self.conv1(x)))
        x = self.max_pool2d(self.relu(self.conv2(x)))
        x = self.flatten(x)
        x = self.relu(self.fc1(x))
        x = self.relu(self.fc2(x))
        return self.fc3(x)
