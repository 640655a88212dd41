"""
=============================================================
Training and validation scores as the regularization grows
=============================================================

Regularization trades fit on the training data for stability on new data. This example
measures that trade on scikit-learn's diabetes data (442 patients, 10 features, a noisy
regression target) with a network far larger than the data needs: two hidden layers of 128
units, trained for 200 epochs.

:class:`~sklearn.model_selection.ValidationCurveDisplay` refits the pipeline on five folds
for each L2 strength and plots the training and validation R² side by side.
"""

# %%
# Validation curve over the L2 strength
# -------------------------------------
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_diabetes
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import KFold, LearningCurveDisplay, ValidationCurveDisplay
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skreg import RegularizedMLPRegressor

# Every network here trains for a fixed budget of epochs on purpose, so scikit-learn's
# warning that the training loss was still improving at the last epoch is expected.
warnings.filterwarnings("ignore", category=ConvergenceWarning)

X, y = load_diabetes(return_X_y=True)
cv = KFold(n_splits=5, shuffle=True, random_state=0)
model = make_pipeline(
    StandardScaler(),
    RegularizedMLPRegressor(hidden_layer_sizes=(128, 128), max_iter=200, random_state=0),
)
strengths = np.logspace(-4, 0, 5)

display = ValidationCurveDisplay.from_estimator(
    model,
    X,
    y,
    param_name="regularizedmlpregressor__l2",
    param_range=strengths,
    cv=cv,
    scoring="r2",
    score_name="R²",
    std_display_style="errorbar",
)
display.ax_.set_xscale("log")
display.ax_.set_xlabel("L2 strength (l2)")
display.ax_.set_title("Diabetes: R² of a 128-128 MLP as the L2 penalty grows")
handles = display.ax_.get_legend_handles_labels()[0]
display.ax_.legend(handles, ["training folds", "validation folds"])
plt.show()

# %%
# The numbers behind the figure:
train_r2 = display.train_scores.mean(axis=1)
valid_r2 = display.test_scores.mean(axis=1)
for l2, train, valid in zip(strengths, train_r2, valid_r2):
    print(
        f"l2={l2:<7g} train R²={train:6.3f}  validation R²={valid:6.3f}  "
        f"gap={train - valid:6.3f}"
    )

# %%
# Read the curve from left to right. With almost no penalty the network fits the training
# folds nearly perfectly and the validation folds poorly: high variance. Each step of L2
# lowers the training score -- the penalty makes the model *worse* at fitting the data it
# sees, which is exactly an increase in bias -- and, up to a point, raises the validation
# score because the fitted function varies less from one training sample to the next.
# Past the best strength the bias dominates and both scores fall together: at ``l2=1`` the
# penalty outweighs the data loss and the network predicts little more than the mean.
#
# Learning curves: more data against more regularization
# ------------------------------------------------------
# A learning curve refits the model on growing subsets of the training folds. The
# unregularized network keeps a large gap between training and validation score at every
# size; the regularized one (the best strength above) narrows it. Both approach each other
# as data grows, which is the other cure for variance.
best_l2 = strengths[np.argmax(valid_r2)]
# Figures of these pages are at most 7.6 inches wide: at 100 dpi they then show at about
# 80 % of their size in the user guide's column, where their labels stay readable.
fig, axes = plt.subplots(1, 2, figsize=(7.6, 3.8), sharey=True)
for ax, l2 in zip(axes, [0.0, best_l2]):
    LearningCurveDisplay.from_estimator(
        model.set_params(regularizedmlpregressor__l2=l2),
        X,
        y,
        train_sizes=np.linspace(0.2, 1.0, 4),
        cv=KFold(n_splits=3, shuffle=True, random_state=0),
        scoring="r2",
        score_name="R²",
        std_display_style="fill_between",
        ax=ax,
    )
    ax.set_title(f"l2={l2:g}")
    ax.legend(ax.get_legend_handles_labels()[0], ["training folds", "validation folds"])
    ax.set_ylim(-0.2, 1.05)
fig.suptitle("Diabetes: learning curves without and with the L2 penalty", fontsize=11)
fig.tight_layout()
plt.show()
