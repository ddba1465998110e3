"""The ``skecg`` console command: quickstart, pretrain, embed, evaluate."""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from . import __version__

PTBXL_SUBSET_RECORDS = 500
_SYNTHETIC_MEANING = {
    "quickstart": " The numbers below come from simulated ECGs and say nothing about real\n"
                  " performance.",
    "evaluate": " The numbers below come from simulated ECGs and say nothing about real\n"
                " performance.",
    "pretrain": " The model is trained on simulated ECGs: it has learned nothing about real\n"
                " ECGs. OUTPUT.json beside the model says so.",
    "embed": " These are embeddings of simulated ECGs, not of your records; the output\n"
             " file says so (synthetic=True, data=...).",
}


def synthetic_banner(command: str = "quickstart", forced: bool = False) -> str:
    """The banner printed before a ``command`` runs on synthetic ECG (``--synthetic``: forced)."""
    why = ("--synthetic was given" if forced
           else "no PTB-XL folder was found or downloaded")
    return "\n".join(["=" * 72, f" SYNTHETIC DATA: {why}.",
                      _SYNTHETIC_MEANING.get(command, _SYNTHETIC_MEANING["quickstart"]),
                      "=" * 72])


SYNTHETIC_BANNER = synthetic_banner()
EMBED_FORMATS = ("auto", "wfdb", "ptbxl", "challenge")

# Small CPU configurations: about a minute each on 2 cores for the 500-record PTB-XL subset
# (benchmarks/results/bench_linear_probe.txt: 1.5 s per CPC epoch, 0.25 s per SimCLR epoch).
_SMALL_XRESNET = dict(backbone="xresnet1d18", width=32, crop_length=250, batch_size=64, lr=1e-3)
CPU_PRESETS = {
    "cpc": dict(encoder_width=128, context_width=128, crop_length=250, batch_size=32, lr=1e-3,
                max_epochs=60),
    "simclr": dict(_SMALL_XRESNET, max_epochs=300),
    "byol": dict(_SMALL_XRESNET, base_momentum=0.99, max_epochs=300),
    "swav": dict(_SMALL_XRESNET, n_prototypes=100, max_epochs=300),
    # ST-MEM, JEPA and CMSC at CPU sizes, measured with OMP_NUM_THREADS=1 on 304 records:
    # 2.5, 5.5 and 1.3 s per epoch. Token models 64 wide, 4 blocks; lr 1e-3 (the authors'
    # 1.5e-4 x batch/256 and 1e-4 are for hundreds of epochs); JEPA on 5-s crops (10 s costs 5x)
    # with a faster EMA (its 0.998 -> 0.9995 is for 100k steps).
    "stmem": dict(width=64, depth=4, n_heads=4, decoder_width=32, decoder_depth=1,
                  decoder_heads=2, batch_size=32, lr=1e-3, warmup_epochs=2, max_epochs=30),
    "jepa": dict(width=64, depth=4, n_heads=4, crop_length=500, momentum_start=0.99,
                 momentum_end=0.999, batch_size=32, lr=1e-3, warmup_epochs=2, max_epochs=30),
    "cmsc": dict(backbone="xresnet1d18", width=32, batch_size=64, lr=1e-3, max_epochs=60),
}
SUPERVISED_EPOCHS = 30


class UsageError(Exception):
    """A problem with the command line or its inputs, reported as one line."""


def _say(message: str) -> None:
    print(f"[skecg {time.strftime('%H:%M:%S')}] {message}", flush=True)


def _progress() -> int:
    """Verbosity of record loading: progress bars on a terminal, quiet in a log file.

    Training always logs: the encoders' ``verbose=1`` writes one plain line per epoch, with a
    progress bar on a terminal (:class:`skecg._progress.EpochProgress`).
    """
    return int(sys.stderr.isatty())


