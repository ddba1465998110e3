"""skecg: scikit-learn compatible self-supervised representation learning for 12-lead ECG.

Implements Mehari & Strodthoff, "Self-supervised representation learning from 12-lead ECG data"
(Comput. Biol. Med. 141, 2022) as scikit-learn transformers and skorch classifiers.
"""

__version__ = "0.1.0"

LEAD_NAMES = ("I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6")

__all__ = ["LEAD_NAMES", "__version__"]
