"""skreg: scikit-learn estimators of PyTorch MLPs whose regularizers are hyperparameters."""

from ._classifier import RegularizedMLPClassifier
from ._persistence import load, save
from ._regressor import RegularizedMLPRegressor

__version__ = "0.1.0"

__all__ = ["RegularizedMLPClassifier", "RegularizedMLPRegressor", "load", "save", "__version__"]
