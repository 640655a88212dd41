"""RegularizedMLPClassifierCV and RegularizedMLPRegressorCV: regularization chosen by CV.

The search trains every candidate on every fold and scores it on the fold's held-out
rows after every epoch (every ``eval_every`` epochs for candidates trained as ordinary
estimators). Three things keep it short:

* early stopping per candidate x fold: a member whose held-out score has not improved by
  ``tol`` for ``n_iter_no_change`` epochs stops, and its best epoch is its score;
* successive halving over epochs: at rungs of ``max_iter / 8, / 4, / 2`` epochs only the
  better half of the candidates still in the race goes on;
* candidates that differ only in per-member settings (dropout, l1, l2, alpha,
  weight_decay, learning_rate_init) train together as one stacked network
  (:mod:`skreg._stacked`); others train as ordinary skreg estimators.

The final model is an ordinary skreg estimator, fitted again with ``max_iter`` equal to
the best epoch count the search found (the mean over folds for the refit on all rows,
each fold's own for bagging): the stacked trainer's random draws are not an ordinary
fit's, and a refit gives a model whose history, optimizer state and saved file are
those of an ordinary fit with its own parameters.
"""

import inspect
import time
import warnings
from numbers import Integral
from typing import ClassVar

import numpy as np
from joblib import Parallel, delayed
from scipy.stats import rankdata
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import check_scoring
from sklearn.model_selection import ParameterGrid, ParameterSampler, check_cv
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import (
    Interval,
    StrOptions,
    validate_parameter_constraints,
)
from sklearn.utils.validation import check_is_fitted, validate_data

from ._classifier import RegularizedMLPClassifier
from ._docs import search_doc
from ._members import PER_MEMBER, Member, OrdinaryEngine, StackedEngine, stackable
from ._regressor import RegularizedMLPRegressor

# The documented default search space: 16 candidates of dropout and sklearn's alpha.
DEFAULT_SPACE = {"dropout": [0.0, 0.1, 0.25, 0.5], "alpha": [1e-4, 1e-3, 1e-2, 1e-1]}

# Settings each member of a stacked network has for itself.
SEARCH_PARAMETERS = {
    "param_grid": None,
    "n_iter": None,
    "cv": 5,
    "scoring": None,
    "final_model": "refit",
    "halving": True,
    "stacked": "auto",
    "eval_every": 5,
    "n_jobs": None,
}


