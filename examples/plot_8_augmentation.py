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
from sklearn.model_selection import KFold, StratifiedKFold, train_test_split, validation_curve
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
# 500 training rows and a 256-256 network.
X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(
    X, y, train_size=500, stratify=y, random_state=0
)
scaler = StandardScaler().fit(X_train)
X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
alphas = [0.0, 0.1, 0.4, 1.0]
rows = []
for alpha in alphas:
    model = RegularizedMLPClassifier(
        (256, 256), mixup_alpha=alpha, max_iter=100, random_state=0
    ).fit(X_train, y_train)
    proba = model.predict_proba(X_test)
    rows.append((
        accuracy_score(y_test, model.classes_[proba.argmax(1)]),
        log_loss(y_test, proba),
        proba.max(1).mean(),
    ))
    print(
        f"mixup_alpha={alpha:<4g} test accuracy={rows[-1][0]:.4f}  "
        f"test log loss={rows[-1][1]:.4f}  mean confidence={rows[-1][2]:.4f}"
    )
rows = np.array(rows)

labels = [str(a) for a in alphas]
fig, axes = plt.subplots(1, 3, figsize=(7.6, 3.4))
axes[0].plot(labels, rows[:, 0], "o-")
axes[0].set_title("test accuracy")
axes[1].plot(labels, rows[:, 1], "o-")
axes[1].set_title("test log loss")
axes[2].plot(labels, rows[:, 2], "o-", label="confidence")
axes[2].plot(labels, rows[:, 0], "s--", label="accuracy")
axes[2].set_title("confidence and accuracy")
axes[2].legend(loc="lower left", fontsize=9)
for ax in axes:
    ax.set_xlabel("mixup_alpha")
fig.suptitle("Digits, 500 training rows, 256-256 MLP, 100 epochs", fontsize=11)
fig.tight_layout()
plt.show()
