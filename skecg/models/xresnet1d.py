"""XResNet for 1-D signals: the convolutional backbone of the paper's SimCLR, BYOL and SwAV runs.

A one-dimensional adaptation of the "bag of tricks" ResNet (He et al. 2019, as in fastai's
``xresnet``): a three-convolution stem, ResNet-D shortcuts (average pooling before the 1x1
projection) and the last BatchNorm of every residual branch initialised to zero so each block
starts as the identity.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

__all__ = ["XResNet1d", "xresnet1d18", "xresnet1d34", "xresnet1d50", "xresnet1d101"]


def _conv_bn(
    in_channels: int,
    out_channels: int,
    kernel_size: int,
    stride: int = 1,
    relu: bool = True,
    zero_bn: bool = False,
) -> nn.Sequential:
    """Convolution without bias, BatchNorm and (optionally) ReLU; 'same' padding for odd kernels."""
    layers: list[nn.Module] = [
        nn.Conv1d(in_channels, out_channels, kernel_size, stride=stride,
                  padding=kernel_size // 2, bias=False),
        nn.BatchNorm1d(out_channels),
    ]
    # a zero gamma makes the residual branch output zero at initialisation
    nn.init.constant_(layers[1].weight, 0.0 if zero_bn else 1.0)
    if relu:
        layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


class _ResBlock1d(nn.Module):
    """Residual block: basic (two k-convs) when ``expansion == 1``, bottleneck otherwise.

    Parameters
    ----------
    in_channels : int
        Channels of the input.
    width : int
        Hidden width of the block; the output has ``width * expansion`` channels.
    expansion : int
        1 for basic blocks, typically 4 for bottleneck blocks.
    stride : int
        Stride of the block (applied on the k-convolution, as in ResNet v1.5).
    kernel_size : int
        Kernel size of the k-convolutions.
    """

    def __init__(
        self, in_channels: int, width: int, expansion: int, stride: int, kernel_size: int
    ) -> None:
        super().__init__()
        out_channels = width * expansion
        if expansion == 1:
            self.convs = nn.Sequential(
                _conv_bn(in_channels, width, kernel_size, stride=stride),
                _conv_bn(width, out_channels, kernel_size, relu=False, zero_bn=True),
            )
        else:
            self.convs = nn.Sequential(
                _conv_bn(in_channels, width, 1),
                _conv_bn(width, width, kernel_size, stride=stride),
                _conv_bn(width, out_channels, 1, relu=False, zero_bn=True),
            )
        shortcut: list[nn.Module] = []
        if stride != 1:
            # ResNet-D: downsample by averaging rather than by a strided 1x1 conv that drops 1/2
            shortcut.append(nn.AvgPool1d(stride, ceil_mode=True))
        if in_channels != out_channels:
            shortcut.append(_conv_bn(in_channels, out_channels, 1, relu=False))
        self.shortcut = nn.Sequential(*shortcut)
        self.act = nn.ReLU(inplace=True)

    def forward(self, x: Tensor) -> Tensor:
        """Map ``(batch, in_channels, n) -> (batch, out_channels, ceil(n / stride))``."""
        return self.act(self.convs(x) + self.shortcut(x))


class XResNet1d(nn.Module):
    """One-dimensional XResNet backbone with concat (max, average) pooling.

    Parameters
    ----------
    n_leads : int
        Number of input channels (ECG leads).
    layers : sequence of int
        Number of residual blocks per stage; stages after the first start with stride 2.
    expansion : int
        1 for basic blocks, otherwise bottleneck blocks whose output is ``width * expansion``.
    block_widths : sequence of int
        Hidden width of the blocks of each stage; same length as ``layers``.
    stem_widths : sequence of int
        Output channels of the stem convolutions (the first has stride 2).
    kernel_size : int
        Kernel size of the stem and of the non-pointwise block convolutions (odd).

    Attributes
    ----------
    out_features : int
        Size of the pooled representation, ``2 * block_widths[-1] * expansion``.
    n_channels : int
        Channels of the last feature map, ``block_widths[-1] * expansion``.

    Examples
    --------
    >>> import torch
    >>> net = XResNet1d()
    >>> net.forward_features(torch.randn(2, 12, 250)).shape
    torch.Size([2, 512])
    """

    def __init__(
        self,
        n_leads: int = 12,
        layers: Sequence[int] = (3, 4, 6, 3),
        expansion: int = 4,
        block_widths: Sequence[int] = (64, 64, 64, 64),
        stem_widths: Sequence[int] = (32, 32, 64),
        kernel_size: int = 5,
    ) -> None:
        super().__init__()
        if len(layers) != len(block_widths):
            raise ValueError(
                f"layers and block_widths must have the same length, got {len(layers)} "
                f"and {len(block_widths)}"
            )
        if kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd, got {kernel_size}")
        if expansion < 1:
            raise ValueError(f"expansion must be >= 1, got {expansion}")
        stem_channels = [n_leads, *stem_widths]
        self.stem = nn.Sequential(
            *[
                _conv_bn(stem_channels[i], stem_channels[i + 1], kernel_size,
                         stride=2 if i == 0 else 1)
                for i in range(len(stem_widths))
            ],
            nn.MaxPool1d(kernel_size=3, stride=2, padding=1),
        )
        stages: list[nn.Module] = []
        in_channels = stem_channels[-1]
        for i, (n_blocks, width) in enumerate(zip(layers, block_widths, strict=True)):
            blocks = []
            for j in range(n_blocks):
                stride = 2 if (i > 0 and j == 0) else 1
                blocks.append(_ResBlock1d(in_channels, width, expansion, stride, kernel_size))
                in_channels = width * expansion
            stages.append(nn.Sequential(*blocks))
        self.stages = nn.Sequential(*stages)
        self.n_channels = in_channels
        self.out_features = 2 * in_channels
        for module in self.modules():
            if isinstance(module, nn.Conv1d):
                nn.init.kaiming_normal_(module.weight)

    def forward_feature_map(self, x: Tensor) -> Tensor:
        """Return the last feature map before pooling.

        Parameters
        ----------
        x : Tensor of shape (batch, n_leads, n_samples)

        Returns
        -------
        Tensor of shape (batch, n_channels, about n_samples / 32)
        """
        return self.stages(self.stem(x))

    def forward_features(self, x: Tensor) -> Tensor:
        """Return the pooled representation.

        Parameters
        ----------
        x : Tensor of shape (batch, n_leads, n_samples)

        Returns
        -------
        Tensor of shape (batch, out_features)
            Concatenation of the global max-pool and the global average-pool of the last
            feature map.
        """
        fmap = self.forward_feature_map(x)
        return torch.cat([fmap.amax(dim=-1), fmap.mean(dim=-1)], dim=1)

    def forward(self, x: Tensor) -> Tensor:
        """Same as :meth:`forward_features`: ``(batch, n_leads, n) -> (batch, out_features)``."""
        return self.forward_features(x)


def _xresnet1d(
    layers: tuple[int, ...], expansion: int, n_leads: int, width: int, **kwargs
) -> XResNet1d:
    return XResNet1d(n_leads=n_leads, layers=layers, expansion=expansion,
                     block_widths=(width,) * len(layers), **kwargs)


def xresnet1d18(n_leads: int = 12, width: int = 64, **kwargs) -> XResNet1d:
    """XResNet1d with basic blocks, layers (2, 2, 2, 2); ``out_features = 2 * width``."""
    return _xresnet1d((2, 2, 2, 2), 1, n_leads, width, **kwargs)


def xresnet1d34(n_leads: int = 12, width: int = 64, **kwargs) -> XResNet1d:
    """XResNet1d with basic blocks, layers (3, 4, 6, 3); ``out_features = 2 * width``."""
    return _xresnet1d((3, 4, 6, 3), 1, n_leads, width, **kwargs)


def xresnet1d50(n_leads: int = 12, width: int = 64, **kwargs) -> XResNet1d:
    """XResNet1d with bottleneck blocks, layers (3, 4, 6, 3); ``out_features = 8 * width``.

    The paper's SimCLR/BYOL/SwAV backbone (512-d representation at ``width=64``).
    """
    return _xresnet1d((3, 4, 6, 3), 4, n_leads, width, **kwargs)


def xresnet1d101(n_leads: int = 12, width: int = 64, **kwargs) -> XResNet1d:
    """XResNet1d with bottleneck blocks, layers (3, 4, 23, 3); ``out_features = 8 * width``."""
    return _xresnet1d((3, 4, 23, 3), 4, n_leads, width, **kwargs)
