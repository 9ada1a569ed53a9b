"""MobileNetV2 (Sandler et al., CVPR 2018) for ImageNet-shaped inputs (N, 3, 224, 224).

An ImageNet-sized classifier for the attacks and evaluations, which work on any image
classifier Cell. Pretrained weights are never downloaded: load a MindSpore checkpoint you
supply (``mindsec.checkpoint.load_into(net, "mobilenet_v2.ckpt")``; parameter names follow
this module, shapes are matched by position as a fallback). ``width`` scales every layer
(1.0 is the paper's network, 3.5M parameters).
"""
from mindspore import nn

# (expansion t, output channels c, repeats n, first stride s): the paper's Table 2
_SETTINGS = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1),
             (6, 160, 3, 2), (6, 320, 1, 1))


def _divisible(value, divisor=8):
    return max(divisor, int(value + divisor / 2) // divisor * divisor)


def _conv_bn(cin, cout, kernel, stride, groups=1, act=True):
    layers = [nn.Conv2d(cin, cout, kernel, stride, pad_mode="pad", padding=kernel // 2,
                        group=groups, has_bias=False), nn.BatchNorm2d(cout)]
    if act:
        layers.append(nn.ReLU6())
    return nn.SequentialCell(layers)


class InvertedResidual(nn.Cell):
    """Expand (1x1) - depthwise (3x3) - project (1x1, linear); residual when shapes allow."""

    def __init__(self, cin, cout, stride, expansion):
        super().__init__()
        hidden = cin * expansion
        layers = [] if expansion == 1 else [_conv_bn(cin, hidden, 1, 1)]
        layers += [_conv_bn(hidden, hidden, 3, stride, groups=hidden),
                   _conv_bn(hidden, cout, 1, 1, act=False)]
        self.block = nn.SequentialCell(layers)
        self.residual = stride == 1 and cin == cout

    def construct(self, x):
        out = self.block(x)
        return x + out if self.residual else out


class MobileNetV2(nn.Cell):
    """MobileNetV2 returning logits for ``num_classes``."""

    def __init__(self, num_classes=1000, width=1.0, in_channels=3):
        super().__init__()
        channels = _divisible(32 * width)
        last = _divisible(1280 * max(1.0, width))
        layers = [_conv_bn(in_channels, channels, 3, 2)]
        for t, c, n, s in _SETTINGS:
            out = _divisible(c * width)
            for i in range(n):
                layers.append(InvertedResidual(channels, out, s if i == 0 else 1, t))
                channels = out
        layers.append(_conv_bn(channels, last, 1, 1))
        self.features = nn.SequentialCell(layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten()
        self.classifier = nn.Dense(last, num_classes)

    def construct(self, x):
        return self.classifier(self.flatten(self.pool(self.features(x))))
