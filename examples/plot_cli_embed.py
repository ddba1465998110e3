"""
Pretraining and embedding from the command line
===============================================

The ``skecg`` command runs the common jobs without writing Python: ``skecg quickstart`` (the
paper's comparison in small), ``skecg pretrain`` (train one encoder and save it), ``skecg embed``
(embed every record of a folder with a saved encoder into a ``.npz`` file with the record ids)
and ``skecg evaluate`` (linear evaluation of a saved encoder). ``quickstart``, ``pretrain`` and
``evaluate`` take the data the same way: ``--data`` (a PTB-XL folder), else ``$SKECG_DATA``, else
a download of 500 PTB-XL records, else synthetic ECG behind a banner; ``--synthetic`` forces
synthetic ECG. ``embed`` takes any folder of WFDB records. See :doc:`/cli` for every option.

This example runs the commands through :func:`subprocess.run`, exactly as in a shell.
"""

# %%
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ptbxl = Path(os.environ.get("SKECG_DATA", "../shared/data/ptb-xl"))
data_args = (["--data", str(ptbxl)] if (ptbxl / "ptbxl_database.csv").is_file()
             else ["--synthetic"])
print("data arguments:", " ".join(data_args))
workdir = Path(tempfile.mkdtemp(prefix="skecg-cli-"))
skecg = [sys.executable, "-m", "skecg.cli"]  # the same as the `skecg` console command


def run(*args):
    """Run ``skecg ARGS`` and show what it printed."""
    print("$ skecg", " ".join(args))
    done = subprocess.run([*skecg, *args], capture_output=True, text=True)
    print(done.stdout + done.stderr)
    done.check_returncode()


# %%
# Pretrain a SimCLR encoder (the CPU preset, here for 3 epochs) and save it
# --------------------------------------------------------------------------
model_file = str(workdir / "simclr.skecg")
run("pretrain", "--method", "simclr", "--epochs", "3", *data_args, "--output", model_file)

# %%
# Embed every record of the folder
# --------------------------------
# One row per record: the encoder's sliding 2.5 s windows averaged per record. The ``.npz``
# file holds the rows and, beside them, each row's record id (for PTB-XL, its ``ecg_id``).
run("embed", "--model", model_file, *data_args, "--output", str(workdir / "embeddings.npz"))
with np.load(workdir / "embeddings.npz") as saved:
    embeddings, record_ids = saved["embeddings"], saved["record_ids"]
print("embeddings:", embeddings.shape, embeddings.dtype, "| first records:", record_ids[:3])

# %%
# A user error is one line on standard error and exit status 2, never a traceback:
done = subprocess.run([*skecg, "embed", "--model", str(workdir / "missing.skecg"), *data_args,
                       "--output", str(workdir / "x.npz")], capture_output=True, text=True)
print("exit status", done.returncode, "|", done.stderr.strip())

# %%
import shutil

shutil.rmtree(workdir)
