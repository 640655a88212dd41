"""
=========================================================
Dropout: training versus prediction, and does it help?
=========================================================

``dropout=p`` puts a :class:`torch.nn.Dropout` layer after each hidden layer's activation.
While the network trains, each unit's output is set to zero with probability ``p``,
independently for every row of every batch, and the outputs that survive are multiplied by
``1 / (1 - p)``. When the network predicts, dropout is off and nothing is rescaled. This
"inverted" scaling keeps the expected value of every unit the same in both modes, so
prediction needs no correction -- unlike the original formulation of dropout, which
multiplied the weights by ``1 - p`` at test time.

This example shows both modes on a fitted network, then answers the practical question --
does a network trained with dropout predict better than the same network without it, on the
same data? -- on scikit-learn's digits (8x8 images of handwritten digits as 64 features,
10 classes), using 500 training rows so that a 256-256 network can overfit.
"""

# %%
# Training mode versus evaluation mode
# ------------------------------------
import warnings

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score, log_loss
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

model = RegularizedMLPClassifier((256, 256), dropout=0.5, random_state=0)
model.fit(X_train, y_train)
print(model.net_.module_)

# %%
# The first hidden block is ``Linear -> ReLU -> Dropout``. We feed the test rows through it
# once in evaluation mode (what :meth:`~skreg.RegularizedMLPClassifier.predict` uses) and
# once in training mode, and compare unit by unit.
first_block = model.net_.module_.hidden[:3]
inputs = torch.as_tensor(X_test, dtype=torch.float32)
with torch.no_grad():
    first_block.eval()
    evaluation = first_block(inputs).numpy()
    first_block.train()
    torch.manual_seed(0)
    training = first_block(inputs).numpy()
    first_block.eval()

active = evaluation > 0
kept = active & (training > 0)
print(f"active units (ReLU > 0) in evaluation mode: {active.mean():.3f}")
dropped_share = 1 - kept.sum() / active.sum()
ratio = np.median(training[kept] / evaluation[kept])
print(f"share of active units dropped in training mode: {dropped_share:.3f}")
print(f"training / evaluation output of kept units: {ratio:.3f}")
print(f"mean unit output, evaluation mode: {evaluation.mean():.4f}")
print(f"mean unit output, training mode:   {training.mean():.4f}")

fig, ax = plt.subplots(figsize=(5.5, 4.5))
ax.scatter(evaluation[active], training[active], s=2, alpha=0.3)
limit = evaluation.max()
ax.plot([0, limit], [0, 2 * limit], "r--", lw=1, label="training = 2 x evaluation")
ax.set_xlabel("unit output in evaluation mode (prediction)")
ax.set_ylabel("same unit, training mode")
ax.set_title("dropout=0.5: each unit is either dropped or doubled")
ax.legend()
fig.tight_layout()
plt.show()

# %%
# Half of the active units are zeroed, the rest are exactly doubled, and the mean output is
# about the same in both modes. Predictions are therefore deterministic: two calls of
# ``predict_proba`` agree, while two forward passes in training mode do not.
module = model.net_.module_
with torch.no_grad():
    module.train()
    first, second = module(inputs[:5]).softmax(1), module(inputs[:5]).softmax(1)
    module.eval()
print("max change between two training-mode passes:", float((first - second).abs().max()))
print(
    "max change between two predict_proba calls:",
    np.abs(model.predict_proba(X_test[:5]) - model.predict_proba(X_test[:5])).max(),
)


# %%
# With and without dropout on the same data
# -----------------------------------------
# A small callback records the log loss on the test rows after every epoch (in evaluation
# mode), so the training and test curves of both networks can be drawn side by side. Both
# use the defaults otherwise: Adam, and training stops once the training loss has not
# improved for 10 epochs.
class TestLoss(Callback):
    """Record the held-out cross-entropy after each epoch as ``test_loss``."""

    def __init__(self, X, y):
        self.X = X
        self.y = y

    def on_epoch_end(self, net, **kwargs):
        net.module_.eval()
        with torch.no_grad():
            logits = net.module_(torch.as_tensor(self.X, dtype=torch.float32))
        loss = F.cross_entropy(logits, torch.as_tensor(self.y)).item()
        net.history.record("test_loss", loss)


fig, ax = plt.subplots(figsize=(7, 4.4))
for p, color in [(0.0, "tab:red"), (0.5, "tab:blue")]:
    net = RegularizedMLPClassifier(
        (256, 256), dropout=p, random_state=0, callbacks=[TestLoss(X_test, y_test)]
    ).fit(X_train, y_train).net_
    ax.plot(
        net.history[:, "train_loss"], color=color, ls=":", label=f"dropout={p}: training"
    )
    ax.plot(net.history[:, "test_loss"], color=color, label=f"dropout={p}: test")
ax.set_yscale("log")
ax.set_xlabel("epoch")
ax.set_ylabel("cross-entropy (log scale)")
ax.set_title("Digits, 500 training rows, 256-256 MLP")
ax.legend()
fig.tight_layout()
plt.show()

# %%
# The unregularized network drives its training loss towards zero while its test loss
# stops improving; with dropout the training loss stays much higher (the network is
# trained on noisy versions of itself) and the gap between the two curves is smaller.
#
# One split can mislead, so the comparison is repeated on five random splits of the same
# size. Both networks see the same rows in each split; the paired differences are what
# matters.
splits = ShuffleSplit(n_splits=5, train_size=500, random_state=1).split(X)
results = {0.0: [], 0.5: []}
for train, test in splits:
    scaler = StandardScaler().fit(X[train])
    for p in results:
        fitted = RegularizedMLPClassifier((256, 256), dropout=p, random_state=0).fit(
            scaler.transform(X[train]), y[train]
        )
        proba = fitted.predict_proba(scaler.transform(X[test]))
        results[p].append((
            accuracy_score(y[test], fitted.classes_[proba.argmax(1)]),
            log_loss(y[test], proba, labels=fitted.classes_),
        ))
