"""The data of a fit: validated ``X``, the encoded target and weights, early stopping's split,
and the tensors the net trains on, on their device."""

import numpy as np
from scipy.sparse import issparse
from sklearn.model_selection import train_test_split

from ._data import TensorPairDataset, data_device
from ._device import read_only_tensor
from ._sparse import ACCEPTED_SPARSE, sparse_training_data
from ._validation import validate_input
from ._weights import WeightedTarget, check_sample_weight, normalized_weights


class TrainingDataMixin:
    """The training data of an estimator of :class:`skreg._base.BaseRegularizedMLP`.

    It relies on the estimator's task hooks (``_prepare_target``,
    ``_training_weights``, ``_stratification``) and ``_validate_y_kwargs``.
    """

    def _training_data(self, X, y, sample_weight, *, continuing, partial, classes):
        """Validated ``X``, the encoded target, its number of outputs and the sample weights."""
        X, y = validate_input(
            self, X, y, dtype=np.float32, reset=not continuing, accept_sparse=ACCEPTED_SPARSE,
            **self._validate_y_kwargs,
        )
        sample_weight = check_sample_weight(sample_weight, X)
        target, n_outputs = self._prepare_target(
            y, continuing, partial=partial, classes=classes, sample_weight=sample_weight
        )
        weights = self._training_weights(y, sample_weight, partial)
        return X, target, n_outputs, weights

    def _validation_split(self, target, seed):
        """Row indices ``(train, valid)`` of early stopping's split, as sklearn's MLP draws it.

        sklearn's ``train_test_split`` with ``test_size=validation_fraction``,
        stratified by class for single-output classifiers, and sklearn's error
        when fewer than 2 rows are left for validation.
        """
        rows = np.arange(len(target))
        stratify = self._stratification(target)
        train, valid = train_test_split(
            rows,
            test_size=self.validation_fraction,
            stratify=stratify,
            random_state=np.random.RandomState(seed),
        )
        if len(valid) < 2:
            raise ValueError(
                "The validation set is too small. Increase 'validation_fraction' or the size "
                f"of your dataset (early_stopping=True holds out {len(valid)} of "
                f"{len(target)} rows)."
            )
        return np.sort(train), np.sort(valid)

    def _training_tensors(self, X, target, weights, device, train_rows, valid_rows):
        """The training data (and early stopping's validation data) as tensors on their device.

        Returns ``(train_data, train_y, valid_data)``: ``train_data`` is the input
        tensor, or a :class:`TensorPairDataset` whose targets carry the sample
        weights; ``valid_data`` is a :class:`TensorPairDataset` or None.
        """
        if issparse(X):
            # The rows stay sparse on the host, densified one batch at a time.
            return sparse_training_data(X, target, weights, device, train_rows, valid_rows)
        # One copy to the device per fit when the data fits there (else batches are
        # copied one at a time, see TensorBatchIterator; weighted targets always go
        # to the device).
        placement = device
        if weights is None:
            placement = data_device(X.nbytes + target.nbytes, device)
        if weights is not None:
            weights = normalized_weights(weights).astype(np.float32)

        def tensors(rows):
            X_part = X if rows is None else X[rows]
            y_part = target if rows is None else target[rows]
            X_t = read_only_tensor(X_part, placement)
            y_t = read_only_tensor(y_part, placement)
            if weights is None:
                return X_t, y_t, None
            w_part = weights if rows is None else weights[rows]
            w_t = read_only_tensor(w_part, device)
            return X_t, y_t, TensorPairDataset(X_t, WeightedTarget(y_t, w_t))

        X_t, y_t, weighted = tensors(train_rows)
        train_data = X_t if weighted is None else weighted
        valid_data = None
        if valid_rows is not None:
            X_v, y_v, weighted_v = tensors(valid_rows)
            valid_data = TensorPairDataset(X_v, y_v) if weighted_v is None else weighted_v
        return train_data, y_t, valid_data
