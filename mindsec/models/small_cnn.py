"""The small MNIST network of Wong, Rice & Kolter (2020, "Fast is better than free",
arXiv:2001.03994), used there for FGSM and PGD adversarial training at eps=0.3, here on
1x32x32 inputs."""
from mindspore import nn


class SmallCNN(nn.Cell):
    """conv(1->16, k4, stride 2) - conv(16->32, k4, stride 2) - dense 2048-100-``num_classes``,
    ReLU, returns logits. 3.5x LeNet5's parameters (214k vs 62k), about 2x its
    multiply-adds per image (0.8M vs 0.42M)."""

    def __init__(self, num_classes=10, num_channels=1):
        super().__init__()
        self.conv1 = nn.Conv2d(num_channels, 16, 4, stride=2, pad_mode="pad", padding=1,
                               has_bias=True)
        self.conv2 = nn.Conv2d(16, 32, 4, stride=2, pad_mode="pad", padding=1, has_bias=True)
        self.fc1 = nn.Dense(32 * 8 * 8, 100)
        self.fc2 = nn.Dense(100, num_classes)
        self.relu = nn.ReLU()
        self.flatten = nn.Flatten()

    def construct(self, x):
        x = self.relu(self.conv1(x))
        x = self.relu(self.conv2(x))
        x = self.relu(self.fc1(self.flatten(x)))
        return self.fc2(x)
