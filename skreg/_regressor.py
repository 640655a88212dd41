"""RegularizedMLPRegressor."""

import numpy as np
from sklearn.base import RegressorMixin, _fit_context
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.metaestimators import available_if
from torch import nn

from ._base import BaseRegularizedMLP
from ._callbacks import poisson_r2_from_log_outputs, r2_from_outputs
from ._continuation import refusal
from ._docs import FITTED_ATTRIBUTES, NOTES, REGRESSOR_LOSS_PARAMETER, parameters_doc
from ._lbfgs import has_stochastic_solver
from ._validation import check_numeric_target, check_poisson_target


class RegularizedMLPRegressor(RegressorMixin, BaseRegularizedMLP):
    """Multi-layer perceptron regressor whose regularizers are hyperparameters.

    The network is trained through skorch on the mean squared error of
    standardized targets (each output centred and scaled to unit variance on
    the training data); predictions are returned in the original units. Every
    regularizer of skreg's own defaults to off and ``alpha`` keeps
    scikit-learn's default of 1e-4, so ``RegularizedMLPRegressor(alpha=0)`` is
    the unregularized baseline.

    Parameters
    ----------
{parameters}
    Attributes
    ----------
    net_ : skreg._net.RegularizedNet
        The fitted skorch net, with its ``history`` (with ``cuda_graph=True``, a
        :class:`skreg._captured.CapturedStepNet`, a subclass).
    n_outputs_ : int
        Number of targets.
    y_mean_, y_scale_ : ndarray of shape (``n_outputs_``,)
        Mean and standard deviation used to standardize the targets.
{fitted}    out_activation_ : {"identity", "exp"}
        The output activation: "exp" for ``loss="poisson"``.
    loss_curve_ : list of float
        Training loss (standardized units, penalty included) of each epoch,
        over every call since the network was built.
    best_loss_ : float or None
        Lowest training loss; None with ``early_stopping=True``.
    validation_scores_ : list of float or None
        R^2 on the validation split after each epoch (early stopping only).
    best_validation_score_ : float or None
        Highest validation R^2, that of the restored epoch (early stopping
        only).
    best_epoch_ : int or None
        The (1-based) epoch whose weights were restored by early stopping.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (``n_features_in_``,)
        Feature names, when ``X`` had string column names.
    feature_importances_ : ndarray of shape (``n_features_in_``,)
        L2 norm of each input's column in the first layer's weight matrix,
        normalized to sum to one; with ``l1``, usable by ``SelectFromModel``.

    See Also
    --------
    RegularizedMLPRegressorCV : Its regularization chosen by cross-validation.
    RegularizedMLPClassifier : The classifier of the same networks.
    sklearn.neural_network.MLPRegressor : The MLP whose parameters this one has too.

{notes}    Examples
    --------
    >>> from sklearn.datasets import load_diabetes
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from skreg import RegularizedMLPRegressor
    >>> X, y = load_diabetes(return_X_y=True)
    >>> regressor = RegularizedMLPRegressor(l2=1e-3, random_state=0)
    >>> model = make_pipeline(StandardScaler(), regressor)
    >>> model.fit(X, y).score(X, y) > 0.5
    True
    """

    _is_classifier = False
    _validate_y_kwargs = {"multi_output": True, "y_numeric": True}

    _parameter_constraints = {
        **BaseRegularizedMLP._parameter_constraints,
        "loss": [StrOptions({"squared_error", "poisson"})],
    }

    def __init__(
        self,
        hidden_layer_sizes=(100,),
        activation="relu",
        *,
        # Keyword-only, unlike sklearn's first positional parameter: skreg's regressor
        # keeps hidden_layer_sizes first, as its classifier and sklearn's classifier do.
        loss="squared_error",
        dropout=0.0,
        l1=0.0,
        l2=0.0,
        alpha=1e-4,
        weight_decay=0.0,
        batch_norm=False,
        input_noise=0.0,
        mixup_alpha=0.0,
        residual=False,
        swa_start=None,
        dropout_schedule="constant",
        weight_decay_schedule="constant",
        solver="adam",
        learning_rate="constant",
        learning_rate_init=0.001,
        power_t=0.5,
        momentum=0.9,
        nesterovs_momentum=True,
        batch_size="auto",
        max_iter=200,
        max_fun=15000,
        shuffle=True,
        tol=1e-4,
        n_iter_no_change=10,
        early_stopping=False,
        validation_fraction=0.1,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        random_state=None,
        verbose=0,
        warm_start=False,
        mc_samples=50,
        device="cpu",
        callbacks=None,
        cuda_graph=False,
        n_threads=None,
    ):
        super().__init__(
            hidden_layer_sizes=hidden_layer_sizes,
            activation=activation,
            dropout=dropout,
            l1=l1,
            l2=l2,
            alpha=alpha,
            weight_decay=weight_decay,
            batch_norm=batch_norm,
            input_noise=input_noise,
            mixup_alpha=mixup_alpha,
            residual=residual,
            swa_start=swa_start,
            dropout_schedule=dropout_schedule,
            weight_decay_schedule=weight_decay_schedule,
            solver=solver,
            learning_rate=learning_rate,
            learning_rate_init=learning_rate_init,
            power_t=power_t,
            momentum=momentum,
            nesterovs_momentum=nesterovs_momentum,
            batch_size=batch_size,
            max_iter=max_iter,
            max_fun=max_fun,
            shuffle=shuffle,
            tol=tol,
            n_iter_no_change=n_iter_no_change,
            early_stopping=early_stopping,
            validation_fraction=validation_fraction,
            beta_1=beta_1,
            beta_2=beta_2,
            epsilon=epsilon,
            random_state=random_state,
            verbose=verbose,
            warm_start=warm_start,
            mc_samples=mc_samples,
            device=device,
            callbacks=callbacks,
            cuda_graph=cuda_graph,
            n_threads=n_threads,
        )
        self.loss = loss

    @available_if(has_stochastic_solver)
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None):
        """Train one epoch on ``X, y``, continuing from the current network.

        The first call builds the network and standardizes the targets with
        the statistics of its rows; later calls continue training (after
        :meth:`fit` too) and keep that standardization. Each call trains one
        epoch on all its rows, so ``n_iter_`` is 1 after it, as in
        scikit-learn (``t_`` and ``loss_curve_`` grow over the calls).
        ``early_stopping=True`` raises, as in scikit-learn.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The training rows of this epoch, as in :meth:`fit`.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Their targets, as in :meth:`fit`.
        sample_weight : array-like of shape (n_samples,), default=None
            As in :meth:`fit`.

        Returns
        -------
        self : RegularizedMLPRegressor
            The estimator, trained one epoch further.
        """
        # _fit_context skips the check for a fitted estimator's partial_fit; a continued
        # call applies changed settings, so they are checked on every call.
        self._validate_params()
        return self._fit(X, y, sample_weight, partial=True)

    def _prepare_target(self, y, continuing, partial=False, classes=None, sample_weight=None):
        y = check_numeric_target(y, self)
        y2d = y.reshape(len(y), -1)
        if continuing and y2d.shape[1] != self.n_outputs_:
            raise ValueError(
                f"warm_start needs {self.n_outputs_} targets as in the first fit, "
                f"got {y2d.shape[1]}."
            )
        fitted_loss = "poisson" if getattr(self, "out_activation_", None) == "exp" else (
            "squared_error"
        )
        if continuing and self.loss != fitted_loss:
            # The output (log link or not) and the target's scaling belong to the network.
            raise refusal("loss", fitted_loss, self.loss)
        if not continuing:
            self.n_outputs_ = y2d.shape[1]
            if self.loss == "poisson":
                self._set_poisson_target(y2d)
            else:
                self._set_target_standardization(y2d, sample_weight)
        elif self.loss == "poisson":
            check_poisson_target(y2d)
        if self.loss == "poisson":
            return y2d.astype(np.float32), self.n_outputs_
        target = ((y2d - self.y_mean_) / self.y_scale_).astype(np.float32)
        return target, self.n_outputs_

    def _set_target_standardization(self, y2d, sample_weight):
        # Weighted statistics, so that an integer weight standardizes like a repeated row;
        # divided by the largest weight first, so that their sum cannot overflow.
        if sample_weight is not None:
            sample_weight = sample_weight / sample_weight.max()
        with np.errstate(over="ignore", invalid="ignore"):  # reported just below
            self.y_mean_ = np.average(y2d, axis=0, weights=sample_weight)
            scale = np.sqrt(np.average((y2d - self.y_mean_) ** 2, axis=0, weights=sample_weight))
        if not (np.isfinite(scale).all() and np.isfinite(self.y_mean_).all()):
            raise ValueError(
                "y is too large to standardize: its mean or standard deviation overflows "
                "float64. Rescale y (for example divide it by a power of ten)."
            )
        # A constant target keeps unit scale instead of dividing by zero.
        self.y_scale_ = np.where(scale > 0, scale, 1.0)
        self.out_activation_ = "identity"

    def _set_poisson_target(self, y2d):
        # The Poisson loss models the counts themselves (log link), so they are not
        # standardized: the identity transform keeps one prediction path.
        check_poisson_target(y2d)
        self.y_mean_ = np.zeros(y2d.shape[1])
        self.y_scale_ = np.ones(y2d.shape[1])
        self.out_activation_ = "exp"

    def _criterion(self):
        if self.loss == "poisson":
            # exp(raw) - y * raw per row: sklearn's half Poisson deviance up to a constant.
            return nn.PoissonNLLLoss(log_input=True, full=False, reduction="none")
        return nn.MSELoss(reduction="none")

    def _validation_score_fn(self):
        if self.loss == "poisson":
            return poisson_r2_from_log_outputs
        return r2_from_outputs

    def predict(self, X, return_std=False):
        """Predict targets in their original units.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
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
        # As sklearn's MLP, predictions take the dtype of float32 input.
        dtype = np.float32 if getattr(X, "dtype", None) == np.float32 else np.float64
        to_units = self._to_original_units
        if not return_std:
            return _in_dtype(self._shape_like_y(to_units(self._forward(X))), dtype)
        mean, std = self._forward_mc(X, to_units)
        return _in_dtype(self._shape_like_y(mean), dtype), _in_dtype(self._shape_like_y(std), dtype)

    def _to_original_units(self, outputs):
        if self.out_activation_ == "exp":
            return np.exp(outputs)
        return outputs * self.y_scale_ + self.y_mean_

    def _shape_like_y(self, y_pred):
        return y_pred.ravel() if self.n_outputs_ == 1 else y_pred

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags


RegularizedMLPRegressor.__doc__ = RegularizedMLPRegressor.__doc__.replace(
    "{parameters}\n", parameters_doc(
        "mean squared error", "", "(standardized) targets",
        after_activation=REGRESSOR_LOSS_PARAMETER,
    )
).replace("{notes}", NOTES).replace("{fitted}", FITTED_ATTRIBUTES)


def _in_dtype(predictions, dtype):
    """``predictions`` (float64) as ``dtype``, or a ValueError where float32 would overflow."""
    if dtype == np.float32:
        too_large = np.abs(predictions) > np.finfo(np.float32).max
        if too_large.any():
            raise ValueError(
                f"{int(too_large.sum())} predictions exceed float32's range (the input X is "
                "float32, so the predictions would be float32 and infinite): pass X as float64 "
                "to get them as float64, or scale the features (e.g. with StandardScaler)."
            )
    return predictions.astype(dtype, copy=False)
