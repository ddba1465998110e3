"""Sphinx configuration (``pip install -e ".[docs]" && sphinx-build docs docs/_build``)."""

project = "skecg"
extensions = ["sphinx.ext.autodoc", "sphinx.ext.autosummary", "numpydoc"]
autosummary_generate = True
numpydoc_show_class_members = False
html_theme = "alabaster"
exclude_patterns = ["_build"]
