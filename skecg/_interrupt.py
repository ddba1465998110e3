"""Interrupted training, shared by the encoders' and the classifier's training loops.

skorch's fit loop catches ``KeyboardInterrupt`` (that is how its ``EarlyStopping`` stops), so
a Ctrl-C would otherwise end ``fit`` normally with a half-trained model. The callbacks that
guard training (:class:`skecg.ssl._checkpoint.TrainingGuard`,
:class:`skecg.classifier.InterruptGuard`) use :func:`was_interrupted` to tell the cases apart
and raise :class:`TrainingInterrupted`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["TrainingInterrupted", "was_interrupted"]


class TrainingInterrupted(KeyboardInterrupt):
    """Training was interrupted (Ctrl-C); the model was rolled back to its last completed epoch.

    Attributes
    ----------
    epoch : int
        Number of completed epochs kept.
    checkpoint : pathlib.Path or None
        Folder of the on-disk checkpoint of that epoch (None without ``checkpoint_dir``).
    """

    def __init__(self, message: str, epoch: int, checkpoint: Path | None):
        super().__init__(message)
        self.epoch = epoch
        self.checkpoint = checkpoint


def was_interrupted(net, completed_epochs: int, target_epochs: int) -> bool:
    """Whether skorch's fit loop ended on a swallowed ``KeyboardInterrupt`` (Ctrl-C).

    skorch also stops early stopping by raising ``KeyboardInterrupt``; a fit that reached
    ``target_epochs`` with no epoch left unfinished, or whose early stopping ran out of
    patience, was not interrupted.
    """
    stopped_early = any(getattr(cb, "misses_", 0) >= (getattr(cb, "patience", None) or np.inf)
                        for _, cb in net.callbacks_)
    finished = completed_epochs >= target_epochs and len(net.history) == completed_epochs
    return not (stopped_early or finished)
