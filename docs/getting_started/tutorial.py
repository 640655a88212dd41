"""The getting-started tutorial of skreg's documentation, as one script.

``docs/getting_started.rst`` shows this script in parts, each next to
what it printed. The printed text is
``docs/getting_started/output.txt``, made from the repository root by::

    PYTHONPATH=. python docs/getting_started/tutorial.py \
        > docs/getting_started/output.txt

Each part starts with a line ``# [name]`` here and a line ``[name]`` in
the output, which the page uses to cut both files. Lines stay within 72
characters, the width of the page's code blocks.
"""

import os
import tempfile

import numpy as np
from sklearn.datasets import load_breast_cancer, load_diabetes
from sklearn.model_selection import (
    GridSearchCV,
    cross_val_score,
    train_test_split,
)
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import skreg
from skreg import RegularizedMLPClassifier, RegularizedMLPRegressor


def part(name):
    print(f"[{name}]")


# [fit]
part("fit")
X, y = load_breast_cancer(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(
    X, y, stratify=y, random_state=0
)

model = make_pipeline(
    StandardScaler(), RegularizedMLPClassifier(random_state=0)
)
model.fit(X_train, y_train)
print(f"training accuracy: {model.score(X_train, y_train):.3f}, "
      f"test accuracy: {model.score(X_test, y_test):.3f}")
net = model[-1]
print(f"epochs: {net.n_iter_}, final training loss: {net.loss_:.4f}")
print("predicted probabilities of 3 test rows:")
print(model.predict_proba(X_test[:3]).round(3))

# [regularize]
part("regularize")
regularized = make_pipeline(
    StandardScaler(),
    RegularizedMLPClassifier(dropout=0.3, l2=1e-2, random_state=0),
)
regularized.fit(X_train, y_train)
net = regularized[-1]
print(f"training accuracy: {regularized.score(X_train, y_train):.3f}, "
      f"test accuracy: {regularized.score(X_test, y_test):.3f}")
print(f"epochs: {net.n_iter_}, "
      f"final training loss (penalty included): {net.loss_:.4f}")

# [measure]
part("measure")
for name, candidate in [("plain", model), ("regularized", regularized)]:
    scores = cross_val_score(candidate, X, y, cv=5)
    print(f"{name:12s} accuracy {scores.mean():.3f} "
          f"± {scores.std():.3f} over 5 folds")

# [search]
part("search")
search = GridSearchCV(
    make_pipeline(
        StandardScaler(), RegularizedMLPClassifier(random_state=0)
    ),
    {
        "regularizedmlpclassifier__dropout": [0.0, 0.3],
        "regularizedmlpclassifier__l2": [0.0, 1e-2],
    },
    cv=3,
    scoring="neg_log_loss",
).fit(X_train, y_train)
print("best parameters:")
for name, value in search.best_params_.items():
    print(f"  {name} = {value}")
print(f"best cross-validated log loss: {-search.best_score_:.4f}")
best = search.best_estimator_  # refitted on all training rows
print(f"test accuracy of the best: {best.score(X_test, y_test):.3f}")

# [regress]
part("regress")
X, y = load_diabetes(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(
    X, y, random_state=0
)
regressor = make_pipeline(
    StandardScaler(),
    RegularizedMLPRegressor((64, 64), dropout=0.2, random_state=0),
).fit(X_train, y_train)
print(f"test R^2: {regressor.score(X_test, y_test):.3f}")
scaler, network = regressor
rows = scaler.transform(X_test[:3])
mean, std = network.predict(rows, return_std=True)
print("Monte Carlo dropout, 3 test rows:")
print("  mean", mean.round(1), " std", std.round(1))
print("  true", y_test[:3])

# [save]
part("save")
with tempfile.TemporaryDirectory() as folder:
    path = os.path.join(folder, "regressor.safetensors")
    skreg.save(network, path)
    loaded = skreg.load(path)
rows = scaler.transform(X_test)
same = np.array_equal(loaded.predict(rows), network.predict(rows))
print("the loaded model predicts the same:", same)
