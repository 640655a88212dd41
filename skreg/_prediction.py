"""Prediction: the fitted module's forward passes, in chunks of rows, and Monte Carlo dropout."""

import numpy as np
import torch
from scipy.sparse import issparse
from sklearn.utils.validation import check_is_fitted

from ._device import read_only_tensor
from ._random import seeded_generator
from ._sparse import ACCEPTED_SPARSE, sparse_row_chunks
from ._threads import torch_threads
from ._uncertainty import mc_dropout_moments
from ._validation import check_finite_outputs, validate_input

# Rows per forward pass at prediction time: large enough to amortize per-call
# overhead, small enough that the activations of a wide layer stay in memory.
PREDICT_CHUNK_ROWS = 65536


class PredictionMixin:
    """The forward passes behind ``predict``, ``predict_proba`` and their uncertainty.

    The module runs in evaluation mode (dropout off, batch-norm running
    statistics) on chunks of at most ``PREDICT_CHUNK_ROWS`` rows, under the
    estimator's ``n_threads``; the estimator provides ``net_``, ``mc_samples``
    and ``_draw_seed``.
    """

    def _prediction_input(self, X):
        """Validate ``X`` for prediction; return it with the fitted module and its device."""
        check_is_fitted(self)
        X = validate_input(self, X, dtype=np.float32, reset=False, accept_sparse=ACCEPTED_SPARSE)
        module = self.net_.module_
        return X, module, next(module.parameters()).device

    @staticmethod
    def _row_chunks(X, device):
        """Yield ``X`` as device tensors of at most ``PREDICT_CHUNK_ROWS`` rows."""
        if issparse(X):
            # Densified chunk by chunk, never whole (fewer rows a chunk for wide data).
            yield from sparse_row_chunks(X, device, PREDICT_CHUNK_ROWS)
            return
        for start in range(0, X.shape[0], PREDICT_CHUNK_ROWS):
            yield read_only_tensor(X[start : start + PREDICT_CHUNK_ROWS], device)

    def _forward(self, X):
        """Validate ``X`` and return the module's raw outputs as a float64 array."""
        X, module, device = self._prediction_input(X)
        module.eval()
        outputs = []
        with torch_threads(self.n_threads), torch.inference_mode():
            for chunk in self._row_chunks(X, device):
                outputs.append(module(chunk).cpu())
        return check_finite_outputs(torch.cat(outputs).numpy().astype(np.float64), X)

    def _forward_mc(self, X, transform):
        """Monte Carlo dropout: mean and std of ``transform(outputs)`` over the passes."""
        X, module, device = self._prediction_input(X)
        # This call's own generator: concurrent predictions never share draws.
        generator = seeded_generator(self._draw_seed(), device)
        means, stds = [], []
        with torch_threads(self.n_threads):
            for chunk in self._row_chunks(X, device):
                mean, std = mc_dropout_moments(module, chunk, self.mc_samples, transform, generator)
                means.append(check_finite_outputs(mean, chunk.cpu().numpy()))
                stds.append(std)
        return np.concatenate(means), np.concatenate(stds)