# ------------------------------------------------------------------------------------- data
def _download_ptbxl_subset(folder: Path, n_records: int) -> Path | None:
    """Fetch the first ``n_records`` 100 Hz PTB-XL records with wfdb; None when offline."""
    import wfdb

    complete = folder / ".skecg-download-complete"
    if complete.is_file():  # an earlier download finished: reuse it
        return folder
    files = ["ptbxl_database.csv", "scp_statements.csv"]
    for ecg_id in range(1, n_records + 1):
        stem = f"records100/{(ecg_id // 1000) * 1000:05d}/{ecg_id:05d}_lr"
        files += [f"{stem}.hea", f"{stem}.dat"]
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(15)
    try:
        wfdb.dl_files("ptb-xl", str(folder), files)
    except Exception as exc:  # offline, blocked or partial: fall back to synthetic data
        _say(f"could not download PTB-XL ({type(exc).__name__}); using synthetic data")
        return None
    finally:
        socket.setdefaulttimeout(previous)
    complete.write_text(f"{n_records} records\n")
    return folder


def _check_cache_dir(cache_dir) -> None:
    """A --cache-dir must be a folder this process can write to (created when missing)."""
    if cache_dir is None:
        return
    folder = Path(cache_dir)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        raise UsageError(f"--cache-dir {folder} is not a writable folder "
                         f"({exc.strerror or type(exc).__name__})") from None


def _check_output_file(output) -> None:
    """Fail before any training when the --output file cannot be written."""
    path = Path(output)
    if path.is_dir():
        raise UsageError(f"--output {path} is a folder; give a file name")
    if not path.parent.is_dir():
        raise UsageError(f"--output {path}: folder {path.parent} does not exist")
    if not os.access(path.parent, os.W_OK):
        raise UsageError(f"--output {path}: folder {path.parent} is not writable")


def _load_data(args) -> tuple:
    """Return (data Bunch, description, synthetic flag) following --data/$SKECG_DATA/download.

    Synthetic data is always announced with :func:`synthetic_banner` (worded for the command).
    """
    from .datasets import load_ptbxl, make_synthetic_ecg

    _check_cache_dir(args.cache_dir)
    path = args.data or os.environ.get("SKECG_DATA")
    if not args.synthetic and path is None:
        cache = Path.home() / ".cache" / "skecg" / "ptb-xl-subset"
        _say(f"no --data and no $SKECG_DATA: downloading {PTBXL_SUBSET_RECORDS} PTB-XL records "
             f"to {cache}")
        path = _download_ptbxl_subset(cache, PTBXL_SUBSET_RECORDS)
    if args.synthetic or path is None:
        print(synthetic_banner(args.command, forced=args.synthetic), flush=True)
        data = make_synthetic_ecg(n_records=400, random_state=0)
        return data, "synthetic ECG (400 records)", True
    path = Path(path)
    if not (path / "ptbxl_database.csv").is_file():
        raise UsageError(f"{path} is not a PTB-XL folder (no ptbxl_database.csv); pass the folder "
                         "that holds ptbxl_database.csv, scp_statements.csv and records100/.")
    data = load_ptbxl(path, sampling_rate=100, task=args.task, n_jobs=2,
                      cache_dir=args.cache_dir, verbose=_progress())
    return data, f"PTB-XL at {path} ({len(data.X)} records, task {args.task})", False


# ------------------------------------------------------------------------------- quickstart
def _quickstart(args) -> int:

    from .datasets import ptbxl_split
    from .evaluation import linear_evaluation, plot_table
    from .ssl import ENCODERS

    start = time.perf_counter()
    output = Path(args.output)
    try:
        output.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"--output folder {output} cannot be created ({exc.strerror})") from None
    data, description, synthetic = _load_data(args)
    _say(f"data: {description}; X {data.X.shape}, {data.y.shape[1]} labels")
    split = ptbxl_split(data.meta)
    X = data.X  # in mV: each encoder carries its input scaling (CPC standardises per lead)
    tables = []
    for method in args.methods:
        params = dict(CPU_PRESETS[method], random_state=args.seed, verbose=1)  # epoch lines
        if args.epochs is not None:
            params["max_epochs"] = args.epochs
        encoder = ENCODERS[method](**params)
        _say(f"pretraining {method.upper()} for {params['max_epochs']} epochs on "
             f"{len(split.train) + len(split.valid)} unlabelled records (folds 1-9)")
        t0 = time.perf_counter()
        encoder.fit(X[np.concatenate([split.train, split.valid])])
        loss = encoder.history_[-1, "train_loss"] if len(encoder.history_) else float("nan")
        _say(f"  done in {time.perf_counter() - t0:.0f} s (last loss {loss:.3f}); linear "
             "evaluation against the random-init encoder")
        table = linear_evaluation(encoder, data, splits=split, protocol="probe",
                                  n_bootstraps=500)
        tables.append(table)
        for row in table.itertuples():
            _say(f"  {row.model:7s} {row.pretraining:20s} test AUC {row.test_auc:.3f} "
                 f"[{row.test_auc_low:.3f}, {row.test_auc_high:.3f}]")
    if args.supervised:
        tables.append(_supervised_row(data, split, args))
    import pandas as pd

    table = pd.concat(tables, ignore_index=True)
    _write_outputs(table, args.output, description, synthetic, plot_table)
    _say(f"finished in {time.perf_counter() - start:.0f} s")
    return 0


