"""
==============================================
Data augmentation for tabular data
==============================================

Augmentation trains on transformed copies of the training rows, chosen so that the label
stays right. For images the transformations are obvious -- a shifted or slightly rotated
cat is still a cat -- and that is what most descriptions of augmentation list: rotations,
translations, flips. A row of a table has no such symmetries: its columns are different
quantities in an arbitrary order, and "rotating" or "flipping" it produces a row that no
patient or customer could have.

skreg offers two augmentations that make sense for tables, both applied to training
batches only (validation and prediction see the data as it is):

* ``input_noise=s`` adds Gaussian noise of standard deviation ``s`` to every input value
  of every training batch, a fresh draw each time. Standardize the inputs first (a
  ``StandardScaler`` in a pipeline) so that one ``s`` suits all columns.
* ``mixup_alpha=a`` replaces every training row by a mix ``lam * row + (1 - lam) * other``
  of itself and another row of the batch, and mixes their targets (one-hot class
  vectors for classifiers) the same way, with ``lam`` drawn from ``Beta(a, a)``.

This example first measures what image-style transformations do to tabular data, then
sweeps the strength of each tabular augmentation.
"""

# %%
# Flips and rotations do not transfer to tables
# ---------------------------------------------
# Each training fold is doubled with a transformed copy of its rows, keeping the labels:
# a "flip" reverses the order of the (standardized) columns, a "rotation" applies a random
# orthogonal rotation to the feature space. Both leave images recognizable; here they
# describe rows that do not exist.
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_breast_cancer, load_diabetes, load_digits, load_wine
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score, log_loss
from sklearn.model_selection import (
    KFold,
    StratifiedKFold,
    StratifiedShuffleSplit,
    validation_curve,
)
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skreg import RegularizedMLPClassifier, RegularizedMLPRegressor

warnings.filterwarnings("ignore", category=ConvergenceWarning)  # fixed epoch budget


def augmented(X, y, kind, rng):
    """The training rows plus one transformed copy of each, labels unchanged."""
    if kind == "none":
        return X, y
    if kind == "flip":
        copy = X[:, ::-1]
    else:  # a random rotation of the feature space
        rotation, _ = np.linalg.qr(rng.normal(size=(X.shape[1], X.shape[1])))
        copy = X @ rotation
    return np.vstack([X, copy]), np.concatenate([y, y])


kinds = ["none", "flip", "rotation"]
image_style = {}
for data_name, load in [("breast cancer", load_breast_cancer), ("wine", load_wine)]:
    X, y = load(return_X_y=True)
    losses = {kind: [] for kind in kinds}
    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=0).split(X, y)
    for train, test in folds:
        scaler = StandardScaler().fit(X[train])
        X_train, X_test = scaler.transform(X[train]), scaler.transform(X[test])
        for kind in kinds:
            X_aug, y_aug = augmented(X_train, y[train], kind, np.random.RandomState(0))
            model = RegularizedMLPClassifier((64,), max_iter=200, random_state=0)
            model.fit(X_aug, y_aug)
            losses[kind].append(log_loss(y[test], model.predict_proba(X_test)))
    image_style[data_name] = losses
    for kind in kinds:
        print(
            f"{data_name:14s} {kind:9s} test log loss "
            f"{np.mean(losses[kind]):.4f} ± {np.std(losses[kind]):.4f}"
        )

fig, axes = plt.subplots(1, 2, figsize=(7.6, 3.6))
for ax, (data_name, losses) in zip(axes, image_style.items()):
    ax.bar(
        kinds, [np.mean(losses[k]) for k in kinds], yerr=[np.std(losses[k]) for k in kinds],
        color=["tab:gray", "tab:red", "tab:red"], capsize=3,
    )
    ax.set_title(f"{data_name} (5 folds)")
    ax.set_ylabel("test log loss")
fig.suptitle("Image-style augmentation on tabular data: one transformed copy per row",
             fontsize=11)
fig.tight_layout()
plt.show()

# %%
# Input noise
# -----------
# Gaussian input noise asks the network to give nearby inputs nearby outputs; for a
# linear model its expected effect is exactly an L2 penalty (Bishop, 1995). The validation
# curve below sweeps its standard deviation on the diabetes regression, where the
# unregularized 128-128 network overfits badly.
X, y = load_diabetes(return_X_y=True)
noise_levels = [0.0, 0.1, 0.3, 0.5, 1.0]
train_r2, valid_r2 = validation_curve(
    make_pipeline(
        StandardScaler(),
        RegularizedMLPRegressor((128, 128), max_iter=200, random_state=0),
    ),
    X,
    y,
    param_name="regularizedmlpregressor__input_noise",
    param_range=noise_levels,
    cv=KFold(n_splits=5, shuffle=True, random_state=0),
    scoring="r2",
)
for level, train, valid in zip(noise_levels, train_r2.mean(1), valid_r2.mean(1)):
    print(f"input_noise={level:<4g} train R²={train:.3f}  validation R²={valid:.3f}")

