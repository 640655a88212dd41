"""RegularizedMLPClassifier."""

from numbers import Real

import numpy as np
from sklearn.base import ClassifierMixin, _fit_context
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import column_or_1d
from torch import nn

from ._base import BaseRegularizedMLP
from ._callbacks import accuracy_from_logits
from ._docs import CLASSIFIER_PARAMETERS, FITTED_ATTRIBUTES, NOTES, parameters_doc
from ._lbfgs import has_stochastic_solver
from ._output import (
    BINARY,
    MULTICLASS,
    MULTILABEL,
    OUT_ACTIVATIONS,
    LogisticLoss,
    check_indicator_matrix,
    encode_target,
    labels_or_indicator,
    layout_of,
    log_probabilities,
    n_outputs_of,
    predictions,
    probabilities,
    subset_accuracy_from_logits,
)
from ._validation import check_missing_labels


class RegularizedMLPClassifier(ClassifierMixin, BaseRegularizedMLP):
    """Multi-layer perceptron classifier whose regularizers are hyperparameters.

    The network is trained through skorch on the cross-entropy of its logits.
    Its output layer is scikit-learn's ``MLPClassifier``'s: for two classes one
    logit with a logistic output (binary cross-entropy), for more classes one
    logit per class with a softmax, and for a multilabel indicator matrix ``y``
    of shape (n_samples, n_labels) one independent logistic output per label
    (binary cross-entropy summed over the labels). Every regularizer of skreg's
    own defaults to off and ``alpha`` keeps scikit-learn's default of 1e-4, so
    ``RegularizedMLPClassifier()`` trains what ``MLPClassifier()`` trains,
    ``RegularizedMLPClassifier(alpha=0)`` is the unregularized baseline, and a
    grid search can switch regularizers on.

    Parameters
    ----------
{parameters}
    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels; for a multilabel target, the label indices
        ``np.arange(n_labels)``.
    n_outputs_ : int
        Width of the output layer: 1 for binary targets, the number of
        classes for multiclass targets, the number of labels for multilabel
        targets.
    out_activation_ : {"logistic", "softmax"}
        The output activation: "softmax" for multiclass targets, "logistic"
        for binary and multilabel targets.
    net_ : skreg._net.RegularizedNet
        The fitted skorch net, with its ``history`` (with ``cuda_graph=True``, a
        :class:`skreg._captured.CapturedStepNet`, a subclass).
{fitted}    loss_curve_ : list of float
        Training loss (penalty included) of each epoch, over every call since
        the network was built.
    best_loss_ : float or None
        Lowest training loss; None with ``early_stopping=True``.
    validation_scores_ : list of float or None
        Accuracy (subset accuracy for multilabel targets) on the validation
        split after each epoch (early stopping only).
    best_validation_score_ : float or None
        Highest validation accuracy, that of the restored epoch (early stopping
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
    RegularizedMLPClassifierCV : Its regularization chosen by cross-validation.
    RegularizedMLPRegressor : The regressor of the same networks.
    sklearn.neural_network.MLPClassifier : The MLP whose parameters this one has too.

{notes}    Examples
    --------
    >>> from sklearn.datasets import load_breast_cancer
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from skreg import RegularizedMLPClassifier
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> classifier = RegularizedMLPClassifier(dropout=0.5, random_state=0)
    >>> model = make_pipeline(StandardScaler(), classifier)
    >>> model.fit(X, y).score(X, y) > 0.95
    True
    """

    _is_classifier = True
    # A multilabel indicator matrix is 2-D; _prepare_target ravels a column vector.
    _validate_y_kwargs = {"multi_output": True}
    _parameter_constraints = {
        **BaseRegularizedMLP._parameter_constraints,
        "label_smoothing": [Interval(Real, 0, 1, closed="left")],
        "class_weight": [dict, StrOptions({"balanced"}), None],
    }

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
        label_smoothing=0.0,
        class_weight=None,
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
        self.label_smoothing = label_smoothing
        self.class_weight = class_weight

    @available_if(has_stochastic_solver)
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None, classes=None):
        """Train one epoch on ``X, y``, continuing from the current network.

        The first call builds the network and needs every class that will
        ever be seen in ``classes`` (for a multilabel indicator matrix of
        ``n_labels`` columns, the label indices ``range(n_labels)``); later
        calls continue training it (after :meth:`fit` too), on targets of the
        same type and number of labels. Each call trains one epoch on all its
        rows, so ``n_iter_`` is 1 after it, as in scikit-learn (``t_`` and
        ``loss_curve_`` grow over the calls). ``early_stopping=True`` raises,
        as in scikit-learn. ``class_weight="balanced"`` is not supported (the class
        frequencies of one batch of rows are not those of the data); pass a
        dict, e.g. from :func:`sklearn.utils.class_weight.compute_class_weight`.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The training rows of this epoch, as in :meth:`fit`.
        y : array-like of shape (n_samples,) or (n_samples, n_labels)
            Labels, all among ``classes_``, or a multilabel indicator matrix.
        sample_weight : array-like of shape (n_samples,), default=None
            As in :meth:`fit`.
        classes : array-like of shape (n_classes,), default=None
            Every class label (for a multilabel target, ``range(n_labels)``);
            required on the first call, and if given later it must equal
            ``classes_``.

        Returns
        -------
        self : RegularizedMLPClassifier
            The estimator, trained one epoch further.
        """
        # _fit_context skips the check for a fitted estimator's partial_fit; a continued
        # call applies changed settings, so they are checked on every call.
        self._validate_params()
        if self.class_weight == "balanced":
            raise ValueError(
                "class_weight='balanced' is not supported by partial_fit: the class "
                "frequencies of one call's rows are not those of the data. Pass a dict, e.g. "
                "compute_class_weight('balanced', classes=classes, y=y_sample), instead."
            )
        return self._fit(X, y, sample_weight, partial=True, classes=classes)

    def _prepare_target(self, y, continuing, partial=False, classes=None, sample_weight=None):
        y = labels_or_indicator(y)
        check_missing_labels(y)
        check_classification_targets(y)
        target_type = type_of_target(y, input_name="y")
        if target_type == "multilabel-indicator":
            check_indicator_matrix(y)
            layout = MULTILABEL
            classes = self._multilabel_classes(y, continuing, partial, classes)
        elif target_type in ("binary", "multiclass"):
            if continuing and self._layout() == MULTILABEL:
                raise ValueError(
                    f"{'partial_fit' if partial else 'warm_start'} continues a network fitted "
                    f"on a multilabel indicator matrix of {self.n_outputs_} labels, but y holds "
                    f"{target_type} class labels. Fit a new model for another type of target."
                )
            if partial:
                classes = self._partial_fit_classes(y, continuing, classes)
            else:
                classes = np.unique(y)
                if continuing and not np.array_equal(classes, self.classes_):
                    # sklearn's message, word for word.
                    raise ValueError(
                        "warm_start can only be used where `y` has the same classes as in the "
                        f"previous call to fit. Previously got {self.classes_}, `y` has "
                        f"{classes}"
                    )
            if len(classes) < 2:
                raise ValueError(
                    f"The classifier needs samples of at least 2 classes in the data, but the "
                    f"data contain only one class: {classes[0]!r}."
                )
            layout = BINARY if len(classes) == 2 else MULTICLASS
        else:
            raise ValueError(
                "RegularizedMLPClassifier supports binary, multiclass and multilabel "
                f"(indicator matrix) targets, got {target_type}."
            )
        self.classes_ = classes
        self.n_outputs_ = n_outputs_of(layout, len(classes))
        self.out_activation_ = OUT_ACTIVATIONS[layout]
        return encode_target(y, classes, layout), self.n_outputs_

    def _multilabel_classes(self, y, continuing, partial, classes):
        """The label indices of an indicator matrix ``y``, checked against earlier fits and the
        ``classes`` of :meth:`partial_fit`."""
        how = "partial_fit" if partial else "warm_start"
        n_labels = y.shape[1]
        if continuing and self._layout() != MULTILABEL:
            raise ValueError(
                f"{how} continues a network fitted on the {self._layout()} classes "
                f"{self.classes_.tolist()}, but y is a multilabel indicator matrix. Fit a new "
                "model for another type of target."
            )
        if continuing and n_labels != self.n_outputs_:
            raise ValueError(
                f"{how} needs a multilabel indicator matrix of {self.n_outputs_} labels as in "
                f"the first fit, got one of {n_labels}."
            )
        labels = np.arange(n_labels)
        if partial:
            if classes is None and not continuing:
                raise ValueError(
                    "classes must be passed on the first call to partial_fit: for a multilabel "
                    f"indicator matrix, the label indices {labels.tolist()}."
                )
            if classes is not None and not np.array_equal(np.unique(classes), labels):
                raise ValueError(
                    f"For a multilabel indicator matrix of {n_labels} labels, classes must be "
                    f"the label indices {labels.tolist()}, got {np.asarray(classes).tolist()}."
                )
        return labels

    def _layout(self):
        """The fitted output layout: ``MULTICLASS``, ``BINARY`` or ``MULTILABEL``."""
        return layout_of(self.out_activation_, self.n_outputs_)

    def _partial_fit_classes(self, y, continuing, classes):
        """The classes of a :meth:`partial_fit` call, checked against ``classes`` and ``y``."""
        if classes is not None:
            classes = np.unique(classes)
        if not continuing:
            if classes is None:
                raise ValueError(
                    "classes must be passed on the first call to partial_fit: every class "
                    "label the classifier will ever see."
                )
        elif classes is not None and not np.array_equal(classes, self.classes_):
            raise ValueError(
                f"classes={classes.tolist()} differs from the classes of the earlier calls "
                f"{self.classes_.tolist()}."
            )
        else:
            classes = self.classes_
        unseen = np.setdiff1d(np.unique(y), classes)
        if unseen.size:
            raise ValueError(
                f"y contains labels {unseen.tolist()} that are not among the classes "
                f"{classes.tolist()} given on the first call to partial_fit."
            )
        return classes

    def _training_weights(self, y, sample_weight, partial):
        multilabel = self._layout() == MULTILABEL
        if multilabel and self.class_weight is not None:
            raise ValueError(
                "class_weight is not supported for multilabel targets: a row may belong to "
                "several classes or none (scikit-learn's MLPClassifier has no class_weight). "
                "Weight the rows with sample_weight instead."
            )
        if not multilabel:
            y = column_or_1d(y)  # a column vector was raveled, with a warning, by _prepare_target
        if self.class_weight is None:
            weights = sample_weight
        else:
            if isinstance(self.class_weight, dict):
                unknown = set(self.class_weight) - set(self.classes_.tolist())
                if unknown:
                    raise ValueError(
                        f"class_weight has labels {sorted(unknown, key=str)} that are not classes "
                        f"of y {self.classes_.tolist()}."
                    )
            per_class = compute_class_weight(
                self.class_weight, classes=self.classes_, y=y, sample_weight=sample_weight
            )
            weights = per_class[np.searchsorted(self.classes_, y)]
            if sample_weight is not None:
                weights = weights * sample_weight
        if weights is None:
            return None
        if not weights.any():
            raise ValueError("The class and sample weights are zero for every sample.")
        if multilabel:
            return weights
        weighted_classes = np.unique(y[weights > 0])
        if not partial and len(weighted_classes) < 2:
            raise ValueError(
                "The classifier needs at least 2 classes with positive weight, but after "
                f"weighting only class {weighted_classes.tolist()[0]!r} is left."
            )
        return weights

    def _criterion(self):
        if self.out_activation_ == "logistic":
            return LogisticLoss(label_smoothing=self.label_smoothing)
        return nn.CrossEntropyLoss(reduction="none", label_smoothing=self.label_smoothing)

    def _validation_score_fn(self):
        if self.out_activation_ == "logistic":
            return subset_accuracy_from_logits
        return accuracy_from_logits

    def _stratification(self, target):
        # As scikit-learn's MLPClassifier: stratified on its label-binarized target
        # (booleans for two classes, which its error for a class too small to split
        # names), and not at all for a multilabel target.
        layout = self._layout()
        if layout == MULTILABEL:
            return None
        if layout == BINARY:
            return target.reshape(len(target), 1).astype(bool)
        return target

    def _one_hot_classes(self, n_outputs):
        # Mixup mixes one-hot class targets; logistic outputs have 0/1 targets already.
        return n_outputs if self._layout() == MULTICLASS else None

    def predict_proba(self, X, return_std=False):
        """Class probabilities from the network's logits.

        For multiclass targets the softmax of the logits; for binary targets
        the two columns ``[1 - p, p]`` with ``p`` the logistic function of the
        one logit; for multilabel targets each label's logistic probability,
        independently (rows do not sum to one).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        return_std : bool, default=False
            Monte Carlo dropout: instead of the single deterministic pass
            (dropout off), average the probabilities of ``mc_samples``
            stochastic passes with dropout on (batch normalization stays in
            evaluation mode) and also return their standard deviation. The
            keyword is the one the regressor's ``predict`` uses, so it passes
            through a ``Pipeline``. The passes are seeded from
            ``random_state``; without dropout the spread is exactly zero.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Columns follow ``classes_``, for binary problems too; the Monte
            Carlo mean with ``return_std=True``.
        proba_std : ndarray of shape (n_samples, n_classes)
            Standard deviation of each probability over the passes (for
            binary targets the same in both columns); only with
            ``return_std=True``.
        """
        if return_std:
            return self._forward_mc(X, lambda logits: probabilities(logits, self._layout()))
        return probabilities(self._forward(X), self._layout())

    def predict_log_proba(self, X):
        """Logarithm of :meth:`predict_proba`, computed from the logits.

        Computed as log-softmax or log-sigmoid of the logits rather than as
        the logarithm of a rounded probability, so it stays finite and
        accurate where :meth:`predict_proba` rounds to 0 or 1.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
            The logarithm of each class's probability, from the outputs directly.
        """
        return log_probabilities(self._forward(X), self._layout())

    def predict(self, X):
        """Most probable class of each sample, or the labels of a multilabel target.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        y_pred : ndarray of shape (n_samples,) or (n_samples, n_labels)
            Class labels; for a multilabel target the int indicator matrix
            of the labels whose probability exceeds 0.5.
        """
        return predictions(self._forward(X), self._layout(), self.classes_)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags

RegularizedMLPClassifier.__doc__ = RegularizedMLPClassifier.__doc__.replace(
    "{parameters}\n",
    parameters_doc(
        "mean cross-entropy", " (stratified by class, except for multilabel targets)",
        "one-hot class targets (0/1 targets of logistic outputs)",
        CLASSIFIER_PARAMETERS,
    ),
).replace("{notes}", NOTES).replace("{fitted}", FITTED_ATTRIBUTES)
