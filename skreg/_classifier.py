"""RegularizedMLPClassifier."""

import numpy as np
from scipy.special import softmax
from sklearn.base import ClassifierMixin
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from torch import nn

from ._base import BaseRegularizedMLP
from ._callbacks import accuracy_from_logits
from ._docs import parameters_doc
from ._validation import check_missing_labels


class RegularizedMLPClassifier(ClassifierMixin, BaseRegularizedMLP):
    """Multi-layer perceptron classifier whose regularizers are hyperparameters.

    The network is trained through skorch on the cross-entropy of its logits.
    Every regularizer defaults to off, so ``RegularizedMLPClassifier()`` is the
    unregularized baseline and a grid search can switch regularizers on.

    Parameters
    ----------
{parameters}
    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    net_ : skreg._net.RegularizedNet
        The fitted skorch net, with its ``history``.
    n_iter_ : int
        Number of epochs run.
    loss_curve_ : list of float
        Training loss (penalty included) of each epoch.
    best_loss_ : float
        Lowest training loss; set when ``early_stopping=False``.
    validation_scores_ : list of float or None
        Accuracy on the validation split after each epoch (early stopping only).
    best_validation_score_ : float or None
        Validation accuracy of the restored epoch (early stopping only).
    best_epoch_ : int or None
        The (1-based) epoch whose weights were restored by early stopping.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Feature names, when ``X`` had string column names.

    Examples
    --------
    >>> from sklearn.datasets import load_breast_cancer
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from skreg import RegularizedMLPClassifier
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> model = make_pipeline(StandardScaler(), RegularizedMLPClassifier(dropout=0.5, random_state=0))
    >>> model.fit(X, y).score(X, y) > 0.95
    True
    """

    _is_classifier = True
    _validate_y_kwargs = {}

    def __init__(
        self,
        hidden_layer_sizes=(100,),
        activation="relu",
        *,
        dropout=0.0,
        l1=0.0,
        l2=0.0,
        batch_norm=False,
        solver="adam",
        learning_rate_init=0.001,
        momentum=0.9,
        batch_size="auto",
        max_iter=200,
        shuffle=True,
        tol=1e-4,
        n_iter_no_change=10,
        early_stopping=False,
        validation_fraction=0.1,
        random_state=None,
        verbose=0,
        warm_start=False,
        device="cpu",
        callbacks=None,
    ):
        super().__init__(
            hidden_layer_sizes=hidden_layer_sizes,
            activation=activation,
            dropout=dropout,
            l1=l1,
            l2=l2,
            batch_norm=batch_norm,
            solver=solver,
            learning_rate_init=learning_rate_init,
            momentum=momentum,
            batch_size=batch_size,
            max_iter=max_iter,
            shuffle=shuffle,
            tol=tol,
            n_iter_no_change=n_iter_no_change,
            early_stopping=early_stopping,
            validation_fraction=validation_fraction,
            random_state=random_state,
            verbose=verbose,
            warm_start=warm_start,
            device=device,
            callbacks=callbacks,
        )

    def fit(self, X, y):
        """Train the network on ``X`` and class labels ``y``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Numeric training data (numpy array, list or pandas DataFrame).
        y : array-like of shape (n_samples,)
            Class labels of any type.

        Returns
        -------
        self : RegularizedMLPClassifier
        """
        self._validate_params()
        return self._fit(X, y)

    def _prepare_target(self, y, continuing):
        check_missing_labels(y)
        check_classification_targets(y)
        target_type = type_of_target(y, input_name="y")
        if target_type not in ("binary", "multiclass"):
            raise ValueError(
                f"RegularizedMLPClassifier supports binary and multiclass targets, got {target_type}."
            )
        classes, encoded = np.unique(y, return_inverse=True)
        if continuing and not np.array_equal(classes, self.classes_):
            raise ValueError(
                f"warm_start needs the classes of the first fit {self.classes_.tolist()}, "
                f"got {classes.tolist()}."
            )
        if len(classes) < 2:
            raise ValueError(
                f"The classifier needs samples of at least 2 classes in the data, but the data "
                f"contain only one class: {classes[0]!r}."
            )
        self.classes_ = classes
        return encoded.astype(np.int64), len(classes)

    def _criterion(self):
        return nn.CrossEntropyLoss

    def _validation_score_fn(self):
        return accuracy_from_logits

    def predict_proba(self, X):
        """Class probabilities, the softmax of the network's logits.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Columns follow ``classes_``, for binary problems too.
        """
        return softmax(self._forward(X), axis=1)

    def predict_log_proba(self, X):
        """Logarithm of :meth:`predict_proba`.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
        """
        logits = self._forward(X)
        return logits - np.logaddexp.reduce(logits, axis=1, keepdims=True)

    def predict(self, X):
        """Most probable class of each sample.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
        """
        logits = self._forward(X)
        return self.classes_[np.argmax(logits, axis=1)]


RegularizedMLPClassifier.__doc__ = RegularizedMLPClassifier.__doc__.replace(
    "{parameters}\n", parameters_doc("mean cross-entropy", " (stratified by class)")
)
