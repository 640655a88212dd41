"""skreg: scikit-learn estimators of PyTorch MLPs whose regularizers are hyperparameters."""

from ._classifier import RegularizedMLPClassifier
from ._compare import compare, plot_comparison
from ._persistence import load, save
from ._preprocessing import RobustScaleSmoothClip
from ._regressor import RegularizedMLPRegressor
from ._search import RegularizedMLPClassifierCV, RegularizedMLPRegressorCV

__version__ = "0.1.0"

__all__ = [
    "RegularizedMLPClassifier",
    "RegularizedMLPClassifierCV",
    "RegularizedMLPRegressor",
    "RegularizedMLPRegressorCV",
    "RobustScaleSmoothClip",
    "__version__",
    "compare",
    "load",
    "plot_comparison",
    "save",
]
