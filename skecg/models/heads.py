"""Heads put on a backbone's pooled representation: SSL projectors and downstream classifiers."""

from __future__ import annotations

from torch import Tensor, nn

__all__ = ["ProjectionMLP", "PaperHead", "LinearHead"]


class ProjectionMLP(nn.Module):
    """Multi-layer perceptron ``Linear - [BN] - ReLU - (repeated) - Linear [- BN]``.

    Used as SimCLR projector (``batch_norm=False``), BYOL projector/predictor and SwAV projector.

    Parameters
    ----------
    in_features : int
        Input size.
    hidden_features : int
        Size of every hidden layer.
    out_features : int
        Output size.
    n_layers : int
        Number of linear layers (>= 1); ``n_layers=1`` is a single linear map.
    batch_norm : bool
        Whether a BatchNorm follows every hidden linear layer.
    last_batch_norm : bool
        Whether a BatchNorm (without affine parameters) follows the output layer.
    """

    def __init__(
        self,
        in_features: int,
        hidden_features: int,
        out_features: int,
        n_layers: int = 2,
        batch_norm: bool = True,
        last_batch_norm: bool = False,
    ) -> None:
        super().__init__()
        if n_layers < 1:
            raise ValueError(f"n_layers must be >= 1, got {n_layers}")
        layers: list[nn.Module] = []
        size = in_features
        for _ in range(n_layers - 1):
            # a bias right before BatchNorm is cancelled by its mean subtraction
            layers.append(nn.Linear(size, hidden_features, bias=not batch_norm))
            if batch_norm:
                layers.append(nn.BatchNorm1d(hidden_features))
            layers.append(nn.ReLU(inplace=True))
            size = hidden_features
        layers.append(nn.Linear(size, out_features, bias=not last_batch_norm))
        if last_batch_norm:
            layers.append(nn.BatchNorm1d(out_features, affine=False))
        self.net = nn.Sequential(*layers)
        self.in_features = in_features
        self.out_features = out_features

    def forward(self, x: Tensor) -> Tensor:
        """Map ``(batch, in_features) -> (batch, out_features)``."""
        return self.net(x)


class PaperHead(nn.Module):
    """The paper's finetuning head: ``BN-Dropout-Linear(hidden)-ReLU-BN-Dropout-Linear``.

    Parameters
    ----------
    in_features : int
        Size of the (concat-pooled) representation.
    n_outputs : int
        Number of outputs (logits).
    hidden : int
        Hidden size.
    dropout : float or (float, float), default=(0.25, 0.5)
        Dropout probability of the first and the second dropout layer (the reference's
        0.25 and 0.5); one float sets both.
    """

    def __init__(
        self, in_features: int, n_outputs: int, hidden: int = 512,
        dropout: float | tuple[float, float] = (0.25, 0.5),
    ) -> None:
        super().__init__()
        first, second = (dropout, dropout) if isinstance(dropout, (int, float)) else dropout
        self.net = nn.Sequential(
            nn.BatchNorm1d(in_features),
            nn.Dropout(first),
            nn.Linear(in_features, hidden),
            nn.ReLU(inplace=True),
            nn.BatchNorm1d(hidden),
            nn.Dropout(second),
            nn.Linear(hidden, n_outputs),
        )
        self.in_features = in_features
        self.out_features = n_outputs

    def forward(self, x: Tensor) -> Tensor:
        """Map ``(batch, in_features) -> (batch, n_outputs)``."""
        return self.net(x)


class LinearHead(nn.Module):
    """A linear layer, optionally preceded by BatchNorm, for linear evaluation.

    Parameters
    ----------
    in_features : int
        Size of the representation.
    n_outputs : int
        Number of outputs (logits).
    batch_norm : bool
        Whether a BatchNorm standardises the features before the linear layer.
    """

    def __init__(self, in_features: int, n_outputs: int, batch_norm: bool = False) -> None:
        super().__init__()
        self.norm = nn.BatchNorm1d(in_features) if batch_norm else nn.Identity()
        self.linear = nn.Linear(in_features, n_outputs)
        self.in_features = in_features
        self.out_features = n_outputs

    def forward(self, x: Tensor) -> Tensor:
        """Map ``(batch, in_features) -> (batch, n_outputs)``."""
        return self.linear(self.norm(x))
