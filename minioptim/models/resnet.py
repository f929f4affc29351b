"""The CIFAR ResNets of He et al. (2016, section 4.2), used in the talk's experiments.

    resnet(depth, num_classes=10, batch_norm=True, in_channels=3)      depth = 6n + 2

Architecture (for a 32x32 input):

    conv1: 3x3 conv, 16 channels                     -> 16 x 32 x 32
    layer1: n basic blocks, 16 channels              -> 16 x 32 x 32
    layer2: n basic blocks, 32 channels, first s=2   -> 32 x 16 x 16
    layer3: n basic blocks, 64 channels, first s=2   -> 64 x  8 x  8
    global average pooling, linear 64 -> num_classes

A basic block computes relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x)) with 3x3 convolutions
without bias. The shortcut is the identity, or He et al.'s "option A" where the shape changes:
take every second pixel (x[:, :, ::2, ::2]) and append zero channels (half before, half after,
as the reference implementation pads them), so the network has no parameters beyond its
convolutions, batch norms and the linear layer: 6n + 1 convolutions and 1 linear layer, depth
6n + 2. ResNet-20 has 269,722 parameters (268,346 without batch norm), ResNet-56 853,018.

``batch_norm=False`` removes the batch norm layers and nothing else (the convolutions stay
bias-free): the talk compares Adam+L2 with AdamW on such networks of growing depth.

Module names are PyTorch's, as in the widely used reference implementation
(github.com/akamaster/pytorch_resnet_cifar10): ``conv1``, ``bn1``, ``layer1.0.conv1``,
``layer1.0.bn1``, ..., ``layer3.2.bn2``, ``linear``; so are its initial weights: every
convolution and the linear layer's weight get ``kaiming_normal_`` with its defaults (fan_in,
gain sqrt(2): std = sqrt(2 / fan_in)); the linear bias keeps PyTorch's default uniform draw, and
batch norm starts at weight 1, bias 0.
"""
from __future__ import annotations

from autodiff import backend
from autodiff.tensor_functions import concatenate
from autodiff.nn import init
from autodiff.nn.conv import Conv2d
from autodiff.nn.layers import Linear, relu
from autodiff.nn.module import Module, Sequential
from autodiff.nn.normalization import BatchNorm2d
from autodiff.nn.pooling import global_avg_pool2d
from autodiff.tensor import Tensor

DEPTHS = (20, 32, 44, 56, 110, 218)   # the depths of the paper and the talk (any 6n + 2 works)
WIDTHS = (16, 32, 64)


def shortcut_option_a(x: Tensor, out_channels: int, stride: int) -> Tensor:
    """He et al.'s parameter-free shortcut: subsample by ``stride`` and pad the channels with
    zeros (half of the new channels before the input's, half after)."""
    if stride != 1:
        x = x[:, :, ::stride, ::stride]
    extra = out_channels - x.shape[1]
    if extra <= 0:
        return x
    n, _, h, w = x.shape
    xp = backend.array_module(x.data)
    before, after = extra // 2, extra - extra // 2
    zeros = [Tensor._make(xp.zeros((n, k, h, w), dtype=x.dtype)) for k in (before, after)]
    return concatenate([zeros[0], x, zeros[1]], axis=1)


class BasicBlock(Module):
    """relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x)); without the bn layers when
    ``batch_norm=False``."""

    def __init__(self, in_planes: int, planes: int, stride: int = 1, batch_norm: bool = True):
        super().__init__()
        self.in_planes, self.planes, self.stride = in_planes, planes, stride
        self.conv1 = Conv2d(in_planes, planes, 3, stride=stride, padding=1, bias=False)
        if batch_norm:
            self.bn1 = BatchNorm2d(planes)
        self.conv2 = Conv2d(planes, planes, 3, stride=1, padding=1, bias=False)
        if batch_norm:
            self.bn2 = BatchNorm2d(planes)
        self.batch_norm = batch_norm

    def forward(self, x: Tensor) -> Tensor:
        out = self.conv1(x)
        if self.batch_norm:
            out = self.bn1(out)
        out = self.conv2(relu(out))
        if self.batch_norm:
            out = self.bn2(out)
        if self.stride != 1 or self.in_planes != self.planes:
            x = shortcut_option_a(x, self.planes, self.stride)
        return relu(out + x)


class ResNet(Module):
    """A CIFAR ResNet of depth 6n + 2 (see the module docstring); build it with ``resnet``."""

    def __init__(self, depth: int = 20, num_classes: int = 10, batch_norm: bool = True,
                 in_channels: int = 3):
        super().__init__()
        n = _blocks_per_stage(depth)
        self.depth, self.num_classes, self.batch_norm = depth, num_classes, batch_norm
        self.conv1 = Conv2d(in_channels, WIDTHS[0], 3, stride=1, padding=1, bias=False)
        if batch_norm:
            self.bn1 = BatchNorm2d(WIDTHS[0])
        in_planes = WIDTHS[0]
        for stage, planes in enumerate(WIDTHS, start=1):
            stride = 1 if stage == 1 else 2
            blocks = []
            for b in range(n):
                blocks.append(BasicBlock(in_planes, planes, stride if b == 0 else 1, batch_norm))
                in_planes = planes
            setattr(self, f"layer{stage}", Sequential(*blocks))
        self.linear = Linear(WIDTHS[-1], num_classes)
        for m in self.modules():                    # as the reference implementation
            if isinstance(m, (Conv2d, Linear)):
                init.kaiming_normal_(m.weight)

    def stem(self, x: Tensor) -> Tensor:
        """relu(bn1(conv1(x))): the input to layer1."""
        out = self.conv1(x)
        return relu(self.bn1(out) if self.batch_norm else out)

    def forward(self, x: Tensor) -> Tensor:
        out = self.layer3(self.layer2(self.layer1(self.stem(x))))
        return self.linear(global_avg_pool2d(out))

    def extra_repr(self) -> str:
        return f"depth={self.depth}, num_classes={self.num_classes}, batch_norm={self.batch_norm}"


def _blocks_per_stage(depth) -> int:
    if not isinstance(depth, int) or isinstance(depth, bool) or depth < 8 or (depth - 2) % 6:
        raise ValueError(
            f"resnet: depth must be 6n + 2 for a whole number n >= 1 (the CIFAR ResNets have "
            f"depth {', '.join(map(str, DEPTHS))}), got {depth!r}")
    return (depth - 2) // 6


def resnet(depth: int, num_classes: int = 10, batch_norm: bool = True,
           in_channels: int = 3) -> ResNet:
    """The CIFAR ResNet of the given depth (6n + 2: 20, 32, 44, 56, 110, 218)."""
    return ResNet(depth, num_classes, batch_norm, in_channels)


__all__ = ["DEPTHS", "BasicBlock", "ResNet", "resnet", "shortcut_option_a"]
