"""L2 penalty against decoupled weight decay, from benchmarks/results/l2_vs_weight_decay.csv.

Run by the documentation's plot directive from the repository root.
"""

import matplotlib.pyplot as plt
import pandas as pd

results = pd.read_csv("benchmarks/results/l2_vs_weight_decay.csv")
panels = [("weight_norm", None, "norm of the fitted weights"),
          ("log_loss", "log_loss_std", "cross-validated log loss")]
styles = {"l2": {"marker": "o", "label": "l2 (penalty in the loss)"},
          "weight_decay": {"marker": "s", "ls": "--", "label": "weight_decay (decoupled)"}}

fig, axes = plt.subplots(2, 2, figsize=(7.6, 6.0), sharex=True)
for row, (column, spread, ylabel) in enumerate(panels):
    for col, solver in enumerate(["sgd", "adam"]):
        ax = axes[row, col]
        for name, style in styles.items():
            part = results[(results.solver == solver) & (results.regularizer == name)]
            ax.errorbar(part.strength, part[column],
                        yerr=part[spread] if spread else None, capsize=3, **style)
        ax.set_xscale("log")
        ax.set_ylim(bottom=0)
        if row == 0:
            ax.set_title(f'solver="{solver}"', fontsize=10)
        else:
            ax.set_xlabel("strength (l2 or weight_decay)")
        if col == 0:
            ax.set_ylabel(ylabel)
axes[0, 0].legend(fontsize=9, loc="lower left")
fig.suptitle("Breast cancer, 5 folds: with SGD the two are one update, with Adam they differ",
             fontsize=10)
fig.tight_layout()
