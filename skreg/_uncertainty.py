"""Monte Carlo dropout: predictive mean and spread from stochastic forward passes.

Gal and Ghahramani (2016) read a network trained with dropout as an approximate
Bayesian model: keeping dropout on at prediction time and averaging many
forward passes approximates the predictive distribution. Batch normalization
stays in evaluation mode (running statistics), so the only randomness is
dropout's, and a network without dropout has exactly zero spread.
"""

import numpy as np
import torch
from torch import nn

# The passes of a chunk of rows are held in memory together (n_passes x rows x outputs
# float64), and the Monte Carlo error of the mean shrinks only as 1/sqrt(n_passes): at
# 10_000 passes it is 1 % of the predictive standard deviation, and more passes cost
# time and memory for digits that the approximation itself does not have.
MAX_MC_SAMPLES = 10_000


def has_dropout(module):
    """Whether ``module`` holds a dropout layer with a positive rate."""
    return any(isinstance(m, nn.Dropout) and m.p > 0 for m in module.modules())


def mc_dropout_moments(module, X, n_passes, transform, generator):
    """Mean and standard deviation of ``transform(module(X))`` over dropout passes.

    Parameters
    ----------
    module : skreg._module.MLPModule
    X : torch.Tensor of shape (n_samples, n_features)
        On the module's device.
    n_passes : int
        Number of stochastic forward passes.
    transform : callable
        Maps the module's raw outputs (a float64 numpy array) to the quantity
        whose moments are wanted, e.g. class probabilities or targets in their
        original units.
    generator : torch.Generator
        On the module's device; the dropout masks are drawn from it, one pass
        after the other.

    Returns
    -------
    mean, std : ndarray
        Float64 arrays shaped like ``transform``'s output. ``std`` is the
        population standard deviation over passes, exactly zero without dropout.
    """
    module.eval()
    with torch.inference_mode():
        if not has_dropout(module):
            mean = transform(module(X).cpu().numpy().astype(np.float64))
            return mean, np.zeros_like(mean)
        passes = np.stack([
            transform(module.stochastic_forward(X, generator).cpu().numpy().astype(np.float64))
            for _ in range(n_passes)
        ])
    return passes.mean(axis=0), passes.std(axis=0)
