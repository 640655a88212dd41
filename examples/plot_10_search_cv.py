"""
======================================================================
The CV estimator: its search, and bagged fold models against a refit
======================================================================

:class:`~skreg.RegularizedMLPRegressorCV` chooses its regularization by cross-validation
inside ``fit`` and then predicts with the chosen model (see :ref:`search_cv`). This
example looks inside one such fit on scikit-learn's diabetes data (442 patients, 10
features, a noisy regression target), with the default search space of 16 candidates,
``dropout`` in [0, 0.1, 0.25, 0.5] times ``alpha`` in [1e-4, 1e-3, 1e-2, 1e-1], the
default network (one hidden layer of 100 units, up to 200 epochs) and 5 folds:

* what ``cv_results_`` records of the search: each candidate's validation score, the
  epochs it trained and its best epoch, and which candidates successive halving stopped;
* the two final models, ``final_model="refit"`` (the chosen candidate fitted again on all
  training rows) and ``final_model="bagging"`` (one model per fold, predictions averaged),
  on test rows that the search never sees.
"""

# %%
# One search, two final models
# ----------------------------
# A quarter of the rows is kept aside as a test set. The same ``random_state`` gives the
# same search, so the two estimators choose the same candidate and differ only in the
# final model(s) they fit afterwards.
import time

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_diabetes
from sklearn.metrics import r2_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skreg import RegularizedMLPRegressorCV

X, y = load_diabetes(return_X_y=True)


def fit_both(seed):
    """The test split of ``seed``, and the refit and the bagging pipeline fitted on it."""
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, random_state=seed
    )
    models = {}
    for final_model in ("refit", "bagging"):
        model = make_pipeline(
            StandardScaler(),
            RegularizedMLPRegressorCV(final_model=final_model, random_state=seed),
        )
        models[final_model] = model.fit(X_train, y_train)
    return X_test, y_test, models


start = time.perf_counter()
X_test, y_test, models = fit_both(seed=0)
refit, bagging = models["refit"][-1], models["bagging"][-1]
print(f"two fits in {time.perf_counter() - start:.1f} s")
print(f"chosen: {refit.best_params_} (bagging: {bagging.best_params_})")
print(f"mean validation R² of the chosen candidate: {refit.best_score_:.3f}")
print(f"search: {refit.search_time_:.1f} s; final model: refit {refit.refit_time_:.2f} s, "
      f"bagging {bagging.refit_time_:.2f} s")

