"""Shared estimator logic: parameters, fit as its steps, fitted attributes.

The steps' parts live in mixins of their own: the training data
(:mod:`skreg._training_data`), the net (:mod:`skreg._builder`) and the forward
passes of prediction (:mod:`skreg._prediction`).
"""

import warnings
from abc import ABCMeta, abstractmethod
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, _fit_context
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, Options, StrOptions
from sklearn.utils.validation import check_is_fitted

from ._averaging import check_averaging_options
from ._builder import NetBuilderMixin
from ._callbacks import LEARNING_RATE_SCHEDULES
from ._coefs import LayerArraysMixin, linear_layers
from ._continuation import apply_changed_settings
from ._device import resolve_device
from ._lbfgs import check_lbfgs_options, train_lbfgs
from ._module import ACTIVATIONS
from ._prediction import PredictionMixin
from ._schedules import SCHEDULES, check_schedule_options
from ._state import fitted_state_kept_on_error
from ._threads import torch_threads
from ._training_data import TrainingDataMixin
from ._uncertainty import MAX_MC_SAMPLES
from ._validation import reject_booleans_for_numbers


class BaseRegularizedMLP(
    TrainingDataMixin, NetBuilderMixin, PredictionMixin, LayerArraysMixin, BaseEstimator,
    metaclass=ABCMeta,
):
    """Base class of skreg's estimators; use :class:`RegularizedMLPClassifier` or
    :class:`RegularizedMLPRegressor`."""

    _parameter_constraints = {
        "hidden_layer_sizes": ["array-like", Interval(Integral, 1, None, closed="left")],
        "activation": [StrOptions(set(ACTIVATIONS))],
        "dropout": [Interval(Real, 0, 1, closed="left"), "array-like"],
        "l1": [Interval(Real, 0, None, closed="left")],
        "l2": [Interval(Real, 0, None, closed="left")],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "batch_norm": ["boolean"],
        "input_noise": [Interval(Real, 0, None, closed="left")],
        "mixup_alpha": [Interval(Real, 0, None, closed="left")],
        "residual": ["boolean"],
        "swa_start": [Interval(Real, 0, 1, closed="left"), None],
        "dropout_schedule": [StrOptions(set(SCHEDULES))],
        "weight_decay_schedule": [StrOptions(set(SCHEDULES))],
        "solver": [StrOptions({"adam", "sgd", "lbfgs"})],
        "learning_rate": [StrOptions(set(LEARNING_RATE_SCHEDULES))],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
        "momentum": [Interval(Real, 0, 1, closed="both")],
        "nesterovs_momentum": ["boolean"],
        "power_t": [Interval(Real, 0, None, closed="left")],
        "beta_1": [Interval(Real, 0, 1, closed="left")],
        "beta_2": [Interval(Real, 0, 1, closed="left")],
        "epsilon": [Interval(Real, 0, None, closed="neither")],
        "batch_size": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "max_fun": [Interval(Integral, 1, None, closed="left")],
        "shuffle": ["boolean"],
        "tol": [Interval(Real, 0, None, closed="left")],
        "n_iter_no_change": [
            Interval(Integral, 1, None, closed="left"),
            Options(Real, {np.inf}),
        ],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
        "mc_samples": [Interval(Integral, 1, MAX_MC_SAMPLES, closed="both")],
        "device": [str],
        "callbacks": [list, tuple, None],
        "cuda_graph": ["boolean"],
        "n_threads": [Interval(Integral, 1, None, closed="left"), None],
    }

    # The regressor uses this constructor as it is; the classifier declares its own
    # to add its classifier-only parameters (sklearn reads parameters off __init__).
    def __init__(
        self,
        hidden_layer_sizes=(100,),
        activation="relu",
        *,
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
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.dropout = dropout
        self.l1 = l1
        self.l2 = l2
        self.alpha = alpha
        self.weight_decay = weight_decay
        self.batch_norm = batch_norm
        self.input_noise = input_noise
        self.mixup_alpha = mixup_alpha
        self.residual = residual
        self.swa_start = swa_start
        self.dropout_schedule = dropout_schedule
        self.weight_decay_schedule = weight_decay_schedule
        self.solver = solver
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.batch_size = batch_size
        self.max_iter = max_iter
        self.max_fun = max_fun
        self.shuffle = shuffle
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.random_state = random_state
        self.verbose = verbose
        self.warm_start = warm_start
        self.mc_samples = mc_samples
        self.device = device
        self.callbacks = callbacks
        self.cuda_graph = cuda_graph
        self.n_threads = n_threads

    # ------------------------------------------------------------------ task hooks
    @abstractmethod
    def _prepare_target(self, y, continuing, partial=False, classes=None, sample_weight=None):
        """Validate ``y`` and return ``(target_array, n_outputs)``; set target attributes.

        ``partial`` is True for :meth:`partial_fit`, whose ``classes`` argument
        (classifier only) is passed on; ``sample_weight`` is the checked array
        passed to ``fit`` or None.
        """

    @abstractmethod
    def _criterion(self):
        """Return the torch loss module used for training, with ``reduction="none"``."""

    def _training_weights(self, y, sample_weight, partial):
        """Return the per-row training weights (or None) from ``sample_weight``.

        The classifier multiplies in its class weights here.
        """
        return sample_weight

    @abstractmethod
    def _validation_score_fn(self):
        """Return ``score_fn(y_true, y_pred)`` recorded as ``validation_scores_``."""

    def _stratification(self, target):
        """The labels early stopping's split is stratified on, or None (not stratified)."""
        return None

    def _one_hot_classes(self, n_outputs):
        """Width of the one-hot encoding of class targets before mixup (None: mixed as they are)."""
        return None

    # ------------------------------------------------------------------ checks
    def _validate_params(self):
        super()._validate_params()
        reject_booleans_for_numbers(self)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True  # CSR/CSC X, densified one batch at a time
        return tags

    def _hidden_sizes(self):
        sizes = self.hidden_layer_sizes
        sizes = [sizes] if isinstance(sizes, Integral) else list(sizes)
        if not all(isinstance(s, Integral) and not isinstance(s, bool) and s > 0 for s in sizes):
            raise ValueError(
                f"hidden_layer_sizes must hold positive integers, got {self.hidden_layer_sizes!r}."
            )
        return [int(s) for s in sizes]

    def _dropout_rates(self, n_layers):
        if isinstance(self.dropout, Real):
            return [float(self.dropout)] * n_layers
        rates = list(self.dropout)
        if len(rates) != n_layers:
            raise ValueError(
                f"dropout has {len(rates)} values but there are {n_layers} hidden layers; "
                "give one float, or one value per hidden layer."
            )
        for p in rates:
            if not isinstance(p, Real) or isinstance(p, bool) or not 0 <= p < 1:
                raise ValueError(f"Each dropout rate must be a float in [0, 1), got {p!r}.")
        return [float(p) for p in rates]

    # ------------------------------------------------------------------ fitting
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Train the network on ``X, y`` for up to ``max_iter`` epochs.

        A new network is built, unless ``warm_start=True`` and the estimator is
        fitted: then the fitted network trains on (see ``warm_start``).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Numeric training data: a numpy array, list, pandas DataFrame, or a
            scipy sparse matrix or array (kept sparse; each batch is densified
            on its own).
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            The targets: class labels of any type or a multilabel indicator
            matrix of 0 and 1 (sparse or dense) for the classifier, numbers
            for the regressor.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weight of each sample (for the classifier, multiplied
            by its class weight, see ``class_weight``). The loss is the
            weighted mean of the samples' losses, so an integer weight counts
            like repeating the row; see the ``sample_weight`` note in the class
            docstring. The regressor standardizes its targets with weighted
            statistics.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        return self._fit(X, y, sample_weight)

    def _fit(self, X, y, sample_weight=None, *, partial=False, classes=None):
        """Train on ``X, y``: ``max_iter`` epochs for ``fit``, one epoch for ``partial_fit``.

        Any exception leaves the estimator as it was (see ``fitted_state_kept_on_error``).
        """
        if partial and self.early_stopping:
            raise ValueError(
                "partial_fit does not support early_stopping=True (as in scikit-learn's MLP): "
                "each call is one epoch on the rows it is given, with no held-out rows to "
                "stop on. Use fit, or set early_stopping=False."
            )
        with fitted_state_kept_on_error(self, continuing=self._continues(partial)):
            return self._fit_unguarded(X, y, sample_weight, partial=partial, classes=classes)

    def _continues(self, partial):
        """Whether this call trains the fitted network further instead of building a new one."""
        return (partial or self.warm_start) and hasattr(self, "net_")

    def _fit_unguarded(self, X, y, sample_weight, *, partial, classes):
        """The steps of a training call: data, options, seed, then the solver's training."""
        continuing = self._continues(partial)
        input_dtype = getattr(X, "dtype", None)
        X, target, n_outputs, weights = self._training_data(
            X, y, sample_weight, continuing=continuing, partial=partial, classes=classes
        )
        device = resolve_device(self.device)
        self._check_training_options(X, device, partial)
        # A continued fit keeps the seed of the net's first fit: its epochs draw from
        # (seed, epoch), so partial_fit calls draw as the epochs of one fit would.
        seed = self.net_.seed if continuing else self._draw_seed()
        with torch_threads(self.n_threads):
            if self.solver == "lbfgs":
                result = self._train_full_batch(
                    X, target, weights, n_outputs, device, seed, continuing
                )
                self._set_lbfgs_attributes(result, input_dtype)
                return self
            self._train_epochs(
                X, target, weights, n_outputs, device, seed, continuing=continuing,
                partial=partial, input_dtype=input_dtype,
            )
        return self

    def _check_training_options(self, X, device, partial):
        """Raise a ValueError for settings that cannot train on ``X`` on ``device``."""
        if self.cuda_graph and (device.type != "cuda" or self.solver != "adam"):
            raise ValueError(
                "cuda_graph=True captures the training step in a CUDA graph: it needs "
                f"device='cuda' and solver='adam', got device={self.device!r} and "
                f"solver={self.solver!r}."
            )
        check_averaging_options(self, partial)
        check_schedule_options(self)
        if self.batch_norm and X.shape[0] < 2:
            raise ValueError(
                "batch_norm=True needs at least 2 samples to normalize a batch; got "
                f"n_samples={X.shape[0]}."
            )
        if self.solver == "lbfgs":
            check_lbfgs_options(self, device)

    def _train_full_batch(self, X, target, weights, n_outputs, device, seed, continuing):
        """L-BFGS on all rows at once, outside skorch's epoch loop (see skreg._lbfgs); returns
        the optimizer's result."""
        if continuing:
            template = self._build_net(X.shape[1], n_outputs, X.shape[0], device, seed=seed)
            apply_changed_settings(self, self.net_, template, stochastic=False)
        else:
            net = self._build_net(X.shape[1], n_outputs, X.shape[0], device, seed=seed)
            net.initialize()
            self._apply_assigned_weights(net.module_)
            self.net_ = net
        return train_lbfgs(
            self.net_, X, target, weights, l1=self.net_.l1, l2=self.net_.l2,
            alpha=self.net_.alpha, max_iter=self.max_iter, max_fun=self.max_fun,
            tol=self.tol, verbose=self.verbose,
        )

    def _train_epochs(
        self, X, target, weights, n_outputs, device, seed, *, continuing, partial, input_dtype
    ):
        """Adam or SGD through skorch: split, tensors, build or continue the net, train, and
        set the fitted attributes (after Ctrl-C, for the epochs finished)."""
        train_rows = valid_rows = None
        if self.early_stopping:
            train_rows, valid_rows = self._validation_split(target, seed)
        n_train = X.shape[0] if train_rows is None else len(train_rows)
        train_data, train_y, valid_data = self._training_tensors(
            X, target, weights, device, train_rows, valid_rows
        )
        epochs = 1 if partial else self.max_iter
        net = self._build_net(X.shape[1], n_outputs, n_train, device, valid_data, seed=seed)
        if continuing:
            # The new net only tells which settings changed; the fitted net trains on.
            apply_changed_settings(self, self.net_, net)
            self.net_.set_params(max_epochs=epochs)
            epochs_before = len(self.net_.history)
        else:
            net.set_params(max_epochs=epochs)
            net.initialize()
            self._apply_assigned_weights(net.module_)
            epochs_before = 0
            self.t_ = 0
            self.net_ = net
        self.net_.partial_fit(train_data, train_y)
        interrupted = self.net_.training_interrupted
        if interrupted:
            self._keep_finished_epochs(epochs_before, continuing)
        self._set_fitted_attributes(
            epochs_before, n_train, input_dtype, warn=not (partial or interrupted)
        )
        if interrupted:
            warnings.warn("Training interrupted by user.", UserWarning)

    def _keep_finished_epochs(self, epochs_before, continuing):
        """After Ctrl-C, keep the epochs finished, as sklearn's MLP does.

        An epoch cut short (the stopping rule has not seen its end) leaves the
        history and is not counted, although its weight updates stay, as in
        sklearn. A first fit cut short before any epoch finished has nothing
        to keep: the KeyboardInterrupt goes on, and the estimator stays as it
        was.
        """
        history = self.net_.history
        finished = self.net_.stopping_rule.epochs_seen_
        del history[epochs_before + finished :]
        if not continuing and not finished:
            raise KeyboardInterrupt("Training was interrupted before its first epoch ended.")

    # ------------------------------------------------------------------ fitted attributes
    def _set_fitted_attributes(self, epochs_before, n_train, input_dtype, warn=True):
        """Set sklearn's fitted attributes from the net's history and its stopping rule."""
        history = self.net_.history
        stopping = self.net_.stopping_rule
        # As sklearn counts: the epochs of this call (one for partial_fit), while the
        # curves and ``t_`` (rows seen) run over every call since the network was built.
        self.n_iter_ = len(history) - epochs_before
        self.t_ = getattr(self, "t_", 0) + self.n_iter_ * n_train
        self.loss_curve_ = [float(v) for v in history[:, "train_loss"]]
        self.loss_ = self.loss_curve_[-1]
        self._no_improvement_count = stopping.no_improvement_count_
        self._set_network_attributes(input_dtype)
        if self.early_stopping:
            self.best_epoch_ = stopping.best_epoch_
            self.validation_scores_ = [float(v) for v in history[:, "valid_score"]]
            self.best_validation_score_ = float(stopping.best_validation_score_)
            self.best_loss_ = None
        else:
            self.best_epoch_ = None
            self.validation_scores_ = None
            self.best_validation_score_ = None
            self.best_loss_ = float(stopping.best_loss_)
        if warn and not stopping.stopped_ and self.n_iter_ == self.max_iter:
            warnings.warn(
                f"Maximum iterations ({self.max_iter}) reached and the optimization hasn't "
                "converged yet.",
                ConvergenceWarning,
            )

    def _set_lbfgs_attributes(self, result, input_dtype):
        """sklearn's ``n_iter_`` and ``loss_`` of an L-BFGS fit, and skreg's curve of it.

        ``loss_curve_`` holds the objective after each iteration in the
        history (sklearn sets none for lbfgs); L-BFGS's objective never
        increases from one iteration to the next, so the best loss is the last.
        """
        self.n_iter_ = result.n_iter
        self.loss_ = result.loss
        # Row by row: the history is empty when L-BFGS stopped at the starting point.
        self.loss_curve_ = [float(row["train_loss"]) for row in self.net_.history]
        self.best_loss_ = result.loss
        self.validation_scores_ = None
        self.best_epoch_ = None
        self.best_validation_score_ = None
        self._set_network_attributes(input_dtype)

    def _set_network_attributes(self, input_dtype):
        """sklearn's ``n_layers_`` and ``n_outputs_``, and the dtype ``coefs_`` is shown in."""
        self.n_layers_ = len(self._hidden_sizes()) + 2
        self.n_outputs_ = self.net_.module_.output.out_features
        float_input = input_dtype is not None and np.dtype(input_dtype) in (np.float32, np.float64)
        self._coefs_dtype = np.dtype(input_dtype) if float_input else np.dtype(np.float64)

    def _draw_seed(self):
        """One int32 seed from ``random_state`` (sklearn's convention for None and instances)."""
        return int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))

    @property
    def feature_importances_(self):
        """Importance of each input feature, from the first layer's weights.

        The L2 norm of each input's column in the first weight matrix,
        normalized to sum to one: an input the network ignores has a column of
        zeros. An ``l1`` penalty drives the columns of uninformative inputs
        toward zero, so that ``SelectFromModel`` can drop them. Norms are
        comparable across features only when the features share a scale
        (standardize ``X``).

        Returns
        -------
        ndarray of shape (n_features_in_,)
        """
        check_is_fitted(self)
        first = linear_layers(self.net_.module_)[0]
        norms = first.weight.detach().norm(dim=0).cpu().numpy().astype(np.float64)
        total = norms.sum()
        return norms / total if total > 0 else norms
