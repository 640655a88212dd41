"""Wall time of the parallel-search benchmark, from benchmarks/results/parallel.csv.

Run by the documentation's plot directive from the repository root.
"""

import matplotlib.pyplot as plt
import pandas as pd

runs = pd.read_csv("benchmarks/results/parallel.csv")
wall = runs.groupby(["workload", "config"], sort=False).wall_s.median().unstack(0)
# The results file names the dask cluster whose workers keep MALLOC_TRIM_THRESHOLD_ unset
# "malloc defaults"; the page calls it by what was done to it.
labels = {
    "dask, 2 workers": "dask, 2 workers,\ndask's environment",
    "dask, 2 workers, malloc defaults": "dask, 2 workers,\nthe variable removed",
    "n_jobs=1, n_threads=1": "n_jobs=1, n_threads=1",
}
wall.index = [labels.get(name, name) for name in wall.index]
workloads = {"default": "default network (100), 100 epochs",
             "wide": "wide network (256, 256), 40 epochs"}

fig, axes = plt.subplots(1, 2, figsize=(7.6, 3.9), sharey=True)
for ax, (workload, title) in zip(axes, workloads.items()):
    seconds = wall[workload]
    ax.barh(seconds.index, seconds, color="tab:blue")
    for row, value in enumerate(seconds):
        ax.annotate(f"{value:.1f} s, {seconds.iloc[0] / value:.2f}x", (value, row),
                    xytext=(3, 0), textcoords="offset points", va="center", fontsize=9)
    ax.set_xlim(0, seconds.max() * 1.55)  # bars start at zero; room for the labels
    ax.set_title(title, fontsize=10)
    ax.set_xlabel("wall time of the search (s)")
axes[0].invert_yaxis()
fig.suptitle("24 fits and a refit on the digits data, 2 idle cores (median of 3)", fontsize=10)
fig.tight_layout()
