"""Sphinx configuration of skreg's documentation.

Build from the repository root with ``make docs``, which runs
``sphinx-build -W --keep-going -b html docs docs/_build/html``. The gallery
examples in ``examples/`` run during the build and produce its figures.
"""

import csv
import importlib.metadata
import os
import re
import sys
import warnings
from pathlib import Path

import torch

sys.path.insert(0, os.path.abspath(".."))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # _gallery_order

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
    "sphinx.ext.mathjax",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
    "matplotlib.sphinxext.plot_directive",
    "myst_parser",
    # Copies MathJax into _static, so formulas render without network access.
    "sphinx-mathjax-offline",
]

templates_path = ["_templates"]
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store", "plots"]
root_doc = "index"

REPOSITORY_ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = REPOSITORY_ROOT / "examples"
# Links to the repository and its issue tracker come from pyproject.toml's [project.urls]
# (through the installed metadata), so they are written down once.
_URLS = dict(
    entry.split(", ", 1)
    for entry in importlib.metadata.metadata("skreg").get_all("Project-URL") or []
)
repository_url = _URLS.get("Repository")
issues_url = _URLS.get("Issues")

# -- API reference -------------------------------------------------------------
autosummary_generate = True


def _methods_from_sklearn():
    """Public methods of skreg's classes that scikit-learn's base classes define."""
    names = set()
    for name in skreg.__all__:
        cls = getattr(skreg, name)
        if not isinstance(cls, type):
            continue
        for attr in dir(cls):
            owner = next((k for k in cls.__mro__ if attr in vars(k)), None)
            if not attr.startswith("_") and owner is not None and not (
                owner.__module__.startswith("skreg")
            ):
                names.add(attr)
    return sorted(names)


# The class template lists these under "Methods from scikit-learn"; methods that a skreg
# base class defines (``fit`` of both estimators) are skreg's own.
autosummary_context = {"sklearn_methods": _methods_from_sklearn()}
# "fit()" rather than "RegularizedMLPClassifier.fit()" in the page's table of contents.
toc_object_entries_show_parents = "hide"
# The class template (_templates/class.rst) documents each method once; numpydoc must
# not add a second list.
numpydoc_show_class_members = False
numpydoc_xref_param_type = False

# Methods inherited from scikit-learn (score, get_params, the metadata-routing setters)
# carry docstrings whose :ref: and :term: roles point into scikit-learn's own
# documentation. Without network access at build time there is no inventory to resolve
# them: the labels listed below become links to scikit-learn's pages, the others text.
_SKLEARN_ROLE = re.compile(r":(?:ref|term):`([^`<]*?)\s*(?:<([^`>]*)>)?`")
# The labels those docstrings use, as pages of scikit-learn's documentation.
_SKLEARN_DOCS = "https://scikit-learn.org/stable/"
_SKLEARN_PAGES = {
    "metadata_routing": "metadata_routing.html",
    "accuracy_score": "modules/model_evaluation.html#accuracy-score",
    "r2_score": "modules/model_evaluation.html#r2-score",
    "meta-estimator": "glossary.html#term-meta-estimator",
}


def _sklearn_link(match):
    text, label = match.group(1), match.group(2) or match.group(1)
    # "User Guide" in these docstrings is scikit-learn's, not this one.
    text = text.replace("User Guide", "scikit-learn's User Guide")
    page = _SKLEARN_PAGES.get(label)
    return f"`{text} <{_SKLEARN_DOCS}{page}>`__" if page else text


def _unlink_sklearn_roles(app, what, name, obj, options, lines):
    module = getattr(obj, "__module__", "") or ""
    if module.startswith("sklearn"):
        lines[:] = [_SKLEARN_ROLE.sub(_sklearn_link, line) for line in lines]


_CHANGELOG = REPOSITORY_ROOT / "CHANGELOG.md"


def _include_changelog(app, docname, source):
    # The changelog is the repository's CHANGELOG.md; a clone without one still builds.
    if docname == "changelog" and not _CHANGELOG.exists():
        source[0] = re.sub(
            r"\.\. include:: \.\./CHANGELOG\.md\n(   :.*\n)*",
            "Changelog\n=========\n\nNo changes recorded yet: this copy of the repository has "
            "no ``CHANGELOG.md``.\n",
            source[0],
        )


