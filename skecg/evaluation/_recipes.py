"""The reference code's recipes per method: ECGClassifier parameters, described in one line."""

from __future__ import annotations

METHODS = ("simclr", "byol", "swav", "cpc", "stmem", "jepa", "cmsc")
REGIMES = ("linear", "finetune", "supervised")
_METHOD_OF_ENCODER = {"CPCEncoder": "cpc", "SimCLREncoder": "simclr", "BYOLEncoder": "byol",
                      "SwAVEncoder": "swav", "STMEMEncoder": "stmem", "JEPAEncoder": "jepa",
                      "CMSCEncoder": "cmsc"}
_RECENT_METHODS = ("stmem", "jepa", "cmsc")  # recipes from the authors' downstream settings
JEPA_LINEAR_EPOCHS = 37  # kweimann's 5k steps of batch 128, in epochs of PTB-XL folds 1-8



# ------------------------------------------------------------------------------- recipes
def method_name(encoder_or_name) -> str:
    """The method key ("simclr", ..., "cmsc"; see ``METHODS``) of an encoder or a name."""
    if isinstance(encoder_or_name, str):
        name = encoder_or_name.lower()
        if name not in METHODS:
            raise ValueError(f"unknown method {encoder_or_name!r}; expected one of {METHODS} "
                             "or a skecg SSL encoder.")
        return name
    estimator = getattr(encoder_or_name, "estimator", encoder_or_name)  # FrozenEstimator
    # a subclass of an encoder (a user's tweak) keeps its method's recipe
    name = next((_METHOD_OF_ENCODER[c.__name__] for c in type(estimator).__mro__
                 if c.__name__ in _METHOD_OF_ENCODER), None)
    if name is None:
        raise ValueError(f"no paper recipe for {type(estimator).__name__}; expected one of "
                         f"{sorted(_METHOD_OF_ENCODER)} or a name from {METHODS}.")
    return name


