"""Self-supervised encoders as scikit-learn transformers: CPC, SimCLR, BYOL and SwAV."""

from ._base import BaseSSLEncoder
from ._checkpoint import TrainingInterrupted, read_checkpoint
from .byol import BYOLEncoder
from .cpc import CPCEncoder
from .simclr import SimCLREncoder
from .swav import SwAVEncoder

ENCODERS = {"cpc": CPCEncoder, "simclr": SimCLREncoder, "byol": BYOLEncoder, "swav": SwAVEncoder}

__all__ = ["ENCODERS", "BYOLEncoder", "BaseSSLEncoder", "CPCEncoder", "SimCLREncoder",
           "SwAVEncoder", "TrainingInterrupted", "read_checkpoint"]