# The study's headline file has sixteen columns, too many for one readable table: the pages
# show its scores and its verdicts as two tables, split from the file at each build.
_STUDY_HEADLINE = REPOSITORY_ROOT / "benchmarks/results/regularization_full_headline.csv"
_STUDY_TABLES = {
    "scores": ["data set (metric)", "unregularized", "CV estimator (default space)",
               "best single regularizer (CV estimator)", "joint search (CV estimator)",
               "sklearn MLP (tuned)", "RealMLP-TD", "HistGradientBoosting"],
    "verdicts": ["dataset", "single regularizer chosen most", "CV default - sklearn MLP",
                 "beats sklearn MLP", "CV default - RealMLP-TD", "beats RealMLP-TD",
                 "share of the gap from sklearn MLP to HGB closed"],
}


# Shorter headers, so that the scores table fits the page's width.
_STUDY_HEADERS = {
    "CV estimator (default space)": "CV estimator (default)",
    "best single regularizer (CV estimator)": "CV: best single",
    "joint search (CV estimator)": "CV: joint",
    "sklearn MLP (tuned)": "sklearn MLP",
    "HistGradientBoosting": "HGB",
    "single regularizer chosen most": "chosen most",
    "share of the gap from sklearn MLP to HGB closed": "gap to HGB closed",
}


def _split_study_headline(app):
    with _STUDY_HEADLINE.open(newline="") as source:
        rows = list(csv.DictReader(source))
    for row in rows:
        row["data set (metric)"] = f"{row['dataset']} ({row['metric']})"
    folder = Path(app.srcdir) / "generated"
    folder.mkdir(exist_ok=True)
    for name, columns in _STUDY_TABLES.items():
        with (folder / f"study_{name}.csv").open("w", newline="") as target:
            writer = csv.writer(target)
            writer.writerow([_STUDY_HEADERS.get(column, column) for column in columns])
            writer.writerows([row[column] for column in columns] for row in rows)


def setup(app):
    # MathJax's SVG output needs no web fonts, and the bundled MathJax ships none for its HTML
    # output. Set here: sphinx-mathjax-offline sets mathjax_path when it loads, after conf.py.
    app.config.mathjax_path = "mathjax/tex-svg.js"
    app.connect("autodoc-process-docstring", _unlink_sklearn_roles)
    app.connect("source-read", _include_changelog)
    app.connect("builder-inited", _split_study_headline)


# -- Gallery -------------------------------------------------------------------
sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    # Run in the order of the examples' numbers, which follows the user guide.
    "within_subsection_order": "_gallery_order.ExampleNumberSortKey",
    "doc_module": ("skreg",),
    "backreferences_dir": "gen_modules/backreferences",
    "reference_url": {"skreg": None},
    "abort_on_example_error": True,
    "remove_config_comments": True,
    "min_reported_time": 1,
    "matplotlib_animations": False,
    # The computation-times pages load jQuery and DataTables from CDNs; the pages must read
    # offline, and each example's own page states its running time.
    "write_computation_times": False,
}

# -- Figures drawn from the committed benchmark results ------------------------
# docs/plots/*.py read benchmarks/results/*.csv; they run from the repository root.
plot_working_directory = str(REPOSITORY_ROOT)
plot_basedir = "plots"
plot_formats = [("png", 100)]
plot_html_show_formats = False
plot_html_show_source_link = False
plot_include_source = False
plot_rcparams = {"figure.dpi": 100}

# -- HTML ----------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"skreg {release}"
html_static_path = ["_static"]
html_css_files = ["custom.css"]
html_theme_options = {
    "navbar_align": "left",
    "show_toc_level": 2,
    "navigation_with_keys": False,
    # "On this page" everywhere but on the examples, whose code lines need its width. Pages
    # that match no pattern get no column, and two wildcard patterns that match one page are
    # an error, so the examples are named one by one.
    "secondary_sidebar_items": {
        "**": ["page-toc"],
        **{f"auto_examples/{script.stem}": [] for script in EXAMPLES.glob("plot_*.py")},
    },
    "header_links_before_dropdown": 7,
    "icon_links": [
        {"name": name, "url": url, "icon": icon, "type": "fontawesome"}
        for name, url, icon in [
            ("Repository", repository_url, "fa-solid fa-code-branch"),
            ("Issues", issues_url, "fa-solid fa-circle-exclamation"),
        ]
        if url
    ],
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version", "theme-version"],
}
# Top-level pages without subpages need no navigation column; their text gets its width.
html_sidebars = {page: [] for page in ["index", "install", "getting_started", "changelog"]}
html_show_sourcelink = False