def paper_recipe(encoder_or_name, regime: str, *, epoch_scale: float = 1.0,
                 **overrides) -> dict:
    """The reference code's :class:`~skecg.classifier.ECGClassifier` parameters per method.

    ``ECGClassifier(**paper_recipe(encoder, regime))`` is the paper's model, unfitted,
    cloneable and searchable (add ``train_split=`` for the recipe's epoch selection).

    ========  ============  ==========================================================
    method    regime        recipe (AdamW, batch 128, random 2.5 s crops, windows of
                            250 with stride 125 averaged per record, best epoch on the
                            validation records)
    ========  ============  ==========================================================
    SimCLR,   linear        frozen encoder (BatchNorm in eval mode), ``Linear(512 -> n)``,
    BYOL,                   lr 4e-3 (8e-3 x 128/256), weight decay 0.1, 50 epochs; raw mV
    SwAV      finetune      ``Linear(512 -> n)`` head, all layers from epoch 0, lr 1e-2,
                            weight decay 0.1, 50 epochs, no discriminative lr; raw mV
              supervised    the finetune recipe on a randomly initialised xresnet1d50
    CPC       linear        frozen encoder, ``Linear(1536 -> n)``, lr 1e-3, weight decay
                            1e-3, 50 epochs; per-lead standardised input
              finetune      paper head (dropout 0.25 / 0.5), 50 head-only epochs at lr
                            1e-3, then 20 epochs of all layers at lr 1e-4 with encoder
                            x0.01 and LSTM x0.1; weight decay 1e-3; standardised input
              supervised    paper head, all layers from epoch 0 at lr 1e-3, weight decay
                            1e-3, 70 epochs, standardised input (skecg's choice: the
                            reference lists no from-scratch recipe for CPC)
    ========  ============  ==========================================================

    ST-MEM, ECG-JEPA and CMSC follow their authors' downstream settings as far as
    ``ECGClassifier`` allows. Linear: the frozen encoder and ``Linear(width -> n)`` on its
    pooled representation (the mean of all lead x time tokens of a token model). Input scaling
    is the encoder's (raw mV by default); the best epoch is chosen on the validation records.

    ========  ============  ==========================================================
    method    regime        recipe
    ========  ============  ==========================================================
    ST-MEM    linear        AdamW lr 5e-4 (1e-3 x 128/256), weight decay 0.05, batch
                            128, 50 epochs; training crops and evaluation windows of the
                            encoder's ``window`` (9 s) at its ``stride`` (0.5 s: the
                            authors' three crops per record), probabilities averaged
              finetune      the same, all layers from epoch 0, no layer decay
              supervised    the finetune recipe on the encoder's transformer (size,
                            patch length, leads) randomly initialised
    JEPA      linear        AdamW lr 1e-3, weight decay 0.1, batch 128, 37 epochs (the
                            authors' 5k steps); 2.5 s crops, windows of the encoder's
                            ``window`` (2.5 s) at its ``stride`` (1.25 s)
              finetune      37 head-only epochs at lr 1e-3 (the authors' linear stage),
                            then 37 epochs of all layers at lr 1e-4; weight decay 0
              supervised    all layers from epoch 0 at lr 1e-4, weight decay 0, 74
                            epochs, on the encoder's transformer from scratch
    CMSC      linear        Adam lr 1e-4, no weight decay, batch 256, 50 epochs; crop
                            and window of the encoder's ``crop_length`` (the whole
                            10-s record, as the authors' downstream input)
              finetune      the same, all layers from epoch 0
              supervised    the finetune recipe on the encoder's backbone from scratch
    ========  ============  ==========================================================

    Departures from the authors. ST-MEM: the pooled vector gets no LayerNorm of its own (the
    backbone's final LayerNorm acts per token, before the mean); no RandAugment, warm-up or
    cosine schedule; the input is neither filtered nor z-scored per record (the encoder's
    scaling); 50 epochs are skecg's choice (the released configuration's 10 epochs of batch
    16 are placeholders). JEPA: the attentive pooler (one query, cross-attention) is replaced
    by the mean-pooled linear head; constant lr (no cosine to 1e-6), no dropout 0.1 and no
    gradient clipping; the linear stage of finetuning has weight decay 0 (the authors' 0.1);
    training from scratch is skecg's choice (the authors report none). CMSC: the best
    validation epoch of 50 stands in for up to 400 epochs with early stopping (patience 15);
    a 12-lead record is one instance (the authors classify each lead on its own).

    The reference standardises CPC's input with fixed per-lead statistics of the full PTB-XL;
    here ``input_scaling="standardize"`` fits them on the classifier's training records.
    The protocols train a linear evaluation for the recipe's epochs *of the full PTB-XL*
    (:func:`skecg._linear_eval.paper_linear_steps`: 50 epochs are about 6,800 steps).

    Parameters
    ----------
    encoder_or_name : skecg SSL encoder or str
        A fitted encoder is put in as ``encoder`` (linear and finetune regimes); for
        "supervised" the same architecture is trained from scratch (a name from ``METHODS``:
        the paper's xresnet1d50 of width 64, the CPC network of width 512, or the default
        encoder's backbone for "stmem", "jepa" and "cmsc").
    regime : {"linear", "finetune", "supervised"}
    epoch_scale : float, default=1.0
        Multiplies the epochs of each phase (each at least 1): shorter CPU presets keep the
        recipe's shape (CPC's and JEPA's finetuning keep a head-only and an all-layer phase).
    **overrides
        Entries replacing the recipe's (applied after ``epoch_scale``).

    Returns
    -------
    recipe : dict
        ``ECGClassifier`` parameters (``input_scaling`` included).
    """
    method = method_name(encoder_or_name)
    if regime not in REGIMES:
        raise ValueError(f"regime must be one of {REGIMES}; got {regime!r}.")
    if not (isinstance(epoch_scale, (int, float)) and epoch_scale > 0):
        raise ValueError(f"epoch_scale must be a number > 0; got {epoch_scale!r}.")
    cpc = method == "cpc"

    def epochs(n: int) -> int:
        return max(1, round(n * epoch_scale))

    if method in _RECENT_METHODS:
        return {**_recent_recipe(encoder_or_name, method, regime, epochs), **overrides}
    recipe = dict(crop_length=250, window=250, stride=125, aggregate="mean", batch_size=128,
                  optimizer="adamw", input_scaling="standardize" if cpc else "mV",
                  head_epochs=0, finetune_lr=None, freeze_encoder=False)
    if regime == "linear":
        recipe.update(head="linear", freeze_encoder=True, max_epochs=epochs(50),
                      lr=1e-3 if cpc else 8e-3 * 128 / 256, weight_decay=1e-3 if cpc else 0.1)
    elif cpc:
        recipe.update(head="paper", head_dropout=(0.25, 0.5), max_epochs=epochs(70), lr=1e-3,
                      weight_decay=1e-3)
        if regime == "finetune":
            recipe.update(head_epochs=epochs(50), max_epochs=epochs(50) + epochs(20),
                          finetune_lr=1e-4, discriminative_lr=(0.01, 0.1))
    else:
        recipe.update(head="linear", max_epochs=epochs(50), lr=1e-2, weight_decay=0.1)
    if regime != "linear":
        recipe.setdefault("discriminative_lr", (1.0, 1.0))
    if regime == "supervised":
        recipe.update(supervised_baseline_params(
            encoder_or_name if not isinstance(encoder_or_name, str) else None, method))
    elif not isinstance(encoder_or_name, str):
        recipe["encoder"] = encoder_or_name
    recipe.update(overrides)
    return recipe


def describe_recipe(recipe: dict) -> str:
    """One line naming a recipe's head, phases, optimiser settings and input scaling."""
    defaults = dict(lr=1e-3, weight_decay=1e-3, max_epochs=50, batch_size=128)  # ECGClassifier's
    recipe = {**defaults, **recipe}
    parts = [f"{recipe.get('head', 'linear')} head"]
    if recipe.get("freeze_encoder"):
        parts.append("frozen encoder")
    elif recipe.get("head_epochs"):
        factors = recipe.get("discriminative_lr") or (1, 1)
        parts.append(f"{recipe['head_epochs']} head-only epochs, then all layers at lr "
                     f"{recipe.get('finetune_lr') or recipe['lr']:g} x ({factors[0]:g}, "
                     f"{factors[1]:g})")
    else:
        parts.append("all layers")
    epochs = (f"{recipe['max_epochs']} PTB-XL epochs" if recipe.get("freeze_encoder")
              else f"{recipe['max_epochs']} epochs")
    parts.append(f"{recipe.get('optimizer', 'adamw')} lr {recipe['lr']:g} wd "
                 f"{recipe['weight_decay']:g}, {epochs}, batch {recipe['batch_size']}, input "
                 f"{recipe.get('input_scaling', 'mV')}")
    return "; ".join(parts)


