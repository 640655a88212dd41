"""The gallery's order: by the number in each example's file name (plot_<n>_<topic>.py).

Sorting file names as text would put ``plot_10_...`` before ``plot_1_...``; the numbers follow
the user guide. sphinx-gallery imports this key by its name from ``docs/conf.py``.
"""

import re
from pathlib import Path


class ExampleNumberSortKey:
    """Sort key of the examples in ``src_dir``: the number after ``plot_``, then the name."""

    def __init__(self, src_dir):
        self.src_dir = src_dir

    def __call__(self, filename):
        name = Path(filename).name
        found = re.match(r"plot_(\d+)_", name)
        return (int(found.group(1)) if found else float("inf"), name)

    def __repr__(self):
        # sphinx-gallery caches its configuration by this text: keep it stable.
        return f"<{type(self).__name__}>"
