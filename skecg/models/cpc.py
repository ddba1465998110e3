"""The CPC network of the paper: a convolutional token encoder followed by an LSTM context model."""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor, nn

__all__ = ["CPCNetwork"]

_STRIDED_FIRST_KERNEL = 10
_STRIDED_KERNEL = 4
_STRIDED_STRIDE = 2


class CPCNetwork(nn.Module):
    """Encoder + unidirectional LSTM network used for contrastive predictive coding.

    Parameters
    ----------
    n_leads : int
        Number of input channels (ECG leads).
    encoder : {"pointwise", "strided"}
        "pointwise": ``n_encoder_layers`` convolutions of kernel 1, stride 1 (one token per
        sample, the paper's default). "strided": kernels (10, 4, 4, ...) with stride 2 each and
        no padding (about one token per 16 samples with 4 layers).
    encoder_width : int
        Channels of every encoder convolution (token dimension).
    n_encoder_layers : int
        Number of encoder convolutions, each without bias and followed by BatchNorm and ReLU.
    context_width : int
        Hidden size of the LSTM.
    n_context_layers : int
        Number of stacked LSTM layers.

    Attributes
    ----------
    out_features : int
        Size of the pooled representation, ``3 * context_width``.
    downsampling_factor : int
        Samples per token: 1 for "pointwise", ``2 ** n_encoder_layers`` for "strided".

    Examples
    --------
    >>> import torch
    >>> net = CPCNetwork(encoder_width=32, context_width=16)
    >>> net.forward_features(torch.randn(2, 12, 100)).shape
    torch.Size([2, 48])
    """

    def __init__(
        self,
        n_leads: int = 12,
        encoder: Literal["pointwise", "strided"] = "pointwise",
        encoder_width: int = 512,
        n_encoder_layers: int = 4,
        context_width: int = 512,
        n_context_layers: int = 2,
    ) -> None:
        super().__init__()
        if n_encoder_layers < 1 or n_context_layers < 1:
            raise ValueError("n_encoder_layers and n_context_layers must be >= 1")
        if encoder == "pointwise":
            kernels = [1] * n_encoder_layers
            strides = [1] * n_encoder_layers
        elif encoder == "strided":
            kernels = [_STRIDED_FIRST_KERNEL] + [_STRIDED_KERNEL] * (n_encoder_layers - 1)
            strides = [_STRIDED_STRIDE] * n_encoder_layers
        else:
            raise ValueError(f"encoder must be 'pointwise' or 'strided', got {encoder!r}")
        self._kernels = tuple(kernels)
        self._strides = tuple(strides)
        layers: list[nn.Module] = []
        in_channels = n_leads
        for kernel, stride in zip(kernels, strides, strict=True):
            layers += [
                nn.Conv1d(in_channels, encoder_width, kernel, stride=stride, bias=False),
                nn.BatchNorm1d(encoder_width),
                nn.ReLU(inplace=True),
            ]
            in_channels = encoder_width
        self.encoder = nn.Sequential(*layers)
        self.lstm = nn.LSTM(encoder_width, context_width, num_layers=n_context_layers,
                            batch_first=True)
        self.encoder_width = encoder_width
        self.context_width = context_width
        self.downsampling_factor = int(torch.tensor(strides).prod())
        self.out_features = 3 * context_width

    def n_tokens(self, n_samples: int) -> int:
        """Number of tokens the encoder produces for an input of ``n_samples`` samples."""
        n = n_samples
        for kernel, stride in zip(self._kernels, self._strides, strict=True):
            n = (n - kernel) // stride + 1
        return n

    def encode(self, x: Tensor) -> Tensor:
        """Encode the signal into tokens.

        Parameters
        ----------
        x : Tensor of shape (batch, n_leads, n_samples)

        Returns
        -------
        Tensor of shape (batch, T, encoder_width)
            ``T = n_samples`` for "pointwise", ``n_tokens(n_samples)`` (about
            ``n_samples / 16``) for "strided".
        """
        return self.encoder(x).transpose(1, 2)

    def context(self, tokens: Tensor) -> Tensor:
        """Run the causal LSTM over the tokens.

        Parameters
        ----------
        tokens : Tensor of shape (batch, T, encoder_width)

        Returns
        -------
        Tensor of shape (batch, T, context_width)
            Output ``t`` depends only on tokens ``0..t``.
        """
        return self.lstm(tokens)[0]

    def forward_features(self, x: Tensor) -> Tensor:
        """Return the pooled representation used by linear probes and finetuning heads.

        Parameters
        ----------
        x : Tensor of shape (batch, n_leads, n_samples)

        Returns
        -------
        Tensor of shape (batch, 3 * context_width)
            Concatenation of the mean over time, the max over time and the last time step of
            the context outputs.
        """
        c = self.context(self.encode(x))
        return torch.cat([c.mean(dim=1), c.amax(dim=1), c[:, -1]], dim=1)

    def forward(self, x: Tensor) -> Tensor:
        """Same as :meth:`forward_features`: ``(batch, n_leads, n) -> (batch, out_features)``."""
        return self.forward_features(x)