def _recent_recipe(encoder_or_name, method: str, regime: str, epochs) -> dict:
    """:func:`paper_recipe` of ST-MEM, JEPA and CMSC (its second table), before overrides."""
    named = isinstance(encoder_or_name, str)
    encoder = None if named else getattr(encoder_or_name, "estimator", encoder_or_name)
    if encoder is None:
        from ..ssl import ENCODERS

        encoder = ENCODERS[method]()  # the default configuration: windows and scaling
    recipe = dict(aggregate="mean", optimizer="adamw", input_scaling=encoder.input_scaling,
                  head="linear", head_epochs=0, finetune_lr=None, freeze_encoder=False)
    if method == "stmem":
        recipe.update(crop_length=encoder.window, window=encoder.window, stride=encoder.stride,
                      batch_size=128, lr=1e-3 * 128 / 256, weight_decay=0.05,
                      max_epochs=epochs(50))
    elif method == "jepa":
        recipe.update(crop_length=encoder.window, window=encoder.window, stride=encoder.stride,
                      batch_size=128, lr=1e-3, weight_decay=0.1 if regime == "linear" else 0.0,
                      max_epochs=epochs(JEPA_LINEAR_EPOCHS))
        if regime == "finetune":  # the authors finetune from their linear checkpoint
            recipe.update(head_epochs=epochs(JEPA_LINEAR_EPOCHS), finetune_lr=1e-4,
                          max_epochs=2 * epochs(JEPA_LINEAR_EPOCHS))
        elif regime == "supervised":
            recipe.update(lr=1e-4, max_epochs=2 * epochs(JEPA_LINEAR_EPOCHS))
    else:  # cmsc: the whole record downstream
        length = encoder.crop_length or 2 * encoder.window
        recipe.update(optimizer="adam", crop_length=length, window=length,
                      stride=max(1, length // 2), batch_size=256, lr=1e-4, weight_decay=0.0,
                      max_epochs=epochs(50))
    if regime == "linear":
        recipe["freeze_encoder"] = True
    else:
        recipe["discriminative_lr"] = (1.0, 1.0)
    if regime == "supervised":
        recipe.update(supervised_baseline_params(encoder, method))
    elif not named:
        recipe["encoder"] = encoder_or_name
    return recipe


def _transformer_params(size: str | None, width: int | None, depth: int | None,
                        n_heads: int | None, patch_length: int, leads) -> dict:
    """ECGClassifier arguments of the :func:`skecg.models.transformer` these arguments build."""
    from ..models.transformer import transformer_size

    preset = transformer_size(size, width, depth, n_heads)
    params = {"depth": preset["depth"], "n_heads": preset["n_heads"],
              "patch_length": int(patch_length)}
    if leads is not None:
        params["leads"] = [leads] if isinstance(leads, str) else list(leads)
    return {"encoder": "transformer", "width": preset["width"], "backbone_params": params}


def supervised_baseline_params(encoder, method: str | None = None) -> dict:
    """ECGClassifier arguments that train the encoder's backbone architecture from scratch.

    Parameters
    ----------
    encoder : skecg SSL encoder or None
        None: the paper's architecture of ``method`` (xresnet1d50 width 64, CPC width 512) or
        the backbone of its default encoder ("stmem", "jepa", "cmsc").
    method : str, optional
        Method key, used when ``encoder`` is None.

    Returns
    -------
    dict
        ``encoder`` (a backbone name), ``width`` and, for a transformer, ``backbone_params``
        (depth, heads, patch length and the encoder's ``leads``): the same network, randomly
        initialised.
    """
    if encoder is None and method in _RECENT_METHODS:
        from ..ssl import ENCODERS

        encoder = ENCODERS[method]()  # its default backbone
    if encoder is None:
        return ({"encoder": "cpc", "width": 512} if method == "cpc"
                else {"encoder": "xresnet1d50", "width": 64})
    encoder = getattr(encoder, "estimator", encoder)
    if hasattr(encoder, "size") and hasattr(encoder, "patch_length"):  # ST-MEM, JEPA
        return _transformer_params(encoder.size, encoder.width, encoder.depth, encoder.n_heads,
                                   encoder.patch_length, encoder.leads)
    if getattr(encoder, "backbone", None) == "transformer":  # CMSC on patch tokens
        return _transformer_params(None, encoder.width, None, None, encoder.patch_length,
                                   encoder.leads)
    if hasattr(encoder, "context_width"):  # CPCEncoder
        return {"encoder": "cpc", "width": encoder.context_width}
    return {"encoder": encoder.backbone, "width": encoder.width}


