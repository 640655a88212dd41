"""RegularizedMLPRegressor."""

import numpy as np
from sklearn.base import RegressorMixin
from torch import nn

from ._base import BaseRegularizedMLP
from ._callbacks import r2_from_outputs
from ._docs import NOTES, parameters_doc
from ._validation import check_numeric_target


class RegularizedMLPRegressor(RegressorMixin, BaseRegularizedMLP):
    """Multi-layer perceptron regressor whose regularizers are hyperparameters.

    The network is trained through skorch on the mean squared error of
    standardized targets (each output centred and scaled to unit variance on
    the training data); predictions are returned in the original units. Every
    regularizer defaults to off, so ``RegularizedMLPRegressor()`` is the
    unregularized baseline.

    Parameters
    ----------
{parameters}
    Attributes
    ----------
    net_ : skreg._net.RegularizedNet
        The fitted skorch net, with its ``history``.
    n_outputs_ : int
        Number of targets.
    y_mean_, y_scale_ : ndarray of shape (``n_outputs_``,)
        Mean and standard deviation used to standardize the targets.
    n_iter_ : int
        Number of epochs run.
    loss_curve_ : list of float
        Training loss (standardized units, penalty included) of each epoch.
    best_loss_ : float
        Lowest training loss; set when ``early_stopping=False``.
    validation_scores_ : list of float or None
        R^2 on the validation split after each epoch (early stopping only).
    best_validation_score_ : float or None
        Validation R^2 of the restored epoch (early stopping only).
    best_epoch_ : int or None
        The (1-based) epoch whose weights were restored by early stopping.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (``n_features_in_``,)
        Feature names, when ``X`` had string column names.
    feature_importances_ : ndarray of shape (``n_features_in_``,)
        L2 norm of each input's column in the first layer's weight matrix,
        normalized to sum to one; with ``l1``, usable by ``SelectFromModel``.

{notes}    Examples
    --------
    >>> from sklearn.datasets import load_diabetes
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from skreg import RegularizedMLPRegressor
    >>> X, y = load_diabetes(return_X_y=True)
    >>> model = make_pipeline(StandardScaler(), RegularizedMLPRegressor(l2=1e-3, random_state=0))
    >>> model.fit(X, y).score(X, y) > 0.5
    True
    """

    _is_classifier = False
    _validate_y_kwargs = {"multi_output": True, "y_numeric": True}

    def fit(self, X, y, sample_weight=None):
        """Train the network on ``X`` and numeric targets ``y``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Numeric training data (numpy array, list or pandas DataFrame).
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Target values.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weight of each sample. The loss is the weighted mean
            of the samples' losses, so an integer weight counts like repeating
            the row; see the ``sample_weight`` note in the class docstring.
            The targets are standardized with weighted statistics.

        Returns
        -------
        self : RegularizedMLPRegressor
        """
        self._validate_params()
        return self._fit(X, y, sample_weight)

    def partial_fit(self, X, y, sample_weight=None):
        """Train one epoch on ``X, y``, continuing from the current network.

        The first call builds the network and standardizes the targets with
        the statistics of its rows; later calls continue training (after
        :meth:`fit` too) and keep that standardization. Each call adds one to
        ``n_iter_``. Without early stopping all rows are trained on; with it,
        ``validation_fraction`` of the rows is held out to record the
        validation loss and score of the epoch.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        sample_weight : array-like of shape (n_samples,), default=None
            As in :meth:`fit`.

        Returns
        -------
        self : RegularizedMLPRegressor
        """
        self._validate_params()
        return self._fit(X, y, sample_weight, partial=True)

    def _prepare_target(self, y, continuing, partial=False, classes=None, sample_weight=None):
        y = check_numeric_target(y, self)
        y2d = y.reshape(len(y), -1)
        if continuing and y2d.shape[1] != self.n_outputs_:
            raise ValueError(
                f"warm_start needs {self.n_outputs_} targets as in the first fit, got {y2d.shape[1]}."
            )
        if not continuing:
            # Weighted statistics, so that an integer weight standardizes like a repeated row.
            with np.errstate(over="ignore", invalid="ignore"):  # reported just below
                self.y_mean_ = np.average(y2d, axis=0, weights=sample_weight)
                scale = np.sqrt(
                    np.average((y2d - self.y_mean_) ** 2, axis=0, weights=sample_weight)
                )
            if not (np.isfinite(scale).all() and np.isfinite(self.y_mean_).all()):
                raise ValueError(
                    "y is too large to standardize: its mean or standard deviation overflows "
                    "float64. Rescale y (for example divide it by a power of ten)."
                )
            # A constant target keeps unit scale instead of dividing by zero.
            self.y_scale_ = np.where(scale > 0, scale, 1.0)
            self.n_outputs_ = y2d.shape[1]
        target = ((y2d - self.y_mean_) / self.y_scale_).astype(np.float32)
        return target, self.n_outputs_

    def _criterion(self):
        return nn.MSELoss(reduction="none")

    def _validation_score_fn(self):
        return r2_from_outputs

    def predict(self, X, return_std=False):
        """Predict targets in their original units.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        return_std : bool, default=False
            Monte Carlo dropout, as ``return_std`` of scikit-learn's
            ``GaussianProcessRegressor`` and ``BayesianRidge``: instead of the
            single deterministic pass (dropout off), average ``mc_samples``
            stochastic passes with dropout on (batch normalization stays in
            evaluation mode) and also return their standard deviation. The
            passes are seeded from ``random_state``; without dropout the
            standard deviation is exactly zero.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,) or (n_samples, n_outputs)
            Predictions; the Monte Carlo mean with ``return_std=True``.
        y_std : ndarray of shape (n_samples,) or (n_samples, n_outputs)
            Standard deviation over the passes, in the targets' units; only
            with ``return_std=True``.
        """
        to_units = self._to_original_units
        if not return_std:
            return self._shape_like_y(to_units(self._forward(X)))
        mean, std = self._forward_mc(X, to_units)
        return self._shape_like_y(mean), self._shape_like_y(std)

    def _to_original_units(self, outputs):
        return outputs * self.y_scale_ + self.y_mean_

    def _shape_like_y(self, y_pred):
        return y_pred.ravel() if self.n_outputs_ == 1 else y_pred

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags


RegularizedMLPRegressor.__doc__ = RegularizedMLPRegressor.__doc__.replace(
    "{parameters}\n", parameters_doc("mean squared error", "", "(standardized) targets")
).replace("{notes}", NOTES)