plain, dropped = np.array(results[0.0]), np.array(results[0.5])
print(f"{'':8s}  {'without dropout':15s}  {'dropout=0.5':15s}  paired difference (range)")
for name, column in [("accuracy", 0), ("log loss", 1)]:
    without, with_ = plain[:, column], dropped[:, column]
    difference = with_ - without
    print(
        f"{name:8s}  {without.mean():.4f} ± {without.std():.4f}  "
        f"{with_.mean():.4f} ± {with_.std():.4f}  {difference.mean():+.4f} "
        f"({difference.min():+.4f} to {difference.max():+.4f})"
    )

fig, axes = plt.subplots(1, 2, figsize=(7.6, 3.8))
for ax, (name, column) in zip(axes, [("test accuracy", 0), ("test log loss", 1)]):
    for split in range(len(plain)):
        ax.plot([0, 1], [plain[split, column], dropped[split, column]], "o-", color="gray")
    ax.set_xticks([0, 1], ["no dropout", "dropout=0.5"])
    ax.set_xlim(-0.4, 1.4)
    ax.set_title(name)
fig.suptitle("Digits: five random splits (500 training rows), one line per split",
             fontsize=11)
fig.tight_layout()
plt.show()


# %%
# The ensemble view, measured with Monte Carlo dropout
# ----------------------------------------------------
# Dropout is often said to "train an ensemble". What it trains is one set of weights, used
# by a different random sub-network at every step; the sub-networks share everything.
# Prediction with dropout off approximates the *average* of those sub-networks by a single
# deterministic pass. Monte Carlo dropout computes that average instead: with
# ``return_std=True``, :meth:`~skreg.RegularizedMLPClassifier.predict_proba` keeps dropout
# on, averages ``mc_samples`` stochastic passes and also returns their standard
# deviation. Set against it here: a genuine ensemble of five networks trained without
# dropout from different random initializations.
mc_mean, mc_std = model.predict_proba(X_test, return_std=True)
deterministic = model.predict_proba(X_test)
members = [
    RegularizedMLPClassifier((256, 256), random_state=seed).fit(X_train, y_train)
    for seed in range(5)
]
member_probas = [member.predict_proba(X_test) for member in members]
predictions = {
    "dropout=0.5, one pass\n(dropout off)": deterministic,
    f"dropout=0.5, MC average\n({model.mc_samples} passes)": mc_mean,
    "no dropout,\none network": member_probas[0],
    "no dropout, ensemble\nof 5 networks": np.mean(member_probas, axis=0),
}
for name, proba in predictions.items():
    print(
        f"{name.replace(chr(10), ' '):42s} test log loss {log_loss(y_test, proba):.4f}  "
        f"accuracy {accuracy_score(y_test, proba.argmax(1)):.4f}"
    )

# %%
# How different are the members? Two independently trained networks disagree on some
# test rows; two stochastic passes of the same dropout network disagree on others. The
# share of rows on which pairs of members predict different classes measures the
# diversity an ensemble can average out.
module = model.net_.module_
with torch.no_grad():
    for layer in module.modules():
        if isinstance(layer, torch.nn.Dropout):
            layer.train()
    torch.manual_seed(0)
    passes = [module(inputs).argmax(1).numpy() for _ in range(5)]
    module.eval()
member_classes = [proba.argmax(1) for proba in member_probas]


def mean_disagreement(labels):
    pairs = [(i, j) for i in range(len(labels)) for j in range(i + 1, len(labels))]
    return np.mean([np.mean(labels[i] != labels[j]) for i, j in pairs])


print(f"disagreement between 5 dropout passes:         {mean_disagreement(passes):.4f}")
print(f"disagreement between 5 independent networks:   {mean_disagreement(member_classes):.4f}")

# %%
# The spread of the passes is an uncertainty estimate: rows the network gets wrong have a
# much larger Monte Carlo standard deviation for their predicted class than rows it gets
# right.
predicted = mc_mean.argmax(1)
spread = mc_std[np.arange(len(predicted)), predicted]
wrong = predicted != y_test
print(f"median MC std, correct rows: {np.median(spread[~wrong]):.4f} ({np.sum(~wrong)} rows)")
print(f"median MC std, wrong rows:   {np.median(spread[wrong]):.4f} ({np.sum(wrong)} rows)")

fig, axes = plt.subplots(2, 1, figsize=(7.6, 7.4))
names = list(predictions)
axes[0].barh(names, [log_loss(y_test, predictions[name]) for name in names],
             color=["tab:blue", "tab:blue", "tab:red", "tab:red"])
axes[0].invert_yaxis()
axes[0].set_xlabel("test log loss")
axes[0].set_title("Averaging passes versus averaging networks")
bins = np.linspace(0, spread.max(), 30)
axes[1].hist(spread[~wrong], bins=bins, density=True, alpha=0.6, label="correct predictions")
axes[1].hist(spread[wrong], bins=bins, density=True, alpha=0.6, label="wrong predictions")
axes[1].set_xlabel("MC dropout std of the predicted class's probability")
axes[1].set_ylabel("density")
axes[1].set_title("Uncertainty from Monte Carlo dropout")
axes[1].legend()
fig.tight_layout()
plt.show()
