"""The study's figures: every model on every data set, and the size and width sweeps."""

import argparse

import numpy as np
import pandas as pd

from .models import UNREGULARIZED
from .summary import HIGHER_IS_BETTER, metric_of_sweep


def plot_main(summary, datasets, path):
    """Every model on every data set: mean and std over the outer splits, one panel each.

    Two panels a row, sized to be read at about 600 pixels wide (a documentation page).
    Points, not bars: each panel's axis spans only its models' range, and a bar cut off
    there would exaggerate the differences; the dotted line is the unregularized network.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n_cols = min(2, len(datasets))
    n_rows = -(-len(datasets) // n_cols)
    models = list(dict.fromkeys(summary.model))
    colors = {"skreg": "tab:blue", "peer": "tab:orange", "remedy": "tab:green"}
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(7.6, (0.8 + 0.19 * len(models)) * n_rows),
                             squeeze=False, sharey=True)
    for ax in axes.flat[len(datasets):]:
        ax.set_visible(False)
    for ax, data in zip(axes.flat, datasets):
        m = data.primary_metric
        part = summary[summary.dataset == data.name].set_index("model").reindex(models)
        rows = np.arange(len(models))
        for family, color in colors.items():
            mine = (part.family == family).to_numpy()
            if not mine.any():
                continue  # no legend entry for a family this run has no rows of
            ax.errorbar(part[f"{m}_mean"][mine], rows[mine], xerr=part[f"{m}_std"][mine],
                        fmt="o", color=color, markersize=4, capsize=2, label=family)
        ax.axvline(part.loc[UNREGULARIZED, f"{m}_mean"], color="gray", ls=":", lw=1)
        better = "higher" if HIGHER_IS_BETTER[m] else "lower"
        ax.set_title(f"{data.name}: {m}, {better} better", fontsize=9.5)
        ax.tick_params(labelsize=9)
        ax.grid(axis="x", alpha=0.3)
    axes[0][0].set_yticks(np.arange(len(models)), models)
    axes[0][0].invert_yaxis()
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=len(labels), fontsize=9)
    fig.tight_layout(rect=(0, 0.4 / fig.get_figheight(), 1, 1))  # room for the legend
    fig.savefig(path, dpi=110)
    plt.close(fig)


def replot_main(out):
    """Redraw the main figure from a finished run's summary and headline CSVs, fitting nothing."""
    summary = pd.read_csv(f"{out}_summary.csv")
    head = pd.read_csv(f"{out}_headline.csv")
    datasets = [argparse.Namespace(name=name, primary_metric=metric)
                for name, metric in zip(head.dataset, head.metric)]
    plot_main(summary[summary.dataset.isin(head.dataset)], datasets, f"{out}_main.png")


def plot_sweeps(sweeps, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels, kinds = list(dict.fromkeys(sweeps.dataset)), list(dict.fromkeys(sweeps.sweep))
    fig, axes = plt.subplots(len(kinds), len(labels), figsize=(4.2 * len(labels), 3.6 * len(kinds)),
                             squeeze=False)
    for ax, (sweep, dataset) in zip(axes.flat, [(k, d) for k in kinds for d in labels]):
        part = sweeps[(sweeps.dataset == dataset) & (sweeps.sweep == sweep)]
        metric = metric_of_sweep(part)
        for model, rows in part.groupby("model", sort=False):
            stats = rows.groupby("value")[metric].agg(["mean", "std"])
            style = dict(color="black", linewidth=2.5) if model == UNREGULARIZED else {}
            ax.errorbar(stats.index, stats["mean"], yerr=stats["std"], label=model, capsize=2,
                        marker="o", markersize=3, **style)
        ax.set_xscale("log")
        values = sorted(part.value.unique())
        ax.set_xticks(values, [str(v) for v in values])
        ax.minorticks_off()
        ax.set_xlabel("training rows" if sweep == "size" else "hidden width (2 layers)")
        ax.set_ylabel(f"test {metric}")
        ax.set_title(f"{dataset}: {sweep} sweep", fontsize=10)
    axes[0][-1].legend(fontsize=7, loc="lower right")
    for ax in axes.flat:  # a few diverging fits would otherwise squash every other curve
        low, high = ax.get_ylim()
        ax.set_ylim(max(low, -0.5), high)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
