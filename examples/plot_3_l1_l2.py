"""
===================================================
L1, L2 and elastic net: weights, sparsity, features
===================================================

skreg adds one penalty to the mean data loss of every training batch:

.. code-block:: text

    penalty = l1 * sum(|w|) + l2 / 2 * sum(w ** 2)

where the sums run over the weight matrices of all layers, output layer included, and
never over biases or batch-normalization parameters. The penalty is not divided by the
batch or training-set size, so a given ``l2`` means the same thing at any data size. The
validation loss that early stopping watches is the plain data loss. Setting both ``l1`` and
``l2`` gives the elastic-net penalty.

To see what each penalty does to a network, this example appends 30 columns of pure noise
to the 30 real features of scikit-learn's breast-cancer data and fits the same one-layer
network four times: unpenalized, with L2, with L1, and with both.
"""

# %%
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_breast_cancer
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from skreg import RegularizedMLPClassifier

warnings.filterwarnings("ignore", category=ConvergenceWarning)  # fixed epoch budget

X_real, y = load_breast_cancer(return_X_y=True)
noise = np.random.RandomState(0).normal(size=X_real.shape)
X = np.hstack([X_real, noise])  # columns 0-29 real, 30-59 noise
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.3, stratify=y, random_state=0
)
scaler = StandardScaler().fit(X_train)
X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)

penalties = {
    "no penalty": {},
    "L2 (l2=0.01)": {"l2": 1e-2},
    "L1 (l1=0.003)": {"l1": 3e-3},
    "elastic net (l1=0.001, l2=0.01)": {"l1": 1e-3, "l2": 1e-2},
}
models = {
    name: RegularizedMLPClassifier((64,), max_iter=200, random_state=0, **params).fit(
        X_train, y_train
    )
    for name, params in penalties.items()
}


def penalized_weights(model):
    """The weight matrices the penalty sums over: parameters with two or more dimensions."""
    return [p.detach().numpy() for p in model.net_.module_.parameters() if p.ndim >= 2]


# %%
# What is penalized
# -----------------
# The module holds one hidden ``Linear`` layer and the output ``Linear`` layer; only their
# weight matrices enter the penalty.
for name, param in models["no penalty"].net_.module_.named_parameters():
    print(f"{name:16s} shape={tuple(param.shape)!s:9s} penalized={param.ndim >= 2}")

# %%
# Weight distributions
# --------------------
# L2's gradient ``l2 * w`` shrinks every weight in proportion to its size, so the
# distribution narrows but keeps its shape. L1's gradient ``l1 * sign(w)`` pulls every
# weight toward zero by the same amount whatever its size, which piles most weights up at
# zero and leaves a few large ones.
bins = np.linspace(-0.4, 0.4, 81)
fig, axes = plt.subplots(2, 2, figsize=(7.6, 5.6), sharex=True, sharey=True)
for ax, (name, model) in zip(axes.flat, models.items()):
    weights = np.concatenate([w.ravel() for w in penalized_weights(model)])
    ax.hist(weights, bins=bins, color="tab:blue")
    ax.set_yscale("log")
    ax.set_title(name, fontsize=10)
for ax in axes[1]:
    ax.set_xlabel("weight value")
for ax in axes[:, 0]:
    ax.set_ylabel("number of weights\n(log scale)")
fig.suptitle("Breast cancer + 30 noise columns: all weights of a 64-unit network",
             fontsize=11)
fig.tight_layout()
plt.show()

# %%
# Sparsity, as implemented
# ------------------------
# skreg adds the L1 term to the loss and lets the optimizer (Adam by default) follow its
# subgradient. That drives weights *towards* zero, but a gradient step almost never lands
# exactly on zero: the weights end up oscillating in a band around zero whose width is set
# by the learning rate. So we count weights whose magnitude is below ``1e-3`` (about the
# size of one Adam step at the default learning rate) as "zero", and report exact zeros
# separately. To get exact zeros, threshold the weights after training or use a proximal
# method; skreg does neither.
print(f"{'model':34s} {'|w|<1e-3':>9s} {'exactly 0':>9s} {'test accuracy':>13s}")
for name, model in models.items():
    weights = np.concatenate([w.ravel() for w in penalized_weights(model)])
    print(
        f"{name:34s} {np.mean(np.abs(weights) < 1e-3):9.1%} {np.mean(weights == 0):9.1%} "
        f"{model.score(X_test, y_test):13.3f}"
    )

# %%
# Feature selection
# -----------------
# An input feature is switched off when every weight leaving it is (near) zero, i.e. when
# its column of the first weight matrix has a small norm. The bars show that norm for the
# 30 real features (blue) and the 30 noise columns (orange).
fig, axes = plt.subplots(4, 1, figsize=(7.6, 9.5), sharex=True)
colors = ["tab:blue"] * 30 + ["tab:orange"] * 30
for ax, (name, model) in zip(axes, models.items()):
    column_norms = np.linalg.norm(penalized_weights(model)[0], axis=0)
    ax.bar(np.arange(60), column_norms, color=colors)
    top30 = np.argsort(column_norms)[::-1][:30]
    ax.set_title(
        f"{name}: {np.sum(top30 < 30)} of the 30 largest columns are real features\n"
        f"mean norm real {column_norms[:30].mean():.3f}, "
        f"noise {column_norms[30:].mean():.3f}",
        fontsize=10,
    )
    ax.set_ylabel("column norm")
axes[-1].set_xlabel("input column (0-29 real features, 30-59 noise)")
fig.tight_layout()
plt.show()

# %%
# Without a penalty the network spreads weight over noise columns almost as much as over
# real features. Both penalties shrink the noise columns more than the real ones, because
# the data loss gives the noise columns nothing to push back with; L1 goes furthest and
# leaves the noise columns near zero, which is the sense in which L1 "selects features".
# The elastic net sits between the two. On this data the penalties barely change test
# accuracy: their value here is a smaller, more interpretable network, not a better score.


# %%
# L2 penalty versus weight decay
# ------------------------------
# ``weight_decay`` shrinks the same weight matrices directly in the optimizer step instead
# of adding a term to the loss. With ``solver="sgd"`` the two are the same update, so a
# network trained with ``l2=c`` and one trained with ``weight_decay=c`` end with the same
# weights (up to floating-point rounding). With Adam they are different regularizers: the
# penalty's gradient is rescaled by Adam's per-weight step size, decoupled decay
# (AdamW) is not.
def first_layer(model):
    return penalized_weights(model)[0]


# First layer of each pair of networks: the largest difference between their weights, and
# each network's weight norm.
print(f"{'solver':6s}  {'largest difference':>18s}  {'norm, l2=0.01':>13s}  "
      f"{'norm, weight_decay=0.01':>23s}")
for solver in ["sgd", "adam"]:
    common = dict(hidden_layer_sizes=(64,), solver=solver, max_iter=50, random_state=0)
    if solver == "sgd":
        common["learning_rate_init"] = 0.01
    by_penalty = RegularizedMLPClassifier(l2=1e-2, **common).fit(X_train, y_train)
    by_decay = RegularizedMLPClassifier(weight_decay=1e-2, **common).fit(X_train, y_train)
    difference = np.abs(first_layer(by_penalty) - first_layer(by_decay)).max()
    print(
        f"{solver:6s}  {difference:18.2e}  {np.linalg.norm(first_layer(by_penalty)):13.3f}  "
        f"{np.linalg.norm(first_layer(by_decay)):23.3f}"
    )
