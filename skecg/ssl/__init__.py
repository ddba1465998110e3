"""Self-supervised encoders as scikit-learn transformers: CPC, SimCLR, BYOL, SwAV (the paper's)
and ST-MEM, JEPA and CMSC."""

from ._base import BaseSSLEncoder
from ._checkpoint import TrainingInterrupted, read_checkpoint
from .byol import BYOLEncoder
from .cmsc import CMSCEncoder
from .cpc import CPCEncoder
from .jepa import JEPAEncoder
from .simclr import SimCLREncoder
from .stmem import STMEMEncoder
from .swav import SwAVEncoder

ENCODERS = {"cpc": CPCEncoder, "simclr": SimCLREncoder, "byol": BYOLEncoder, "swav": SwAVEncoder,
            "stmem": STMEMEncoder, "jepa": JEPAEncoder, "cmsc": CMSCEncoder}

__all__ = ["ENCODERS", "BYOLEncoder", "BaseSSLEncoder", "CMSCEncoder", "CPCEncoder",
           "JEPAEncoder", "STMEMEncoder", "SimCLREncoder", "SwAVEncoder", "TrainingInterrupted",
           "read_checkpoint"]