fig, ax = plt.subplots(figsize=(6.5, 4))
ax.errorbar(noise_levels, train_r2.mean(1), train_r2.std(1), marker="o", label="training folds")
ax.errorbar(noise_levels, valid_r2.mean(1), valid_r2.std(1), marker="s", label="validation folds")
ax.set_xlabel("input_noise (standard deviations of each standardized feature)")
ax.set_ylabel("R²")
ax.set_title("Diabetes: 128-128 MLP with Gaussian input noise (5 folds)")
ax.legend()
fig.tight_layout()
plt.show()

# %%
# Mixup
# -----
# Mixup trains on blends of pairs of rows with correspondingly blended labels. Besides
# regularizing, it teaches the network to be less certain between classes, which shows
# in the log loss and in the confidence of its predictions. The sweep uses the digits with
# 500 training rows and a 256-256 network, on five stratified random splits (the other
# 1,297 rows for testing), each split with its own seed; every strength sees the same
# rows and the same seed, so the differences to ``mixup_alpha=0`` are paired.
X, y = load_digits(return_X_y=True)
alphas = [0.0, 0.1, 0.4, 1.0]
splits = StratifiedShuffleSplit(n_splits=5, train_size=500, random_state=0).split(X, y)
scores = []  # split x strength x (accuracy, log loss, mean confidence)
for seed, (train, test) in enumerate(splits):
    scaler = StandardScaler().fit(X[train])
    X_train, X_test = scaler.transform(X[train]), scaler.transform(X[test])
    split_scores = []
    for alpha in alphas:
        model = RegularizedMLPClassifier(
            (256, 256), mixup_alpha=alpha, max_iter=100, random_state=seed
        ).fit(X_train, y[train])
        proba = model.predict_proba(X_test)
        split_scores.append((
            accuracy_score(y[test], model.classes_[proba.argmax(1)]),
            log_loss(y[test], proba, labels=model.classes_),
            proba.max(1).mean(),
        ))
    scores.append(split_scores)
scores = np.array(scores)
n_splits = len(scores)


def standard_error(values, axis=0):
    return values.std(axis=axis, ddof=1) / np.sqrt(values.shape[axis])


differences = scores - scores[:, :1]  # paired with mixup_alpha=0 on the same split
print(f"mean ± standard error over {n_splits} splits; paired difference to mixup_alpha=0")
for a, alpha in enumerate(alphas):
    for m, name in enumerate(["accuracy", "log loss", "confidence"]):
        value, difference = scores[:, a, m], differences[:, a, m]
        line = f"alpha={alpha:<4g} {name:10s} {value.mean():.4f} ± {standard_error(value):.4f}"
        if a > 0:
            line += f"  diff {difference.mean():+.4f} ± {standard_error(difference):.4f}"
        print(line)
better = [
    f"{alpha:g}: {np.sum(differences[:, a, 0] > 0)}/{n_splits}"
    for a, alpha in enumerate(alphas) if a > 0
]
print("splits on which the test accuracy rose:", ", ".join(better))

labels = [str(a) for a in alphas]
x = np.arange(len(alphas))
fig, axes = plt.subplots(1, 3, figsize=(7.6, 3.4))
for ax, m, title in zip(axes, range(3), ["test accuracy", "test log loss", "mean confidence"]):
    for split in range(n_splits):
        ax.plot(x, scores[split, :, m], "-", color="gray", lw=0.8, alpha=0.6)
    ax.errorbar(x, scores[:, :, m].mean(0), standard_error(scores[:, :, m]), marker="o",
                color="tab:blue", capsize=3)
    ax.set_xticks(x, labels)
    ax.set_title(title)
    ax.set_xlabel("mixup_alpha")
axes[2].errorbar(x, scores[:, :, 0].mean(0), standard_error(scores[:, :, 0]), marker="s",
                 ls="--", color="tab:orange", capsize=3, label="test accuracy")
axes[2].legend(loc="lower left", fontsize=9)
fig.suptitle(
    f"Digits, 500 training rows, 256-256 MLP, 100 epochs: {n_splits} splits "
    "(gray), mean ± s.e.", fontsize=10,
)
fig.tight_layout()
plt.show()
