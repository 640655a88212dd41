"""
==============================================================
Early stopping: curves, patience and the restored best epoch
==============================================================

With ``early_stopping=True`` skreg holds out ``validation_fraction`` of the training rows
(stratified by class for classifiers), records the validation loss after every epoch, stops
once it has not improved by at least ``tol`` for ``n_iter_no_change`` epochs (the
*patience*), and then **restores the weights of the best epoch**. The fitted model reports
that epoch as ``best_epoch_``; the whole record is in ``net_.history``.

Early stopping is sometimes described as "not really a regularizer" because it changes no
loss term. But it limits the same thing a penalty limits: with small initial weights,
every epoch of gradient descent lets the weights grow further from zero, so the number of
epochs acts as a bound on their size -- for a linear model trained by gradient descent it
is close to an L2 penalty whose strength falls as training goes on. This example shows the
curves on scikit-learn's diabetes data and measures that weight growth.
"""

# %%
import warnings

import matplotlib.pyplot as plt
import numpy as np
import torch
from sklearn.datasets import load_diabetes
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler
from skorch.callbacks import Callback

from skreg import RegularizedMLPRegressor

warnings.filterwarnings("ignore", category=ConvergenceWarning)  # fixed epoch budgets below

X, y = load_diabetes(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0)
scaler = StandardScaler().fit(X_train)
X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)


class WeightNorm(Callback):
    """Record the Euclidean norm of all weight matrices after each epoch."""

    def on_epoch_end(self, net, **kwargs):
        weights = [p for p in net.module_.parameters() if p.ndim >= 2]
        norm = torch.sqrt(sum((w.detach() ** 2).sum() for w in weights)).item()
        net.history.record("weight_norm", norm)


model = RegularizedMLPRegressor(
    (128, 128),
    early_stopping=True,
    validation_fraction=0.2,
    n_iter_no_change=20,
    max_iter=500,
    random_state=0,
    callbacks=[WeightNorm()],
).fit(X_train, y_train)
history = model.net_.history
print(f"epochs run: {model.n_iter_}, best epoch restored: {model.best_epoch_}")
print(f"validation R² of the restored epoch: {model.best_validation_score_:.3f}")
print(f"test R²: {model.score(X_test, y_test):.3f}")

# %%
# Training and validation curves
# ------------------------------
# Both losses are mean squared errors of the standardized target. The shaded band is the
# patience: the epochs trained after the best one, whose weights were thrown away.
epochs = np.arange(1, len(history) + 1)
fig, ax = plt.subplots(figsize=(7.5, 4.4))
ax.plot(epochs, history[:, "train_loss"], label="training loss")
ax.plot(epochs, history[:, "valid_loss"], label="validation loss")
ax.axvline(model.best_epoch_, color="k", ls="--", lw=1)
ax.axvspan(
    model.best_epoch_, model.n_iter_, color="gray", alpha=0.2, label="patience (discarded)"
)
ax.annotate(
    f"best_epoch_ = {model.best_epoch_}", (model.best_epoch_, ax.get_ylim()[1] * 0.9),
    xytext=(5, 0), textcoords="offset points",
)
ax.set_xlabel("epoch")
ax.set_ylabel("mean squared error (standardized target)")
ax.set_title("Diabetes: 128-128 MLP with early_stopping=True, n_iter_no_change=20")
ax.legend(loc="center right")
fig.tight_layout()
plt.show()

# %%
# The weights in the fitted model are those of the best epoch, not of the last one: their
# norm equals the norm the callback recorded at ``best_epoch_``, and differs from the one
# recorded at the last epoch.
fitted_norm = torch.sqrt(
    sum((p.detach() ** 2).sum() for p in model.net_.module_.parameters() if p.ndim >= 2)
).item()
print(f"weight norm of the fitted model:  {fitted_norm:.4f}")
best_norm = history[model.best_epoch_ - 1, "weight_norm"]
print(f"recorded at best epoch {model.best_epoch_}:      {best_norm:.4f}")
print(f"recorded at last epoch {model.n_iter_}:      {history[-1, 'weight_norm']:.4f}")

