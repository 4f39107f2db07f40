"""A depthwise-separable CNN in MobileNet's style (BatchNorm after every convolution, ReLU6), as a plain nn.Module:
the architecture on which per-tensor int8 is known to fail once BatchNorm is folded into the depthwise filters (their
per-channel ranges then differ by orders of magnitude), which equalization and bias correction exist for."""
from __future__ import annotations

from torch import nn


def _conv_bn(cin: int, cout: int, kernel: int, stride: int, groups: int = 1) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, kernel, stride, kernel // 2, groups=groups, bias=False), nn.BatchNorm2d(cout), nn.ReLU6()]


class SeparableCnn(nn.Module):
    """[N, 1, 28, 28] -> stem 3x3/2 -> (depthwise 3x3, pointwise 1x1) blocks -> global average pool -> 10 logits."""

    def __init__(self, classes: int = 10, stem: int = 16, blocks: tuple[tuple[int, int], ...] = ((32, 1), (64, 2), (64, 1), (128, 2))):
        super().__init__()
        layers = _conv_bn(1, stem, 3, 2)
        cin = stem
        for cout, stride in blocks:
            layers += _conv_bn(cin, cin, 3, stride, groups=cin)  # depthwise
            layers += _conv_bn(cin, cout, 1, 1)  # pointwise
            cin = cout
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(cin, classes)

    def forward(self, x):
        return self.classifier(self.pool(self.features(x)).flatten(1))