def _supervised_row(data, split, args):
    """Supervised-from-scratch baseline with the linear-probe table's columns."""
    from .evaluation import supervised_evaluation

    epochs = args.epochs if args.epochs is not None else SUPERVISED_EPOCHS
    _say(f"training the supervised baseline (xresnet1d18, width 32) for {epochs} epochs")
    recipe = dict(encoder="xresnet1d18", width=32, max_epochs=epochs, batch_size=32, lr=1e-3,
                  weight_decay=1e-3, verbose=_progress())
    table = supervised_evaluation(data, recipe=recipe, splits=split, n_bootstraps=500,
                                  random_state=args.seed)
    _say(f"  supervised test AUC {table['test_auc'].iloc[0]:.3f}")
    return table


def _write_outputs(table, output, description, synthetic, plot_table) -> None:
    from .evaluation import format_table, markdown_table

    output = Path(output)
    output.mkdir(parents=True, exist_ok=True)
    shown = table.round(3)
    header = f"# skecg quickstart\n\nData: {description}.\n"
    if synthetic:
        header += "\n**Synthetic data: these numbers say nothing about real performance.**\n"
    markdown = header + "\n" + markdown_table(shown) + "\n"
    (output / "results.md").write_text(markdown)
    table.to_csv(output / "results.csv", index=False)
    print("\n" + format_table(table) + "\n", flush=True)  # the files keep every column
    try:
        plot_table(table, output / "results.png")
        _say(f"wrote {output / 'results.md'}, results.csv and results.png")
    except ImportError:
        _say(f"wrote {output / 'results.md'} and results.csv (pip install 'skecg[plot]' for "
             "the PNG plot)")


# ------------------------------------------------------------------ pretrain / embed / evaluate
def _pretrain(args) -> int:
    from .ssl import ENCODERS
    from .ssl._checkpoint import TrainingInterrupted

    _check_output_file(args.output)
    if args.devices < 1:
        raise UsageError(f"--devices must be >= 1; got {args.devices}")
    if args.devices > 1 and "WORLD_SIZE" not in os.environ:
        return _launch_data_parallel(args)
    checkpoints = Path(args.checkpoint_dir or f"{args.output}.checkpoints")
    params = dict(CPU_PRESETS[args.method], random_state=args.seed, verbose=1,  # epoch lines
                  checkpoint_dir=str(checkpoints), resume=args.resume)
    if args.devices > 1:  # one process per GPU with CUDA, else CPU processes (gloo)
        import torch

        params["device"] = "cuda" if torch.cuda.is_available() else "cpu"
    if args.epochs is not None:
        params["max_epochs"] = args.epochs
    encoder = ENCODERS[args.method](**params)
    encoder._validate_params()
    data, description, synthetic = _load_data(args)
    if not args.resume:  # a run of this same command (method, parameters, data) is there
        from .ssl._checkpoint import data_fingerprint

        same, _ = encoder._runs_of_this_fit(data.X.shape[1], data_fingerprint(data.X))
        if same:
            raise UsageError(f"{checkpoints} holds the checkpoints of a run of this same "
                             f"command ({same[-1].name}); add --resume to continue it, or "
                             "delete the folder")
    _say(f"pretraining {args.method.upper()} on {description}; checkpoints in {checkpoints}")
    try:
        encoder.fit(data.X)
    except TrainingInterrupted as exc:
        kept = (f"epoch {exc.epoch} is kept in {exc.checkpoint}" if exc.checkpoint is not None
                else "no epoch was completed")
        print(f"\nskecg pretrain: interrupted after {exc.epoch} of {encoder.max_epochs} epochs; "
              f"{kept}; nothing was written to {args.output}. Run the same command with "
              "--resume to continue.", file=sys.stderr)
        return 130
    from .ssl._distributed import is_main_process

    if not is_main_process():  # data-parallel: rank 0 writes the model
        return 0
    encoder.save(args.output)
    sidecar = _write_provenance(args.output, args, description, synthetic)
    _say(f"saved {args.output} (and {sidecar.name}: data it was trained on)")
    if args.checkpoint_dir is None:  # the run finished: its own checkpoints are not needed
        shutil.rmtree(checkpoints, ignore_errors=True)
    return 0


