"""
====================================================
Batch normalization: two modes and a measured effect
====================================================

``batch_norm=True`` inserts a :class:`torch.nn.BatchNorm1d` layer between each hidden
linear layer and its activation. While training, it standardizes each unit with the mean
and variance of the *current batch* and then applies a learned scale and shift; it also
keeps running averages of those batch statistics. When predicting, it uses the running
averages, so a row's prediction no longer depends on which other rows share its batch.

Batch normalization was designed to make training faster and more stable; any regularizing
effect comes from the noise that batch statistics add during training. This example shows
the two modes on a fitted network and measures what batch normalization does to training
speed and test scores on scikit-learn's digits, with 500 training rows.
"""

# %%
import copy
import warnings

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import ShuffleSplit, train_test_split
from sklearn.preprocessing import StandardScaler
from skorch.callbacks import Callback

from skreg import RegularizedMLPClassifier

warnings.filterwarnings("ignore", category=ConvergenceWarning)

X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(
    X, y, train_size=500, stratify=y, random_state=0
)
scaler = StandardScaler().fit(X_train)
X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
model = RegularizedMLPClassifier((128, 128), batch_norm=True, random_state=0)
model.fit(X_train, y_train)
print([type(layer).__name__ for layer in model.net_.module_.hidden])  # the hidden blocks

# %%
# Training mode versus evaluation mode
# ------------------------------------
# Take one test row and put it into 200 batches of 32 rows, each time with different
# companions drawn from the test set. In training mode (on a copy of the module, so the
# fitted running averages stay untouched) the predicted probability of the row's class
# changes with its companions; in evaluation mode, which ``predict_proba`` uses, it is one
# number.
row = 0
rng = np.random.RandomState(0)
training_copy = copy.deepcopy(model.net_.module_).train()
probabilities = []
with torch.no_grad():
    for _ in range(200):
        companions = rng.choice(np.arange(1, len(X_test)), size=31, replace=False)
        batch = torch.as_tensor(X_test[np.r_[row, companions]], dtype=torch.float32)
        probabilities.append(training_copy(batch).softmax(1)[0, y_test[row]].item())
evaluation_probability = model.predict_proba(X_test[[row]])[0, y_test[row]]
print(f"evaluation mode: {evaluation_probability:.4f}")
print(
    f"training mode over 200 batches: mean {np.mean(probabilities):.4f}, "
    f"min {np.min(probabilities):.4f}, max {np.max(probabilities):.4f}"
)

fig, ax = plt.subplots(figsize=(6.5, 3.8))
ax.hist(probabilities, bins=30, color="tab:blue", label="training mode, 200 batches of 32")
ax.axvline(evaluation_probability, color="k", ls="--", label="evaluation mode (prediction)")
ax.set_xlabel(f"predicted probability of the true class (digit {y_test[row]})")
ax.set_ylabel("batches")
ax.set_title("One test row: batch statistics make its output depend on its batch")
ax.legend(loc="upper left", fontsize=9)
fig.tight_layout()
plt.show()

# %%
# Its measured effect
# -------------------
# The same 128-128 network, with and without batch normalization, on five random splits
# (500 training rows each, the rest for testing; each split with its own seed), trained at
# the default learning rate and at a ten times larger one, with the default stopping rule.
#
# ``loss_curve_`` is the mean loss of the epoch's training batches, computed in training
# mode: with batch statistics, while the weights change. A network with batch
# normalization predicts in evaluation mode, with the running averages, so its training
# loss in ``loss_curve_`` is not the loss of the network that predicts. A small callback
# puts the module into evaluation mode after every epoch and records the cross-entropy
# and accuracy of what ``predict_proba`` would return, on the training rows and on the
# test rows.
class EvaluationModeScores(Callback):
    """After each epoch, record the evaluation-mode loss and accuracy of named row sets."""

    def __init__(self, **sets):
        self.sets = sets

    def on_epoch_end(self, net, **kwargs):
        module = net.module_
        was_training = module.training
        module.eval()
        with torch.no_grad():
            for name, (X_set, y_set) in self.sets.items():
                logits = module(torch.as_tensor(X_set, dtype=torch.float32))
                target = torch.as_tensor(y_set)
                net.history.record(f"{name}_loss", F.cross_entropy(logits, target).item())
                accuracy = (logits.argmax(1) == target).double().mean().item()
                net.history.record(f"{name}_accuracy", accuracy)
        module.train(was_training)


learning_rates = [1e-3, 1e-2]
splits = list(ShuffleSplit(n_splits=5, train_size=500, random_state=1).split(X))
runs = {}  # (batch_norm, learning rate) -> one dict of curves per split
for seed, (train, test) in enumerate(splits):
    scaler = StandardScaler().fit(X[train])
    X_fit, X_held = scaler.transform(X[train]), scaler.transform(X[test])
    for batch_norm in [False, True]:
        for lr in learning_rates:
            scores = EvaluationModeScores(train=(X_fit, y[train]), test=(X_held, y[test]))
            fitted = RegularizedMLPClassifier(
                (128, 128), batch_norm=batch_norm, learning_rate_init=lr,
                random_state=seed, callbacks=[scores],
            ).fit(X_fit, y[train])
            history = fitted.net_.history
            curves = {key: np.array(history[:, key]) for key in [
                "train_loss", "train_accuracy", "test_loss", "test_accuracy"]}
            curves["training_mode_loss"] = np.array(fitted.loss_curve_)
            runs.setdefault((batch_norm, lr), []).append(curves)