class _BaseSearchCV(BaseEstimator):
    """Shared logic of the two CV estimators; use the classifier's or the regressor's."""

    _base_class = None

    _search_constraints: ClassVar[dict] = {
        "param_grid": [dict, list, None],
        "n_iter": [Interval(Integral, 1, None, closed="left"), None],
        "cv": ["cv_object"],
        "scoring": [str, callable, None],
        "final_model": [StrOptions({"refit", "bagging"})],
        "halving": ["boolean"],
        "stacked": [StrOptions({"auto"}), "boolean"],
        "eval_every": [Interval(Integral, 1, None, closed="left")],
        "n_jobs": [Integral, None],
    }

    def __init__(self, **params):
        # The base estimator's parameters and the search's, as listed in __signature__.
        for name, parameter in inspect.signature(type(self)).parameters.items():
            setattr(self, name, params.pop(name, parameter.default))
        if params:
            raise TypeError(f"{type(self).__name__} got unexpected parameters {sorted(params)}.")

    @classmethod
    def _make_signature(cls):
        """The base estimator's constructor signature followed by the search's parameters."""
        base = inspect.signature(cls._base_class.__init__).parameters.values()
        search = [inspect.Parameter(n, inspect.Parameter.KEYWORD_ONLY, default=d)
                  for n, d in SEARCH_PARAMETERS.items()]
        return inspect.Signature(list(base) + search)

    def _base_params(self):
        names = inspect.signature(self._base_class.__init__).parameters
        return {n: getattr(self, n) for n in names if n != "self"}

    def _base_estimator(self, **overrides):
        return self._base_class(**{**self._base_params(), **overrides})

    # ------------------------------------------------------------------ checks
    def _validate_params(self):
        search = {n: getattr(self, n) for n in SEARCH_PARAMETERS}
        validate_parameter_constraints(self._search_constraints, search, type(self).__name__)
        self._base_estimator()._validate_params()

    def _candidates(self):
        """The list of candidate parameter dicts, each checked against the base estimator."""
        space = DEFAULT_SPACE if self.param_grid is None else self.param_grid
        grids = [space] if isinstance(space, dict) else list(space)
        if not grids:
            raise ValueError("param_grid is an empty list; give at least one dict.")
        allowed = set(self._base_params())
        for grid in grids:
            if not isinstance(grid, dict):
                raise TypeError(f"param_grid must be a dict or a list of dicts, got {grid!r}.")
            for name, values in grid.items():
                if name not in allowed:
                    raise ValueError(
                        f"param_grid has {name!r}, which is not a parameter of "
                        f"{self._base_class.__name__}; valid names: {sorted(allowed)}."
                    )
                if hasattr(values, "rvs"):
                    if self.n_iter is None:
                        raise ValueError(
                            f"param_grid[{name!r}] is a distribution: set n_iter to sample "
                            "candidates from it."
                        )
                elif isinstance(values, (str, bytes)) or not hasattr(values, "__len__"):
                    raise TypeError(
                        f"param_grid[{name!r}] must be a list of values (or, with n_iter, a "
                        f"distribution), got {values!r}."
                    )
                elif len(values) == 0:
                    raise ValueError(f"param_grid[{name!r}] is empty; give at least one value.")
        if self.n_iter is None:
            candidates = list(ParameterGrid(grids))
        else:
            seed = check_random_state(self.random_state).randint(np.iinfo(np.int32).max)
            candidates = list(ParameterSampler(grids, self.n_iter, random_state=seed))
        for params in candidates:
            try:
                self._base_estimator(**params)._validate_params()
            except (ValueError, TypeError) as exc:
                message = f"The search space's candidate {params} is invalid: {exc}"
                raise ValueError(message) from exc
        return candidates

    # ------------------------------------------------------------------ fitting
    def fit(self, X, y):
        """Search the space by cross-validation, then fit the final model(s).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Numeric training data, split into the folds of ``cv``.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            The targets, as the base estimator takes them.

        Returns
        -------
        self : object
            The fitted search.
        """
        self._validate_params()
        # float32 input stays float32 (the base estimators predict in its dtype), else float64.
        X, y = validate_data(self, X, y, dtype=(np.float64, np.float32), multi_output=True)
        candidates = self._candidates()
        self._check_target(y)
        folds = list(check_cv(self.cv, y, classifier=self._is_classifier).split(X, y))
        rng = check_random_state(self.random_state)
        scorer = None if self.scoring is None else check_scoring(self._base_estimator(),
                                                                  self.scoring)
        cap = [self._base_estimator(**c).max_iter for c in candidates]
        members = [[Member(i, f, cap[i]) for f in range(len(folds))]
                   for i in range(len(candidates))]
        engines = self._engines(X, y, folds, candidates, members, scorer, rng)
        start = time.perf_counter()
        try:
            self._race(engines, members, candidates, max(cap))
        except KeyboardInterrupt:
            if not any(m.epochs for row in members for m in row):
                raise
            warnings.warn(
                "The search was interrupted: the final model uses the best candidate found "
                "so far.", UserWarning,
            )
        self.search_time_ = time.perf_counter() - start
        self._set_results(candidates, members, len(folds))
        self._fit_final(X, y, folds, members[self.best_index_], rng)
        return self

    def _check_target(self, y):
        """Raise the base estimator's errors for a bad ``y``; return the encoding template."""
        template = self._base_estimator()
        template._prepare_target(y, False)
        return template

    def _engines(self, X, y, folds, candidates, members, scorer, rng):
        """Group the members into stacked trainers and ordinary estimators."""
        groups = {}
        for i, params in enumerate(candidates):
            est = self._base_estimator(**params)
            stack = self.stacked is True or (self.stacked == "auto" and stackable(est))
            if stack and not stackable(est):
                raise ValueError(
                    f"stacked=True, but candidate {params} needs the ordinary trainer (stacked "
                    "networks train with Adam at a constant rate, without batch_norm, "
                    "input_noise, mixup, early_stopping, class_weight, callbacks or cuda_graph)."
                )
            shared = {k: v for k, v in est.get_params().items() if k not in PER_MEMBER}
            key = repr(sorted(shared.items())) if stack else ("ordinary", i)
            groups.setdefault(key, []).append(i)
        engines = []
        for key, indices in groups.items():
            seed = int(rng.randint(np.iinfo(np.int32).max))
            group = [m for i in indices for m in members[i]]
            if key[0] == "ordinary":
                engines.append(OrdinaryEngine(self, X, y, folds, candidates[indices[0]],
                                               group, scorer, seed))
            else:
                engines.append(StackedEngine(self, X, y, folds, candidates, group, scorer, seed))
        return engines

    def _rungs(self, max_epochs):
        if not self.halving:
            return [max_epochs]
        first = max(1, max_epochs // 8)
        return sorted({min(first * 2**i, max_epochs) for i in range(4)} | {max_epochs})

    def _race(self, engines, members, candidates, max_epochs):
        """Train every member up to each rung, then keep the better half of the candidates."""
        alive = list(range(len(candidates)))
        for rung in self._rungs(max_epochs):
            for engine in engines:
                engine.train_until(rung)
            scores = {i: np.mean([m.best_score for m in members[i]]) for i in alive}
            if rung < max_epochs:
                keep = sorted(alive, key=lambda i: -scores[i])[: max(1, (len(alive) + 1) // 2)]
                for i in set(alive) - set(keep):
                    for m in members[i]:
                        m.stopped = True
                alive = sorted(keep)
            if self.verbose:
                best = max(scores, key=scores.get)
                print(f"[{type(self).__name__}] epoch {rung}: {len(alive)} of {len(candidates)}"
                      f" candidates left, best mean score so far {scores[best]:.4f} "
                      f"({candidates[best]})", flush=True)

    def _set_results(self, candidates, members, n_folds):
        # A member that never finished an epoch (an interrupted search) has no score: NaN,
        # as GridSearchCV records a failed fit; a diverged one keeps -inf.
        scores = np.array([[m.best_score if m.epochs else np.nan for m in row]
                           for row in members])
        with np.errstate(invalid="ignore"):
            mean, std = scores.mean(axis=1), scores.std(axis=1)
        results = {}
        for name, values in (
            ("fit_time", [[m.fit_time for m in row] for row in members]),
            ("score_time", [[m.score_time for m in row] for row in members]),
        ):
            values = np.asarray(values)
            results[f"mean_{name}"], results[f"std_{name}"] = values.mean(1), values.std(1)
        for name in sorted({k for c in candidates for k in c}):
            column = np.ma.MaskedArray(np.empty(len(candidates), dtype=object),
                                       mask=[name not in c for c in candidates])
            for i, c in enumerate(candidates):
                if name in c:
                    column[i] = c[name]
            results[f"param_{name}"] = column
        results["params"] = candidates
        for f in range(n_folds):
            results[f"split{f}_test_score"] = scores[:, f]
        results["mean_test_score"], results["std_test_score"] = mean, std
        finite = np.where(np.isfinite(mean), mean, -np.inf)
        results["rank_test_score"] = rankdata(-finite, method="min").astype(np.int32)
        results["n_epochs"] = np.array([max(m.epochs for m in row) for row in members])
        results["mean_best_epoch"] = np.array([np.mean([m.best_epoch for m in row])
                                               for row in members])
        self.cv_results_ = results
        self.best_index_ = int(np.argmax(finite))
        self.best_params_ = candidates[self.best_index_]
        self.best_score_ = float(mean[self.best_index_])
        self.n_splits_ = n_folds

    def _fit_final(self, X, y, folds, best_members, rng):
        params = self.best_params_
        start = time.perf_counter()

        def fit_one(rows, epochs, seed):
            est = self._base_estimator(**params).set_params(
                max_iter=max(1, round(epochs)), random_state=seed, verbose=0
            )
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                return est.fit(X[rows], y[rows])

        if self.final_model == "refit":
            epochs = np.mean([m.best_epoch for m in best_members])
            seed = int(rng.randint(np.iinfo(np.int32).max))
            self.best_estimator_ = fit_one(slice(None), epochs, seed)
        else:
            seeds = rng.randint(np.iinfo(np.int32).max, size=len(folds))
            self.estimators_ = Parallel(n_jobs=self.n_jobs)(
                delayed(fit_one)(train, m.best_epoch, int(s))
                for (train, _), m, s in zip(folds, best_members, seeds)
            )
        final = [self.best_estimator_] if self.final_model == "refit" else self.estimators_
        # sklearn's convention for estimators with max_iter: the final models' epochs.
        self.n_iter_ = max(est.n_iter_ for est in final)
        self.refit_time_ = time.perf_counter() - start

    # ------------------------------------------------------------------ prediction
    def _final_estimators(self, X):
        check_is_fitted(self, "cv_results_")
        X = validate_data(self, X, dtype=(np.float64, np.float32), reset=False)
        if self.final_model == "refit":
            return X, [self.best_estimator_]
        return X, self.estimators_

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        return tags


class RegularizedMLPClassifierCV(ClassifierMixin, _BaseSearchCV):
    """Regularized MLP classifier whose regularization is chosen by cross-validation.

    See :ref:`search_cv` in the user guide.
{doc}    """

    _base_class = RegularizedMLPClassifier
    _is_classifier = True

    def __init__(self, **params):
        super().__init__(**params)

    def _check_target(self, y):
        self.classes_ = super()._check_target(y).classes_

    def _fold_targets(self, template, y, folds):
        target, _ = template._prepare_target(y, False)
        return [template] * len(folds), [target] * len(folds)

    def predict_proba(self, X):
        """Class probabilities: the final model's, or the mean of the fold models'.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The rows to predict.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes) or (n_samples, n_labels)
            The probability of each class (of each label, for a multilabel target).
        """
        X, estimators = self._final_estimators(X)
        return np.mean([est.predict_proba(X) for est in estimators], axis=0)

    def predict(self, X):
        """Class labels (or, for a multilabel target, the indicator matrix).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The rows to predict.

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_labels)
            The predicted class of each row, or its 0/1 label indicators.
        """
        X, estimators = self._final_estimators(X)
        if len(estimators) == 1:
            return estimators[0].predict(X)
        proba = np.mean([est.predict_proba(X) for est in estimators], axis=0)
        if estimators[0].out_activation_ == "logistic" and estimators[0].n_outputs_ > 1:
            return (proba > 0.5).astype(int)
        return self.classes_[np.argmax(proba, axis=1)]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags


class RegularizedMLPRegressorCV(RegressorMixin, _BaseSearchCV):
    """Regularized MLP regressor whose regularization is chosen by cross-validation.

    See :ref:`search_cv` in the user guide.
{doc}    """

    _base_class = RegularizedMLPRegressor
    _is_classifier = False

    def __init__(self, **params):
        super().__init__(**params)

    def _fold_targets(self, template, y, folds):
        templates, targets = [], []
        for train, _ in folds:
            fold_template = clone(template)
            fold_template._prepare_target(y[train], False)
            y2d = y.reshape(len(y), -1)
            targets.append(((y2d - fold_template.y_mean_) / fold_template.y_scale_)
                           .astype(np.float32))
            templates.append(fold_template)
        return templates, targets

    def predict(self, X):
        """Predictions: the final model's, or the mean of the fold models'.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The rows to predict.

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_outputs)
            The predicted values, in the units of the training targets.
        """
        X, estimators = self._final_estimators(X)
        return np.mean([est.predict(X) for est in estimators], axis=0)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags


for _cls in (RegularizedMLPClassifierCV, RegularizedMLPRegressorCV):
    _cls.__init__.__signature__ = _cls._make_signature()
    _cls.__doc__ = _cls.__doc__.replace("{doc}", search_doc(_cls))