def _launch_data_parallel(args) -> int:
    """Re-run this command in ``--devices`` processes under torchrun (multi-node: docs/scale)."""
    import subprocess

    from .ssl._distributed import torchrun_command

    command = torchrun_command(args.devices, ["skecg.cli", *args.argv])
    _say(f"data-parallel pretraining in {args.devices} processes: {' '.join(command[1:])}")
    return subprocess.run(command, check=False).returncode


def _load_model(path):
    from .ssl import BaseSSLEncoder

    return BaseSSLEncoder.load(path)  # one-line errors naming the file for anything else


def _write_provenance(model_path, args, description: str, synthetic: bool) -> Path:
    """Write ``MODEL.json`` beside a saved model: the data it was trained on, synthetic or not."""
    import json

    sidecar = Path(f"{model_path}.json")
    record = {"model": Path(model_path).name, "data": description, "synthetic": bool(synthetic),
              "command": ["skecg", *args.argv], "skecg_version": __version__}
    sidecar.write_text(json.dumps(record, indent=2) + "\n")
    return sidecar


def embedding_file(output) -> Path:
    """The file ``skecg embed --output OUTPUT`` writes: OUTPUT, with ``.npz`` added if missing."""
    path = Path(output)
    return path if path.suffix.lower() == ".npz" else path.with_name(path.name + ".npz")


def _embed_records(args, encoder) -> tuple:
    """(X, record ids, description, synthetic) for ``skecg embed``: every record of --data."""
    from . import LEAD_NAMES
    from .datasets import load_physionet_challenge, load_wfdb, make_synthetic_ecg

    _check_cache_dir(args.cache_dir)
    n_leads = int(encoder.n_leads_in_)
    if args.synthetic:
        print(synthetic_banner("embed", forced=True), flush=True)
        data = make_synthetic_ecg(n_records=400, n_leads=n_leads, fs=encoder.fs,
                                  random_state=args.seed)
        ids = [f"synthetic-{i:04d}" for i in range(len(data.X))]
        return data.X, ids, f"synthetic ECG ({len(ids)} records)", True
    folder = args.data or os.environ.get("SKECG_DATA")
    if folder is None:
        raise UsageError("no --data and no $SKECG_DATA: pass --data FOLDER (WFDB records, a "
                         "PTB-XL or a PhysioNet challenge folder) or --synthetic")
    folder = Path(folder)
    if not folder.exists() and not Path(f"{folder}.hea").is_file():
        raise UsageError(f"--data {folder} does not exist")
    leads = args.leads or (LEAD_NAMES if n_leads == len(LEAD_NAMES) else None)
    if leads is None or len(leads) != n_leads:
        named = "" if leads is None else f"--leads names {len(leads)}; "
        raise UsageError(f"{named}the model takes {n_leads} leads: name them, in its order, "
                         "with --leads")
    kind = args.format
    if kind == "auto":
        kind = "ptbxl" if (folder / "ptbxl_database.csv").is_file() else "wfdb"
    common = dict(leads=leads, n_jobs=2, cache_dir=args.cache_dir, on_error=args.on_error,
                  verbose=_progress())
    if kind == "ptbxl":
        from .datasets.ptbxl import _read_csvs

        db = _read_csvs(folder)[0]
        column = "filename_lr" if encoder.fs <= 100 else "filename_hr"
        records = [os.path.abspath(folder / name) for name in db[column].astype(str)]
        data = load_wfdb(records, fs=encoder.fs, duration=args.duration, **common)
        by_path = dict(zip(records, db["ecg_id"].astype(str), strict=True))
        ids = [by_path[str(path)] for path in data.meta["path"]]
    elif kind == "challenge":
        if not folder.is_dir():
            raise UsageError(f"--data {folder} is not a folder of challenge records")
        data = load_physionet_challenge(folder, fs=encoder.fs, duration=args.duration or 10,
                                        drop_unlabeled=False, **common)
        ids = list(data.meta["record"])
    else:
        data = load_wfdb(folder, fs=encoder.fs, duration=args.duration, **common)
        root = folder.resolve() if folder.is_dir() else folder.resolve().parent
        ids = [Path(path).resolve().relative_to(root).as_posix() if folder.is_dir()
               else Path(path).name for path in data.meta["path"]]
    left_out = len(data.missing) + len(data.skipped)
    description = (f"{len(ids)} records of {folder} ({kind} at {encoder.fs:g} Hz"
                   + (f"; {left_out} unreadable left out" if left_out else "") + ")")
    return data.X, ids, description, False


