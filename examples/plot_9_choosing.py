"""
==========================================================
Choosing a regularizer: one protocol, four data sets
==========================================================

Which regularizer should you try first? This example runs the same comparison on the four
small data sets bundled with scikit-learn that differ most in kind -- breast cancer (569
rows, binary), wine (178 rows, 3 classes), digits (10 classes; 600 rows drawn at random, to
keep the example fast) and diabetes (442 rows, a noisy regression) -- and measures, for each
regularizer, the test score, the gap between training and test score, and the fit time.

Every model is a ``StandardScaler`` followed by the same 64-64 network and seed; only the
regularizer changes. The strengths are fixed at common starting values, not tuned, so the
comparison answers "what does each regularizer do out of the box" rather than "how good can
it get"; tune the one you pick (see the tuning example).
"""

# %%
import time
import warnings

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from sklearn.datasets import load_breast_cancer, load_diabetes, load_digits, load_wine
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import KFold, StratifiedKFold, cross_validate
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skreg import RegularizedMLPClassifier, RegularizedMLPRegressor

warnings.filterwarnings("ignore", category=ConvergenceWarning)

digits_X, digits_y = load_digits(return_X_y=True)
digits_rows = np.random.RandomState(0).choice(len(digits_X), size=600, replace=False)
data_sets = {
    "breast cancer": (*load_breast_cancer(return_X_y=True), RegularizedMLPClassifier),
    "wine": (*load_wine(return_X_y=True), RegularizedMLPClassifier),
    "digits (600 rows)": (
        digits_X[digits_rows], digits_y[digits_rows], RegularizedMLPClassifier
    ),
    "diabetes": (*load_diabetes(return_X_y=True), RegularizedMLPRegressor),
}
regularizers = {
    "unregularized": {},
    "l2=0.01": {"l2": 1e-2},
    "dropout=0.3": {"dropout": 0.3},
    "batch_norm": {"batch_norm": True},
    "early_stopping": {"early_stopping": True, "validation_fraction": 0.2},
}

rows = []
start = time.perf_counter()
for data_name, (X, y, Estimator) in data_sets.items():
    classifier = Estimator is RegularizedMLPClassifier
    Splitter = StratifiedKFold if classifier else KFold
    cv = Splitter(n_splits=3, shuffle=True, random_state=0)
    for name, params in regularizers.items():
        model = make_pipeline(
            StandardScaler(), Estimator((64, 64), max_iter=200, random_state=0, **params)
        )
        scores = cross_validate(
            model, X, y, cv=cv, return_train_score=True, return_estimator=True
        )
        rows.append({
            "data set": data_name,
            "regularizer": name,
            "metric": "accuracy" if classifier else "R²",
            "test score": scores["test_score"].mean(),
            "test std": scores["test_score"].std(),
            "train-test gap": (scores["train_score"] - scores["test_score"]).mean(),
            "epochs": np.mean([fitted[-1].n_iter_ for fitted in scores["estimator"]]),
            "fit time (s)": scores["fit_time"].mean(),
        })
results = pd.DataFrame(rows)
print(f"{len(results) * 3} fits in {time.perf_counter() - start:.0f} s")
pd.set_option("display.width", 120)
print(results.round(3).to_string(index=False))

# %%
# Test score per data set
# -----------------------
# Mean over the three folds; the bars mark one standard deviation across folds.
fig, axes = plt.subplots(1, 4, figsize=(14, 3.8))
colors = plt.cm.tab10(np.arange(len(regularizers)))
for ax, (data_name, group) in zip(axes, results.groupby("data set", sort=False)):
    ax.bar(
        range(len(group)), group["test score"], yerr=group["test std"],
        color=colors, capsize=3,
    )
    low = (group["test score"] - group["test std"]).min()
    high = (group["test score"] + group["test std"]).max()
    ax.set_ylim(low - 0.3 * (high - low), high + 0.1 * (high - low))
    ax.set_xticks(range(len(group)), group["regularizer"], rotation=40, ha="right")
    ax.set_title(f"{data_name}: {group['metric'].iloc[0]}")
fig.suptitle("Test score, 3-fold cross-validation, 64-64 MLP, fixed strengths")
fig.tight_layout()
plt.show()

# %%
# What each regularizer costs and buys
# ------------------------------------
# Left: the gap between training and test score, a direct measure of overfitting. Right:
# the number of epochs trained, which sets the cost of a fit (wall-clock times printed
# above depend on the machine's load; epochs do not). Without early stopping, training
# ends when the training loss stops improving for 10 epochs or after 200 epochs.
fig, axes = plt.subplots(1, 2, figsize=(13, 4))
width = 0.8 / len(regularizers)
for k, (name, group) in enumerate(results.groupby("regularizer", sort=False)):
    positions = np.arange(len(data_sets)) + (k - (len(regularizers) - 1) / 2) * width
    axes[0].bar(positions, group["train-test gap"], width, color=colors[k], label=name)
    axes[1].bar(positions, group["epochs"], width, color=colors[k], label=name)
labels = ["train-test gap (accuracy or R²)", "epochs trained (mean over folds)"]
for ax, label in zip(axes, labels):
    ax.set_xticks(range(len(data_sets)), list(data_sets))
    ax.set_ylabel(label)
axes[0].legend(fontsize=9)
fig.tight_layout()
plt.show()

# %%
# Your own comparison in two lines
# --------------------------------
# :func:`skreg.compare` runs this protocol for you: it cross-validates several models (or
# one model over a parameter grid) on the same folds and returns one row per model.
# Here it sweeps the dropout rate on the diabetes data, the data set above where dropout
# mattered most.
from skreg import compare, plot_comparison

X, y = load_diabetes(return_X_y=True)
table = compare(
    make_pipeline(StandardScaler(), RegularizedMLPRegressor((64, 64), random_state=0)),
    X,
    y,
    param_grid={"regularizedmlpregressor__dropout": [0.0, 0.1, 0.3, 0.5]},
    cv=KFold(n_splits=3, shuffle=True, random_state=0),
    return_train_score=True,
)
table.index = [name.replace("regularizedmlpregressor__", "") for name in table.index]
print(table[["score_mean", "score_std", "train_score_mean"]].round(3))
ax = plot_comparison(table, "score")
ax.set_xlabel("R², 3 folds")
ax.figure.tight_layout()
plt.show()
