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
# Mean over the three folds; the bars mark one standard deviation across folds. Each data
# set has its own axis around its scores (points, not bars, since that axis does not start
# at zero); the dotted line is the unregularized network.
names = list(regularizers)
fig, axes = plt.subplots(2, 2, figsize=(7.6, 5.6), sharey=True)
for ax, (data_name, group) in zip(axes.flat, results.groupby("data set", sort=False)):
    ax.errorbar(group["test score"], range(len(group)), xerr=group["test std"], fmt="o",
                capsize=3)
    ax.axvline(group["test score"].iloc[0], color="gray", ls=":", lw=1)
    ax.set_title(f"{data_name}: test {group['metric'].iloc[0]}", fontsize=10)
axes[0, 0].set_yticks(range(len(names)), names)
axes[0, 0].invert_yaxis()
fig.suptitle("3-fold cross-validation, 64-64 MLP, fixed strengths", fontsize=11)
fig.tight_layout()
plt.show()

# %%
# What each regularizer costs and buys
# ------------------------------------
# The gap between training and test score is a direct measure of overfitting. It is in
# accuracy for the three classification sets and in R² for diabetes, so each data set has
# an axis of its own; the bars start at zero.
fig, axes = plt.subplots(2, 2, figsize=(7.6, 5.6), sharey=True)
colors = plt.cm.tab10(np.arange(len(regularizers)))
for ax, (data_name, group) in zip(axes.flat, results.groupby("data set", sort=False)):
    ax.barh(range(len(group)), group["train-test gap"], color=colors)
    ax.axvline(0, color="black", lw=0.8)
    ax.set_title(data_name, fontsize=10)
    ax.set_xlabel(f"train-test gap ({group['metric'].iloc[0]})")
axes[0, 0].set_yticks(range(len(names)), names)
axes[0, 0].invert_yaxis()
fig.tight_layout()
plt.show()

# %%
# The number of epochs trained sets the cost of a fit (wall-clock times printed above
# depend on the machine's load; epochs do not). Without early stopping, training ends when
# the training loss stops improving for 10 epochs or after 200 epochs.
fig, ax = plt.subplots(figsize=(7.6, 3.6))
width = 0.8 / len(regularizers)
for k, (name, group) in enumerate(results.groupby("regularizer", sort=False)):
    positions = np.arange(len(data_sets)) + (k - (len(regularizers) - 1) / 2) * width
    ax.bar(positions, group["epochs"], width, color=colors[k], label=name)
ax.set_xticks(range(len(data_sets)), list(data_sets))
ax.set_ylabel("epochs trained (mean over folds)")
ax.set_ylim(0, 1.3 * results["epochs"].max())  # room for the legend above the bars
ax.legend(fontsize=9, ncol=3, loc="upper center")
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
# plot_comparison fits its axis to the scores; bars should start at zero to compare lengths.
ax.set_xlim(left=min(0, ax.get_xlim()[0]))
ax.figure.tight_layout()
plt.show()