def _embed(args) -> int:
    output = embedding_file(args.output)
    _check_output_file(output)
    encoder = _load_model(args.model)
    X, ids, description, synthetic = _embed_records(args, encoder)
    embeddings = encoder.transform(X)
    per_record = len(embeddings) // len(ids)  # aggregate=None: one row per window
    record_ids = np.repeat(np.asarray(ids, dtype=str), per_record)
    tmp = output.with_name(f".{output.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as file:
            np.savez(file, embeddings=embeddings, record_ids=record_ids,
                     model=str(args.model), data=description, synthetic=bool(synthetic))
        os.replace(tmp, output)
    finally:
        if tmp.exists():
            tmp.unlink()
    _say(f"wrote {output}: embeddings {embeddings.shape} and record_ids of {description}")
    return 0


def _evaluate(args) -> int:
    from .datasets import ptbxl_split
    from .evaluation import linear_evaluation, markdown_table

    encoder = _load_model(args.model)
    data, description, _ = _load_data(args)
    y_test = np.asarray(data.y)[ptbxl_split(data.meta).test]
    one_class = [j for j in range(y_test.shape[1]) if len(np.unique(y_test[:, j])) < 2]
    if len(one_class) == y_test.shape[1]:
        raise UsageError(f"the test set ({len(y_test)} records of {description}) holds a single "
                         "class for every label, so no AUC can be measured; use more records")
    if one_class:
        _say(f"note: {len(one_class)} of {y_test.shape[1]} labels have one class in the test "
             "set; each counts as AUC 0.5 in the macro average (as in the paper)")
    table = linear_evaluation(encoder, data, protocol="probe")
    print(markdown_table(table.round(3)))
    return 0


# ---------------------------------------------------------------------------------- parser
def _add_data_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", help="PTB-XL folder (default: $SKECG_DATA, else a download "
                                       "of 500 records, else synthetic data)")
    parser.add_argument("--synthetic", action="store_true",
                        help="use synthetic ECG instead of PTB-XL")
    parser.add_argument("--task", default="superdiagnostic",
                        choices=["all", "diagnostic", "subdiagnostic", "superdiagnostic",
                                 "form", "rhythm"])
    parser.add_argument("--cache-dir", default=None, help="cache of parsed records")
    parser.add_argument("--seed", type=int, default=0)


def build_parser() -> argparse.ArgumentParser:
    """The ``skecg`` argument parser."""
    parser = argparse.ArgumentParser(prog="skecg", description="Self-supervised 12-lead ECG "
                                     "representation learning (Mehari & Strodthoff 2022).")
    parser.add_argument("--version", action="version", version=f"skecg {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    quick = sub.add_parser("quickstart", help="pretrain CPC and SimCLR, evaluate against "
                                              "random-init and supervised baselines")
    _add_data_args(quick)
    quick.add_argument("--methods", nargs="+", default=["cpc", "simclr"],
                       choices=sorted(CPU_PRESETS), type=str.lower)
    quick.add_argument("--epochs", type=int, default=None,
                       help="epochs per model (default: the CPU preset's)")
    quick.add_argument("--no-supervised", dest="supervised", action="store_false",
                       help="skip the supervised baseline")
    quick.add_argument("--output", default="skecg_quickstart", help="folder for the results")
    quick.set_defaults(func=_quickstart)

    pre = sub.add_parser("pretrain", help="pretrain one encoder and save it")
    _add_data_args(pre)
    pre.add_argument("--method", required=True, choices=sorted(CPU_PRESETS), type=str.lower)
    pre.add_argument("--epochs", type=int, default=None)
    pre.add_argument("--output", required=True, help="model file to write")
    pre.add_argument("--checkpoint-dir", default=None,
                     help="folder of per-epoch checkpoints (default: OUTPUT.checkpoints, "
                          "removed once the model is saved)")
    pre.add_argument("--resume", action="store_true",
                     help="continue an interrupted run from its checkpoints")
    pre.add_argument("--devices", type=int, default=1,
                     help="data-parallel processes (one per GPU with CUDA, else CPU processes); "
                          "re-launches the command with torchrun")
    pre.set_defaults(func=_pretrain)

    emb = sub.add_parser(
        "embed", help="embed every record of a folder with a saved encoder (.npz output)",
        description="Embed every record of --data (a folder of WFDB records, a PTB-XL or a "
                    "PhysioNet challenge folder) with a saved encoder. Records are resampled "
                    "to the encoder's rate. Writes OUTPUT.npz with 'embeddings' (one row per "
                    "record), 'record_ids' (the row's record: its path under --data without "
                    "extension, the PTB-XL ecg_id, or the challenge record name), 'model', "
                    "'data' and 'synthetic'; read it with numpy.load.")
    emb.add_argument("--model", required=True, help="model file written by skecg pretrain")
    emb.add_argument("--data", help="folder of WFDB records (.hea + .dat/.mat, searched "
                                    "recursively), a record path, a PTB-XL folder or a "
                                    "PhysioNet challenge folder (default: $SKECG_DATA)")
    emb.add_argument("--format", choices=EMBED_FORMATS, default="auto",
                     help="how to read --data: wfdb (every record found), ptbxl (the records "
                          "listed in ptbxl_database.csv; ids are ecg_id), challenge (every "
                          "record, labelled or not, 10 s by default); auto: ptbxl if "
                          "ptbxl_database.csv is there, else wfdb")
    emb.add_argument("--duration", type=float, default=None,
                     help="crop/pad every record to this many seconds (needed when records "
                          "differ in length)")
    emb.add_argument("--leads", nargs="+", default=None,
                     help="lead names in the model's order (default: the 12 standard leads)")
    emb.add_argument("--on-error", choices=("raise", "skip"), default="raise",
                     help="skip: leave unreadable records out, and say which")
    emb.add_argument("--synthetic", action="store_true",
                     help="embed synthetic ECG instead (a marked test run)")
    emb.add_argument("--cache-dir", default=None, help="cache of parsed records")
    emb.add_argument("--seed", type=int, default=0, help="seed of the synthetic ECG")
    emb.add_argument("--output", required=True,
                     help="file to write (.npz is added when the name lacks it)")
    emb.set_defaults(func=_embed)

    ev = sub.add_parser("evaluate", help="linear evaluation of a saved encoder on PTB-XL")
    _add_data_args(ev)
    ev.add_argument("--model", required=True)
    ev.set_defaults(func=_evaluate)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``skecg`` command; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)  # for a torchrun re-launch
    try:
        return args.func(args)
    except (UsageError, OSError, ValueError) as exc:
        message = " ".join(str(exc).split()) or type(exc).__name__
        print(f"skecg {args.command}: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"skecg {args.command}: interrupted; no output was written", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
