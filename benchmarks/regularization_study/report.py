"""Writing a run's results: CSV files, markdown tables and figures under ``benchmarks/results``."""

import pandas as pd
from _harness import write_csv, write_markdown

from .models import UNREGULARIZED
from .plots import plot_main, plot_sweeps
from .summary import headline, metric_of_sweep, summarize, sweep_verdicts


def report_main(main_rows, datasets, config, out):
    """Summary CSVs, the markdown tables and the figure of the main comparison."""
    datasets = [d for d in datasets if d.name in set(main_rows.dataset)]
    summary, tables = summarize(main_rows, datasets)
    write_csv(summary, f"{out}_summary.csv")
    head = headline(summary, datasets, main_rows)
    write_csv(head, f"{out}_headline.csv")
    text = (f"# Regularization study: results ({config.mode} mode)\n\nProtocol: "
            f"`{out.name}_protocol.md`. Mean ± std over outer splits.\n\n## Headline\n\n"
            f"{head.to_markdown(index=False)}\n\n## Per data set\n\n{tables}\n")
    write_markdown(text, f"{out}_tables.md")
    plot_main(summary, datasets, f"{out}_main.png")
    print(head.to_markdown(index=False))


def report_sweeps(sweeps, config, out):
    """Verdict CSV, markdown tables and the figure of the size and width sweeps."""
    verdicts = sweep_verdicts(sweeps)
    write_csv(verdicts, f"{out}_sweep_verdicts.csv")
    pivot = verdicts.assign(cell=[f"{d:+.3f} {v}" for d, v in
                                  zip(verdicts.difference, verdicts.verdict)])
    pivot = pivot.pivot_table(index=["dataset", "sweep", "value"], columns="model",
                              values="cell", aggfunc="first", sort=False)
    regime = []
    for (dataset, sweep, value), part in sweeps.groupby(["dataset", "sweep", "value"], sort=False):
        metric = metric_of_sweep(part)
        base = part[part.model == UNREGULARIZED]
        regime.append({"dataset": dataset, "sweep": sweep, "value": value,
                       "unregularized train": f"{base[f'train_{metric}'].mean():.3f}",
                       "unregularized test": f"{base[metric].mean():.3f} ± "
                                             f"{base[metric].std(ddof=0):.3f}",
                       "worst test (repeat)": f"{base[metric].min():.3f}"})
    write_markdown(
        f"# Size and width sweeps ({config.mode} mode)\n\nDifference of test accuracy "
        "(classification) or R^2 (regression) to the unregularized network, mean over "
        f"repeats, with the verdict (see `{out.name}_protocol.md`).\n\n"
        f"{pivot.to_markdown()}\n\n## The unregularized network: train and test score\n\n"
        "Accuracy (classification) or R^2 (regression), mean over repeats; a large train-test "
        "gap is the overfitting regime.\n\n"
        f"{pd.DataFrame(regime).to_markdown(index=False)}\n",
        f"{out}_sweeps.md",
    )
    plot_sweeps(sweeps, f"{out}_sweeps.png")
    print(pivot.to_markdown())
