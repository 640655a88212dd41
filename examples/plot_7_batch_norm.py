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
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score, log_loss
from sklearn.model_selection import ShuffleSplit, train_test_split
from sklearn.preprocessing import StandardScaler

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
print(model.net_.module_.hidden)

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
# The same 128-128 network, with and without batch normalization, trained at the default
# learning rate and at a ten times larger one. First the training loss of one run per
# setting, then test scores on five random splits.
fig, ax = plt.subplots(figsize=(7, 4.2))
for batch_norm, color in [(False, "tab:red"), (True, "tab:blue")]:
    for lr, style in [(1e-3, "-"), (1e-2, ":")]:
        fitted = RegularizedMLPClassifier(
            (128, 128), batch_norm=batch_norm, learning_rate_init=lr, random_state=0
        ).fit(X_train, y_train)
        ax.plot(fitted.loss_curve_, color=color, ls=style,
                label=f"batch_norm={batch_norm}, learning rate {lr:g}")
ax.set_yscale("log")
ax.set_xlabel("epoch")
ax.set_ylabel("training loss (log scale)")
ax.set_title("Digits, 500 training rows: training loss")
ax.legend(fontsize=9)
fig.tight_layout()
plt.show()

# %%
results = {False: [], True: []}
for train, test in ShuffleSplit(n_splits=5, train_size=500, random_state=1).split(X):
    scaler = StandardScaler().fit(X[train])
    for batch_norm in results:
        fitted = RegularizedMLPClassifier((128, 128), batch_norm=batch_norm, random_state=0)
        fitted.fit(scaler.transform(X[train]), y[train])
        proba = fitted.predict_proba(scaler.transform(X[test]))
        results[batch_norm].append((
            accuracy_score(y[test], fitted.classes_[proba.argmax(1)]),
            log_loss(y[test], proba, labels=fitted.classes_),
            fitted.n_iter_,
        ))
for batch_norm, rows in results.items():
    rows = np.array(rows)
    print(
        f"batch_norm={batch_norm!s:5s} "
        f"accuracy {rows[:, 0].mean():.4f} ± {rows[:, 0].std():.4f}  "
        f"log loss {rows[:, 1].mean():.4f} ± {rows[:, 1].std():.4f}  "
        f"epochs until the training loss stalled {rows[:, 2].mean():.0f}"
    )