# %%
# Training speed, in evaluation mode
# ----------------------------------
# Each thin line is one split. For every split the comparison below finds the first epoch
# from which the network without batch normalization has the lower evaluation-mode
# training loss for the rest of the shorter run: before it, batch normalization was ahead.
def first_epoch_behind(with_bn, without_bn):
    """1-based epoch from which ``without_bn`` stays below ``with_bn``; 1 if it always is."""
    n = min(len(with_bn), len(without_bn))
    ahead = with_bn[:n] <= without_bn[:n]
    return int(np.flatnonzero(ahead)[-1]) + 2 if ahead.any() else 1


fig, axes = plt.subplots(1, 2, figsize=(7.6, 3.8), sharey=True)
for ax, lr in zip(axes, learning_rates):
    for batch_norm, color in [(False, "tab:red"), (True, "tab:blue")]:
        for split, curves in enumerate(runs[(batch_norm, lr)]):
            epochs = np.arange(1, len(curves["train_loss"]) + 1)
            ax.plot(epochs, curves["train_loss"], color=color, lw=1, alpha=0.7,
                    label=f"batch_norm={batch_norm}" if split == 0 else None)
            if batch_norm and split == 0:
                ax.plot(epochs, curves["training_mode_loss"], color="k", ls=":", lw=1.5,
                        label="batch_norm=True,\nloss_curve_ (training mode)")
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_title(f"learning rate {lr:g}")
axes[0].set_ylabel("training-row cross-entropy,\nevaluation mode (log scale)")
axes[0].legend(fontsize=8)
fig.suptitle("Digits, 500 training rows, 128-128 MLP: five splits", fontsize=11)
fig.tight_layout()
plt.show()

crossings = {}
for lr in learning_rates:
    crossings[lr] = [
        first_epoch_behind(with_bn["train_loss"], without["train_loss"])
        for with_bn, without in zip(runs[(True, lr)], runs[(False, lr)])
    ]
    print(f"learning rate {lr:g}: batch norm ahead until epoch {crossings[lr]}")
    for batch_norm in [False, True]:
        epochs = [len(curves["train_loss"]) for curves in runs[(batch_norm, lr)]]
        print(f"  batch_norm={batch_norm!s:5s} epochs until the rule stopped: {epochs}")


# %%
# Its regularizing effect
# -----------------------
# The scores of the final networks (default learning rate), on the training rows and on
# the test rows, both in evaluation mode: bars are means over the five splits with their
# standard errors, dots the splits.
def final(batch_norm, key, lr=1e-3):
    return np.array([curves[key][-1] for curves in runs[(batch_norm, lr)]])


def standard_error(values):
    return values.std(ddof=1) / np.sqrt(len(values))


fig, axes = plt.subplots(1, 2, figsize=(7.6, 3.6))
for ax, metric in zip(axes, ["loss", "accuracy"]):
    for group, rows in enumerate(["train", "test"]):
        for offset, batch_norm, color in [(-0.2, False, "tab:red"), (0.2, True, "tab:blue")]:
            values = final(batch_norm, f"{rows}_{metric}")
            ax.bar(group + offset, values.mean(), 0.4, yerr=standard_error(values),
                   color=color, alpha=0.6, capsize=3,
                   label=f"batch_norm={batch_norm}" if group == 0 else None)
            ax.plot(np.full(len(values), group + offset), values, "k.", ms=4)
    ax.set_xticks([0, 1], ["training rows", "test rows"])
    ax.set_title({"loss": "log loss", "accuracy": "accuracy"}[metric])
axes[0].set_yscale("log")
axes[1].set_ylim(0.9, 1.005)
axes[1].legend(loc="lower left", fontsize=8)
fig.suptitle("Final networks, five splits, evaluation mode", fontsize=11)
fig.tight_layout()
plt.show()

for lr in learning_rates:
    print(f"learning rate {lr:g}, final networks, mean ± standard error over 5 splits")
    for rows in ["train", "test"]:
        for metric in ["loss", "accuracy"]:
            key = f"{rows}_{metric}"
            without, with_bn = final(False, key, lr), final(True, key, lr)
            difference = with_bn - without
            print(
                f"  {rows:5s} {metric:8s} without {without.mean():.4f} ± "
                f"{standard_error(without):.4f}  with {with_bn.mean():.4f} ± "
                f"{standard_error(with_bn):.4f}"
            )
            print(
                f"{'':17s}paired difference {difference.mean():+.4f} ± "
                f"{standard_error(difference):.4f}, better on "
                f"{np.sum(difference < 0 if metric == 'loss' else difference > 0)} of 5"
            )