# %%
# Patience
# --------
# A short patience stops at the first bump of a noisy validation curve; a long one trains
# longer to find a better minimum, at the cost of time. The table refits with several
# patiences (the best epoch's weights are restored in every case).
print("n_iter_no_change  epochs run  best_epoch_  test R²")
patiences = [2, 5, 10, 20, 50]
by_patience = {}
for patience in patiences:
    fitted = RegularizedMLPRegressor(
        (128, 128), early_stopping=True, validation_fraction=0.2,
        n_iter_no_change=patience, max_iter=500, random_state=0,
    ).fit(X_train, y_train)
    by_patience[patience] = fitted
    print(
        f"{patience:16d}  {fitted.n_iter_:10d}  {fitted.best_epoch_:11d}  "
        f"{fitted.score(X_test, y_test):7.3f}"
    )

# %%
# Every fit draws the same weights and batches (same ``random_state``), so the fits share
# one validation curve up to the epoch where each stops: the longest run shows them all.
# Left, that curve with each patience's last epoch (bar) and restored epoch (dot); right,
# what each restored network scores on the test rows.
longest = by_patience[max(patiences)]
fig, (ax, ax_test) = plt.subplots(
    1, 2, figsize=(7.5, 3.8), gridspec_kw={"width_ratios": [2, 1]}
)
curve = longest.validation_scores_
ax.plot(np.arange(1, len(curve) + 1), curve, color="gray", lw=1, label="validation R²")
for i, patience in enumerate(patiences):
    fitted = by_patience[patience]
    color = f"C{i}"
    # Shrinking rings, so that patiences which restore the same epoch stay visible.
    ax.plot(fitted.best_epoch_, fitted.best_validation_score_, "o", color=color,
            markersize=13 - 2 * i, label=f"n_iter_no_change={patience}")
    ax.axvline(fitted.n_iter_, color=color, ls=":", lw=1.5)
    test_score = fitted.score(X_test, y_test)
    ax_test.bar(i, test_score, color=color)
    ax_test.annotate(f"{test_score:.3f}", (i, test_score), xytext=(0, 3),
                     textcoords="offset points", ha="center", fontsize=8)
ax.set_xlabel("epoch")
ax.set_ylabel("validation R²")
ax.set_title("Restored epoch (dot) and last epoch (dotted)", fontsize=10)
ax.legend(fontsize=8, loc="lower right")
ax_test.set_xticks(range(len(patiences)), [str(p) for p in patiences])
ax_test.set_xlabel("n_iter_no_change")
ax_test.set_ylabel("test R²")
ax_test.set_ylim(0, 1)  # from zero: bar lengths compare honestly
ax_test.set_title("Test R², restored network", fontsize=10)
fig.tight_layout()
plt.show()

# %%
# Early stopping limits the size of the weights
# ---------------------------------------------
# Without a penalty, the weight norm grows steadily with training. Stopping at the best
# epoch keeps weights that training has moved only a little from their initial values; an
# L2 penalty trained for the full budget instead pulls them towards zero.
plain = RegularizedMLPRegressor(
    (128, 128), max_iter=300, n_iter_no_change=300, random_state=0, callbacks=[WeightNorm()]
).fit(X_train, y_train)
penalized = RegularizedMLPRegressor(
    (128, 128), l2=0.1, max_iter=300, n_iter_no_change=300, random_state=0,
    callbacks=[WeightNorm()],
).fit(X_train, y_train)
fig, ax = plt.subplots(figsize=(7.5, 4.2))
ax.plot(plain.net_.history[:, "weight_norm"], label="no regularization, 300 epochs")
ax.plot(penalized.net_.history[:, "weight_norm"], label="l2=0.1, 300 epochs")
ax.plot(history[:, "weight_norm"], label="early stopping (run above)")
ax.plot(model.best_epoch_ - 1, history[model.best_epoch_ - 1, "weight_norm"], "ko",
        label="restored best epoch")
ax.set_xlabel("epoch")
ax.set_ylabel("norm of all weights")
ax.legend()
ax.set_title("Diabetes: weight norm during training")
fig.tight_layout()
plt.show()
fits = {"no regularization": plain, "l2=0.1": penalized, "early stopping": model}
for name, fitted in fits.items():
    print(f"{name:18s} test R² {fitted.score(X_test, y_test):.3f}")
