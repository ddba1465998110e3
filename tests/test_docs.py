"""Fast checks of the documentation sources (``.ci/run`` builds the pages with ``-W``)."""

from __future__ import annotations

import ast
import pkgutil
import re
from pathlib import Path

import pytest

import skecg

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
EXAMPLES = ROOT / "examples"


def test_api_page_lists_every_public_module():
    """A new public module must get its line in docs/api.rst (its members then appear alone)."""
    public = {f"skecg.{m.name}" for m in pkgutil.iter_modules(skecg.__path__)
              if not m.name.startswith("_")}
    listed = set(re.findall(r"^\s+(skecg\.\w+)\s*$", (DOCS / "api.rst").read_text(),
                            flags=re.MULTILINE))
    assert public - listed == set(), "add these modules to docs/api.rst"
    assert listed - public == set(), "docs/api.rst lists modules that do not exist"


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.py")), ids=lambda p: p.name)
def test_gallery_example_runs_at_build_and_has_a_title(path: Path):
    assert path.name.startswith("plot_"), "only plot_*.py examples run when the docs build"
    docstring = ast.get_docstring(ast.parse(path.read_text()))
    assert docstring, f"{path.name} needs a docstring with a title"
    title, underline = docstring.splitlines()[:2]
    assert set(underline) == {"="} and len(underline) >= len(title)


def test_every_page_is_reachable_from_a_toctree():
    pages = {str(p.relative_to(DOCS).with_suffix("")) for p in DOCS.rglob("*.rst")
             if not {"_build", "generated", "_templates", "auto_examples"} & set(p.parts)
             and p.name != "sg_execution_times.rst"}  # written by sphinx-gallery, orphan
    linked = {"index"}
    for page in pages:
        text = (DOCS / f"{page}.rst").read_text()
        for block in re.findall(r"\.\. toctree::\n((?:[ \t]+.*\n|\n)+)", text):
            for entry in re.findall(r"^[ \t]+([\w/]+)\s*$", block, flags=re.MULTILINE):
                parent = str(Path(page).parent)
                linked.add(entry if parent == "." else f"{parent}/{entry}")
    assert pages - linked == set(), "pages not in any toctree (sphinx -W fails on them)"


def _conf_function(name: str):
    """A function of docs/conf.py, without importing conf (which writes generated files)."""
    tree = ast.parse((DOCS / "conf.py").read_text())
    node = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == name)
    namespace: dict = {}
    exec(compile(ast.Module(body=[node], type_ignores=[]), "conf.py", "exec"), namespace)
    return namespace[name]


@pytest.mark.parametrize("name, skip", [("_add_data_args", False), ("_Runs", False),
                                        ("_row", True), ("markdown_table", False)])
def test_api_reference_never_forces_private_helpers_in(name, skip):
    """autosummary asks the autodoc-skip-member handlers with skip=False: a handler that echoes
    ``skip`` back *forces* every private helper into the reference (28 pages of them)."""
    handler = _conf_function("skip_metadata_request_methods")
    assert handler(None, "module", name, object(), skip, {}) is None  # autosummary decides
    assert handler(None, "class", "set_fit_request", object(), False, {}) is True
