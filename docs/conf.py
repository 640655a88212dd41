"""Sphinx configuration of skreg's documentation.

Build from the repository root with ``make docs``, which runs
``sphinx-build -W --keep-going -b html docs docs/_build/html``. The gallery
examples in ``examples/`` run during the build and produce its figures.
"""

import os
import re
import sys
import warnings

import torch

sys.path.insert(0, os.path.abspath(".."))

import skreg  # noqa: E402

# The gallery's networks are small; on a machine whose cores are shared (CI runners,
# several builds at once), torch's thread pool spends more time synchronizing than
# computing, and one thread per example is several times faster.
torch.set_num_threads(1)

# Non-GUI plotting while the gallery runs.
warnings.filterwarnings("ignore", message="Matplotlib is currently using agg")

project = "skreg"
author = "The skreg developers"
copyright = "the skreg developers (BSD-3-Clause license)"
version = release = skreg.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]

templates_path = ["_templates"]
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]
root_doc = "index"

# -- API reference -------------------------------------------------------------
autosummary_generate = True
# The class template (_templates/class.rst) documents each method once; numpydoc must
# not add a second list.
numpydoc_show_class_members = False
numpydoc_xref_param_type = False

# Methods inherited from scikit-learn (score, get_params, the metadata-routing setters)
# carry docstrings whose :ref: and :term: roles point into scikit-learn's own
# documentation. Without network access at build time there is no inventory to resolve
# them, so keep their text and drop the link.
_SKLEARN_ROLE = re.compile(r":(?:ref|term):`([^`<]*?)\s*(?:<[^`>]*>)?`")


def _unlink_sklearn_roles(app, what, name, obj, options, lines):
    module = getattr(obj, "__module__", "") or ""
    if module.startswith("sklearn"):
        lines[:] = [_SKLEARN_ROLE.sub(r"\1", line) for line in lines]


def setup(app):
    app.connect("autodoc-process-docstring", _unlink_sklearn_roles)

# -- Gallery -------------------------------------------------------------------
sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    # Run in file-name order, which follows the user guide.
    "within_subsection_order": "FileNameSortKey",
    "doc_module": ("skreg",),
    "backreferences_dir": "gen_modules/backreferences",
    "reference_url": {"skreg": None},
    "abort_on_example_error": True,
    "remove_config_comments": True,
    "min_reported_time": 1,
    "matplotlib_animations": False,
}

# -- HTML ----------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"skreg {release}"
html_static_path = ["_static"]
html_css_files = ["custom.css"]
html_theme_options = {
    "navbar_align": "left",
    "show_toc_level": 2,
    "navigation_with_keys": False,
    # The gallery's code lines need the width of the "on this page" column.
    "secondary_sidebar_items": {"auto_examples/*": []},
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version", "theme-version"],
}
html_sidebars = {"index": []}
html_show_sourcelink = False
