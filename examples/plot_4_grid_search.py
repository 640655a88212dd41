"""
==============================================================
Tuning the regularization strength by cross-validation
==============================================================

No default strength is right for every data set: the best ``l2`` or ``dropout`` depends on
the amount of data, the noise and the network. Because skreg's regularizers are ordinary
hyperparameters, :class:`~sklearn.model_selection.GridSearchCV` tunes them like any other,
and putting the scaler and the network in one :class:`~sklearn.pipeline.Pipeline` keeps the
scaling inside each cross-validation fold, so no statistic of a validation fold leaks into
its training.

We tune ``l2`` and ``dropout`` together on scikit-learn's breast-cancer data, scoring by log
loss (which, unlike accuracy, rewards calibrated probabilities and separates models that
classify the same rows correctly), and keep a test set aside that the search never sees.
"""

# %%
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_breast_cancer
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score, log_loss
from sklearn.model_selection import GridSearchCV, StratifiedKFold, train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from skreg import RegularizedMLPClassifier

warnings.filterwarnings("ignore", category=ConvergenceWarning)  # fixed epoch budget

X, y = load_breast_cancer(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.25, stratify=y, random_state=0
)
pipeline = Pipeline([
    ("scale", StandardScaler()),
    ("mlp", RegularizedMLPClassifier((64,), max_iter=100, random_state=0)),
])
grid = {
    "mlp__l2": [0.0, 1e-3, 1e-2, 1e-1],
    "mlp__dropout": [0.0, 0.25, 0.5],
}
search = GridSearchCV(
    pipeline,
    grid,
    scoring="neg_log_loss",
    cv=StratifiedKFold(n_splits=3, shuffle=True, random_state=0),
).fit(X_train, y_train)
print("best parameters:", search.best_params_)
print(f"best cross-validated log loss: {-search.best_score_:.4f}")

# %%
# The whole grid
# --------------
# Each cell is the mean validation log loss over the three folds (lower is better).
# ``cv_results_`` lists the candidates with the grid's parameter names sorted and the
# last one (``mlp__l2``) varying fastest, so the scores form a dropout-by-l2 array;
# it is transposed to put l2 on the rows.

mean_loss = -search.cv_results_["mean_test_score"].reshape(
    len(grid["mlp__dropout"]), len(grid["mlp__l2"])
).T
fig, ax = plt.subplots(figsize=(6, 4.5))
image = ax.imshow(mean_loss, cmap="viridis_r")
for (i, j), value in np.ndenumerate(mean_loss):
    color = "w" if value > mean_loss.mean() else "k"
    ax.text(j, i, f"{value:.3f}", ha="center", va="center", color=color)
ax.set_xticks(range(len(grid["mlp__dropout"])), [str(d) for d in grid["mlp__dropout"]])
ax.set_yticks(range(len(grid["mlp__l2"])), [str(v) for v in grid["mlp__l2"]])
ax.set_xlabel("dropout")
ax.set_ylabel("l2")
ax.set_title("Breast cancer: 3-fold CV log loss of a 64-unit MLP")
fig.colorbar(image, ax=ax, label="mean validation log loss")
fig.tight_layout()
plt.show()

# %%
# The check that matters: the held-out test set
# ---------------------------------------------
# The best cross-validated score is optimistic, since it was the best of 12 tries on the
# same folds. The test set measures the refitted best pipeline honestly; the unregularized
# corner of the grid, refitted the same way, is the baseline.
baseline = pipeline.set_params(mlp__l2=0.0, mlp__dropout=0.0).fit(X_train, y_train)
for name, model in [("unregularized", baseline), ("tuned", search.best_estimator_)]:
    proba = model.predict_proba(X_test)
    print(
        f"{name:14s} test log loss={log_loss(y_test, proba):.4f}  "
        f"test accuracy={accuracy_score(y_test, model.predict(X_test)):.3f}"
    )