# %%
# What the search recorded
# ------------------------
# ``cv_results_`` has :class:`~sklearn.model_selection.GridSearchCV`'s keys, plus
# ``n_epochs`` (the most epochs any fold of a candidate trained) and ``mean_best_epoch``.
# It does not record why a candidate stopped, but the epochs say it: successive halving
# stops the worse half of the candidates still in the race at ``max_iter / 8``, ``/ 4``
# and ``/ 2`` epochs (25, 50 and 100 here), and a candidate whose training ended exactly
# at one of these rungs was stopped there by halving. The others ended by early stopping
# on their held-out score (no improvement by ``tol`` for ``n_iter_no_change`` epochs) or
# at ``max_iter``. A stopped candidate keeps the score it had reached.
results = refit.cv_results_
dropout = np.asarray(results["param_dropout"], dtype=float)
alpha = np.asarray(results["param_alpha"], dtype=float)
mean, std = results["mean_test_score"], results["std_test_score"]
epochs, best_epoch = results["n_epochs"], results["mean_best_epoch"]
rungs = [refit.max_iter // 8 * 2**k for k in range(3)]
halted = np.isin(epochs, rungs)

print("dropout   alpha   mean R²   std  rank  epochs  best epoch  stopped by")
for i in np.lexsort((alpha, dropout)):
    if halted[i]:
        reason = f"halving at {epochs[i]}"
    elif epochs[i] < refit.max_iter:
        reason = "early stopping"
    else:
        reason = "max_iter"
    print(f"{dropout[i]:7.2f}  {alpha[i]:6.0e}  {mean[i]:8.3f}  {std[i]:.3f}  "
          f"{results['rank_test_score'][i]:4d}  {epochs[i]:6d}  {best_epoch[i]:10.1f}  "
          f"{reason}")
for rung in rungs:
    print(f"stopped by halving at epoch {rung}: {np.sum(epochs == rung)} candidates")
# A fold's best epoch is at most its last, so a mean best epoch equal to n_epochs means
# every fold was still improving at the epoch it stopped.
improving = halted & (best_epoch == epochs)
print(f"of the {halted.sum()} stopped by halving, {improving.sum()} were still improving on "
      "every fold")

# %%
# The validation curve over the search
# ------------------------------------
# Mean validation R² over the five folds against ``alpha``, one line per dropout rate;
# the bars are one standard deviation across folds, and the lines are shifted slightly
# along ``alpha`` so that the bars do not hide each other. Hollow markers are the
# candidates that halving stopped, whose score is the one they had after fewer epochs.
fig, ax = plt.subplots(figsize=(7.6, 4.5))
rates = np.unique(dropout)
shift = {rate: 1.12 ** (k - (len(rates) - 1) / 2) for k, rate in enumerate(rates)}
x = alpha * np.array([shift[rate] for rate in dropout])
for k, rate in enumerate(rates):
    rows = np.flatnonzero(dropout == rate)
    rows = rows[np.argsort(alpha[rows])]
    color = f"C{k}"
    ax.errorbar(x[rows], mean[rows], yerr=std[rows], capsize=3, color=color, marker="o",
                label=f"dropout={rate:g}")
    # Above the error bar's own markers (zorder 2.1), hollow where halving stopped.
    for i in rows:
        ax.plot(x[i], mean[i], "o", ms=7, mec=color, mfc="white" if halted[i] else color,
                zorder=3)
best = refit.best_index_
ax.plot(x[best], mean[best], "*", ms=18, mfc="none", mec="black", mew=1.2, zorder=4,
        label="chosen candidate")
ax.plot([], [], "o", mfc="white", mec="gray", label="stopped by halving")
ax.set_xscale("log")
ax.set_xlabel("alpha (scikit-learn's L2 penalty)")
ax.set_ylabel("mean validation R² (5 folds)")
ax.set_title("Diabetes: the CV estimator's search over dropout and alpha")
ax.legend(fontsize=9, loc="center left", bbox_to_anchor=(1, 0.5))
fig.tight_layout()
plt.show()

# %%
# Read the curve with the bars: across the five folds, the scores of most candidates
# overlap within one standard deviation, so which one wins is decided by small
# differences on this small data set. Read it with the hollow markers too: halving
# compares candidates after the same number of epochs, and a candidate's score is its
# best so far, so none that trained on can end below one stopped before it. The last
# line printed above counts the candidates that halving stopped while every fold was
# still improving: their score is how far they had got, not how far they would go.
#
# The chosen candidate's score is the best of 16 on the same folds, each at its best
# epoch, so it is optimistic; the test set below measures the final model without that
# bias.
#
# Refit or bagging
# ----------------
# The refit trains the chosen candidate on all training rows for the mean of its folds'
# best epochs; bagging trains one model per fold on that fold's training rows, each for
# its own fold's best epoch, and averages their predictions.
fold_epochs = [est.n_iter_ for est in bagging.estimators_]
print(f"epochs: refit {refit.best_estimator_.n_iter_}, fold models {fold_epochs}")
scaled_test = models["bagging"][0].transform(X_test)
fold_predictions = np.array([est.predict(scaled_test) for est in bagging.estimators_])
refit_prediction = models["refit"].predict(X_test)
bagged_prediction = models["bagging"].predict(X_test)
for name, prediction in (("refit", refit_prediction), ("bagging", bagged_prediction)):
    print(f"test R² {name:8s} {r2_score(y_test, prediction):.3f}")
for k, prediction in enumerate(fold_predictions):
    print(f"test R² fold model {k}: {r2_score(y_test, prediction):.3f}")
gap = np.abs(bagged_prediction - refit_prediction)
print(f"|bagged - refit| prediction on the test rows: median {np.median(gap):.1f}, "
      f"max {gap.max():.1f} (target std {y_test.std():.1f})")

# %%
# Each point is a test row: the refit's prediction against the bagged one, with a bar
# from the lowest to the highest prediction of the five fold models. Points off the
# diagonal are rows where the two final models disagree; the bars show how much the fold
# models disagree among themselves before averaging.
fig, ax = plt.subplots(figsize=(5.5, 5))
ax.errorbar(refit_prediction, bagged_prediction,
            yerr=[bagged_prediction - fold_predictions.min(0),
                  fold_predictions.max(0) - bagged_prediction],
            fmt="o", ms=4, alpha=0.7, elinewidth=0.8, label="test row (fold models' range)")
limits = [min(refit_prediction.min(), fold_predictions.min()),
          max(refit_prediction.max(), fold_predictions.max())]
ax.plot(limits, limits, color="gray", ls=":", label="equal predictions")
ax.set_xlabel("refit's prediction")
ax.set_ylabel("bagged prediction (mean of 5 fold models)")
ax.set_title("Diabetes test rows: bagging against the refit")
ax.legend(fontsize=9, loc="upper left")
fig.tight_layout()
plt.show()

# %%
# Over several splits
# -------------------
# One test set of a quarter of the rows is a noisy judge, so the comparison is repeated
# on four more random splits (the split's seed is also the search's ``random_state``).
# The search time is that of the refit's fit (bagging's repeats the same search); the
# final-model times are ``refit_time_``, the seconds spent fitting the final model(s)
# after the search. The first ordinary fit in a Python process also pays for one-off
# start-up work; when this example runs in a fresh process, that is split 0's refit (the
# search trains its stacked candidates without one), so compare the final-fit times on
# the later splits.
splits = [(X_test, y_test, models)] + [fit_both(seed) for seed in range(1, 5)]
scores = {"refit": [], "bagging": []}
print("seed  dropout  alpha   test R² refit  bagging  search (s)  final fit (s) refit  bagging")
for seed, (X_split, y_split, fitted) in enumerate(splits):
    for name in scores:
        scores[name].append(fitted[name].score(X_split, y_split))
    chosen = fitted["refit"][-1].best_params_
    print(f"{seed:4d}  {chosen['dropout']:7.2f}  {chosen['alpha']:5.0e}  "
          f"{scores['refit'][-1]:13.3f}  {scores['bagging'][-1]:7.3f}  "
          f"{fitted['refit'][-1].search_time_:10.1f}  "
          f"{fitted['refit'][-1].refit_time_:19.2f}  {fitted['bagging'][-1].refit_time_:7.2f}")
difference = np.subtract(scores["bagging"], scores["refit"])
print(f"bagging - refit test R²: mean {difference.mean():+.3f}, "
      f"higher on {np.sum(difference > 0)} of {len(difference)} splits")

# %%
fig, ax = plt.subplots(figsize=(6, 3.8))
for seed in range(len(splits)):
    ax.plot([0, 1], [scores["refit"][seed], scores["bagging"][seed]], "o-",
            label=f"split {seed}")
ax.set_xticks([0, 1], ['final_model="refit"', 'final_model="bagging"'])
ax.set_xlim(-0.4, 1.4)
ax.set_ylabel("test R²")
ax.set_title("Diabetes: test R² of the two final models, five splits")
ax.legend(fontsize=9, loc="center left", bbox_to_anchor=(1, 0.5))
fig.tight_layout()
plt.show()

# %%
# What the run shows
# ------------------
# The table above compares the two final models split by split, and the last line of the
# output counts the splits on which bagging scored higher. The differences between the
# final models are small next to the differences between splits: the test set drawn
# moves the R² more than the choice of final model does. Bagging costs one fit per fold
# instead of one, each on four fifths of the rows, which the final-fit times show; its
# fold models train for their own best epochs, where the refit takes their mean.
