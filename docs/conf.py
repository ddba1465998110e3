"""Sphinx configuration.

Build with ``pip install -e ".[docs]" && sphinx-build -W docs docs/_build/html``. The gallery in
``examples/`` is executed during the build, on the shared PTB-XL records when they are found
(``$SKECG_DATA``, else ``../shared/data/ptb-xl`` beside the project) and on synthetic ECG
otherwise. Set ``SKECG_DOCS_GALLERY=0`` to build the pages without running the examples.
"""

from __future__ import annotations

import os
import pkgutil
import re
import sys
import warnings
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
EXAMPLES = ROOT / "examples"
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(DOCS))  # _gallery_order

import skecg  # noqa: E402

project = "skecg"
author = "skecg developers"
copyright = "skecg developers, BSD-3-Clause"
version = release = skecg.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.intersphinx",
    "sphinx.ext.mathjax",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]
exclude_patterns = ["_build", "_screenshots", "generated/*.examples"]
templates_path = ["_templates"]
source_suffix = {".rst": "restructuredtext"}
root_doc = "index"

# -- API reference: one page per public module, listing what its __all__ exports (or, without
# __all__, the public objects it defines), so new functions appear without editing the docs.
autosummary_generate = True
autosummary_ignore_module_all = False
autosummary_imported_members = False
autodoc_default_options = {"members": True, "inherited-members": False}
autodoc_typehints = "none"  # the numpydoc "Parameters" sections carry the types
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_validation_checks: set[str] = set()


def public_modules() -> list[str]:
    """Top-level modules and sub-packages of skecg whose names do not start with '_'.

    ``api.rst`` must list each of them (``tests/test_docs.py`` checks it).
    """
    return sorted(f"skecg.{info.name}" for info in pkgutil.iter_modules(skecg.__path__)
                  if not info.name.startswith("_"))


def write_cli_help() -> None:
    """Write the ``skecg`` command's help texts for ``cli.rst`` (regenerated at each build)."""
    from skecg.cli import build_parser

    os.environ["COLUMNS"] = "90"  # argparse wraps to the terminal width
    parser = build_parser()
    texts = [parser.format_help()]
    for action in parser._subparsers._group_actions:  # argparse keeps sub-parsers here
        for name, sub in action.choices.items():
            texts.append(f"$ skecg {name} --help\n{sub.format_help()}")
    target = DOCS / "generated" / "cli_help.txt"
    target.parent.mkdir(exist_ok=True)
    target.write_text("$ skecg --help\n" + "\n".join(texts))


write_cli_help()

intersphinx_mapping = {
    "python": ("https://docs.python.org/3", None),
    "numpy": ("https://numpy.org/doc/stable", None),
    "sklearn": ("https://scikit-learn.org/stable", None),
    "skorch": ("https://skorch.readthedocs.io/en/stable", None),
    "torch": ("https://pytorch.org/docs/stable", None),
}
# The build machines are offline: intersphinx inventories are optional, never a warning.
intersphinx_timeout = 5
suppress_warnings = ["intersphinx.external"]
if os.environ.get("SKECG_DOCS_INTERSPHINX", "0") != "1":
    intersphinx_mapping = {}

# -- Gallery: every example runs during the build (a failing example fails the build).


def _shared_ptbxl() -> Path | None:
    path = Path(os.environ["SKECG_DATA"]) if "SKECG_DATA" in os.environ else (
        ROOT.parent / "shared" / "data" / "ptb-xl")
    return path if (path / "ptbxl_database.csv").is_file() else None


_ptbxl = _shared_ptbxl()
if _ptbxl is not None:
    # Examples run with the examples folder as working directory; a relative path keeps the
    # rendered pages free of this machine's absolute paths.
    os.environ["SKECG_DATA"] = os.path.relpath(_ptbxl.resolve(), EXAMPLES)
os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("TQDM_DISABLE", "1")  # progress bars belong in a terminal, not the page

_run_gallery = os.environ.get("SKECG_DOCS_GALLERY", "1") != "0"
sphinx_gallery_conf = {
    "examples_dirs": os.path.relpath(EXAMPLES, DOCS),
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_" if _run_gallery else r"^$",
    "within_subsection_order": "_gallery_order.GalleryOrder",
    "backreferences_dir": "generated/backreferences",
    "doc_module": ("skecg",),
    "reference_url": {"skecg": None},
    "abort_on_example_error": True,
    "only_warn_on_example_error": False,
    "remove_config_comments": True,
    "show_memory": False,
    "min_reported_time": 1,
    "download_all_examples": False,
    "plot_gallery": "True" if _run_gallery else "False",
    "matplotlib_animations": False,
    "write_computation_times": False,  # the build log prints each example's time
}
warnings.filterwarnings("ignore", category=UserWarning,
                        message="Matplotlib is currently using agg")

# -- HTML
html_theme = "pydata_sphinx_theme"
html_title = f"skecg {release}"
html_static_path: list[str] = []
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "secondary_sidebar_items": ["page-toc"],
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
}
html_sidebars = {"index": [], "install": [], "reproducing": []}
html_show_sourcelink = False


# -- Docstring conventions of the project that need help to become valid reStructuredText.
def _is_section_header(lines: list[str], i: int) -> bool:
    return (i + 1 < len(lines) and lines[i].strip() != "" and not lines[i].startswith(" ")
            and set(lines[i + 1].strip()) == {"-"})


def bunch_keys_as_list(app, what, name, obj, options, lines: list[str]) -> None:
    """Turn the ``key : description`` lines of a Returns section into a bullet list.

    The loaders document the Bunch they return as one ``key : description`` line per key
    (indented under ``Bunch with``), some wrapped onto a further indented line. As written this
    is not valid reStructuredText; as a list each key reads as one item.
    """
    out: list[str] = []
    in_returns = in_item = False
    i = 0
    while i < len(lines):
        line = lines[i]
        if _is_section_header(lines, i):
            in_returns, in_item = line.strip() in ("Returns", "Yields"), False
            out += [line, lines[i + 1]]
            i += 2
            continue
        indent = len(line) - len(line.lstrip())
        key = re.match(r"^    ([A-Za-z_][\w, ]*?) : (.*)$", line) if in_returns else None
        if key:
            if out and out[-1].strip() and not in_item:
                out.append("")  # a list starts after a blank line
            out.append(f"    * ``{key.group(1)}``: {key.group(2)}")
            in_item = True
        elif in_item and line.strip() and indent >= 8:
            out.append("      " + line.strip())  # continuation of the item's text
        else:
            in_item = in_item and bool(line.strip()) and indent == 4
            out.append(line)
        i += 1
    lines[:] = out


def skip_metadata_request_methods(app, what, name, obj, skip, options):
    """scikit-learn's generated ``set_*_request`` methods are documented by scikit-learn.

    Returns None for every other member, so that autodoc and autosummary decide. Returning
    ``skip`` instead would return False for the private helpers (autosummary asks with
    ``skip=False``), which *forces* them into the API reference (``skecg.cli._add_data_args``).
    """
    if name.startswith("set_") and name.endswith("_request"):
        return True
    return None


def setup(app) -> None:
    app.connect("autodoc-process-docstring", bunch_keys_as_list, priority=100)
    app.connect("autodoc-skip-member", skip_metadata_request_methods)
