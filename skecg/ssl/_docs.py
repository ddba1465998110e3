"""Parameter documentation shared by the four encoders (numpydoc fragment)."""

COMMON_PARAMS_DOC = """\
    input_scaling : {"mV", "standardize"}
        "standardize" (CPC's default, as in the paper): each lead is standardised with a mean
        and standard deviation fitted on the records passed to ``fit``, kept with the model
        (``input_mean_``, ``input_scale_``; also in its saved file) and applied in training and
        ``transform``. "mV" (SimCLR/BYOL/SwAV's default): records are used as they are. Pass
        records in mV either way.
    crop_length : int or None
        Samples of the random crop taken from each record at each training step (None: the
        whole record).
    window, stride : int, default=250, 125
        Sliding windows (in samples; 2.5 s and 1.25 s at 100 Hz) embedded by ``transform``.
    aggregate : {"mean", "max", None}, default="mean"
        How window embeddings are pooled per record; None returns one row per window.
    augmentations : list of str or augmentation objects, or None
        Batched augmentations from :mod:`skecg.augment`, by name or instance.
    fs : float, default=100
        Sampling rate of ``X`` in Hz (used by rate-dependent augmentations).
    batch_size : int
        Records per training step.
    max_epochs : int
        Training epochs (one random crop per record per epoch). ``max_epochs=0`` only
        initialises the network: the randomly initialised baseline of the same architecture.
    optimizer : {"adamw", "adam", "sgd"}
    lr : float
        Peak learning rate.
    weight_decay : float
        Weight decay of weights (biases and BatchNorm parameters get none).
    warmup_epochs : int, default=0
        Epochs of linear learning-rate warm-up.
    lr_schedule : {"cosine", None}
        Cosine decay to 0 after the warm-up, or a constant rate.
    validation_fraction : float or None, default=None
        Fraction of records held out to report ``valid_loss`` each epoch.
    early_stopping_patience : int or None, default=None
        Stop when the (validation, else training) loss has not improved for this many epochs
        and restore the best weights.
    checkpoint_dir : str or None, default=None
        Folder of training checkpoints. Each fit trains into a folder of its own inside it
        (``checkpoint_path_``), named after the estimator and fingerprints of its training
        parameters and of its data (shape, dtype and a hash of at most 256 records, so a
        memmap is never read whole), e.g. ``cpcencoder-1a2b3c4d-5e6f7a8b``, and locked while it
        trains (a ``.lock`` file with the process id; a lock left by a killed process is taken
        over). After every completed epoch the whole training state (weights, optimiser,
        history, schedule position, random generators) is written aside and renamed to
        ``epoch-NNNNN``, replacing the previous epoch, so a kill loses at most the epoch in
        progress. A fit never writes into, nor continues, another fit's folder: the clones of a
        ``GridSearchCV`` or ``cross_validate`` may share one ``checkpoint_dir`` and each trains
        from scratch (a fresh fit beside a run of the same parameters and data warns and takes
        a new folder, ``...-2``).
    resume : bool, default=False
        If True, ``fit`` continues the run in ``checkpoint_dir`` of the same estimator, number
        of leads, parameters (except ``max_epochs``, ``device``, ``verbose``,
        ``checkpoint_dir``, ``early_stopping_patience`` and other settings that change neither
        the network nor the optimisation) and data, up to ``max_epochs`` epochs in all. Any
        other run is refused with a ``ValueError`` naming what differs (the parameters and
        their values, or that the data differ); an empty or missing folder starts a new fit.
        It continues one interrupted fit: searches and cross-validation use
        ``resume=False``.
    warm_start : bool, default=False
        If True, a second ``fit`` continues training the fitted network.
    transform_batch_size : int, default=256
        Windows per forward pass in ``transform``.
    num_workers : int, default=0
        DataLoader worker processes that read and standardise training batches (0: in the
        training process). Helps when batches come from disk (an ``ECGStore``) and cores are
        free; each worker opens its own file descriptors.
    callbacks : list of skorch callbacks or (name, callback) tuples, default=None
        Extra skorch callbacks, appended after the encoder's own (schedule, checkpoints, early
        stopping), e.g. ``EpochScoring`` or a custom logger. Cloned with the estimator.
    precision : {32, "bf16", "fp16"}, default=32
        Autocast dtype for the forward passes (fp16 uses a gradient scaler; for GPUs).
    device : {"cpu", "cuda", "auto"} or str, default="cpu"
    random_state : int, RandomState or None, default=None
        Seeds weights, shuffling, crops and augmentations; the global torch RNG is left as it was.
    verbose : int, default=0
        Write one plain line per epoch to standard error (epoch, losses, time in s), and
        skorch's progress bar during each epoch when standard error is a terminal (checked as
        each fit begins; in a log file there are lines only).

    Training raises :class:`~skecg.ssl.TrainingInterrupted` (a ``KeyboardInterrupt``) when
    interrupted by Ctrl-C, after rolling the model back to its last completed epoch, and
    ``ValueError`` naming the epoch when the loss becomes NaN or infinite.

    Attributes
    ----------
    module_ : torch.nn.Module
        The trained method module; ``module_.backbone`` is the encoder network.
    net_ : skorch.NeuralNet
        The skorch net that trained it.
    history_ : skorch.History
        Per-epoch losses and timings.
    checkpoint_path_ : pathlib.Path or None
        This fit's own folder of checkpoints inside ``checkpoint_dir`` (None without one, or
        when no epoch was completed).
    n_leads_in_ : int
        Number of leads seen in ``fit``.
    device_ : str
        The device used.
"""
