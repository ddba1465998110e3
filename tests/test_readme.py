"""README.md's Python examples run as written and print what the text says they print."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
SHARED_DATA_REFERENCE = "../shared/data/"


def python_blocks(text: str) -> list[str]:
    """The bodies of the ```python fenced blocks of a Markdown text, in order."""
    return re.findall(r"^```python[^\n]*\n(.*?)^```", text, flags=re.MULTILINE | re.DOTALL)


def test_python_blocks_are_found():
    text = "text\n```python\nprint(1)\n```\n```bash\nls\n```\n```python\nx = 2\n```"
    blocks = python_blocks(text)
    assert blocks == ["print(1)\n", "x = 2\n"]


BLOCKS = python_blocks(README.read_text())


def test_readme_has_a_python_example():
    assert BLOCKS, "README.md has no ```python block"


@pytest.mark.parametrize("block", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_readme_python_block_runs(block: str, tmp_path):
    for folder in sorted(set(re.findall(r"\.\./shared/data/[\w.-]+", block))):
        if not (ROOT / folder).exists():
            pytest.skip(f"the README example reads {folder}, absent here")
    script = tmp_path / "readme_block.py"
    script.write_text(block)
    # a fresh interpreter in the project root, as a user who pasted the block would run it
    # one thread: small models run faster so, and never stall on a machine shared with others
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, str(script)], cwd=ROOT, capture_output=True,
                          text=True, timeout=900, env=env)
    assert done.returncode == 0, f"README block failed:\n{block}\n{done.stdout}\n{done.stderr}"
    if "macro AUC" in block:
        match = re.search(r"macro AUC\D*(\d\.\d+)", done.stdout)
        assert match, f"no macro AUC printed:\n{done.stdout}"
        assert 0.0 <= float(match.group(1)) <= 1.0
