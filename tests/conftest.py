import importlib.util

import pytest
import torch
from sklearn.datasets import load_breast_cancer, load_diabetes
from sklearn.preprocessing import StandardScaler
from torch import nn

from skreg._data import TensorBatchIterator, TensorPairDataset
from skreg._module import MLPModule


@pytest.fixture(scope="session")
def cancer():
    """Standardized breast-cancer data (569 x 30, binary)."""
    X, y = load_breast_cancer(return_X_y=True)
    return StandardScaler().fit_transform(X), y


@pytest.fixture(scope="session")
def diabetes():
    """Standardized diabetes data (442 x 10, regression)."""
    X, y = load_diabetes(return_X_y=True)
    return StandardScaler().fit_transform(X), y


@pytest.fixture
def net_params():
    """A function that returns the parameters of a small skorch net of skreg's module.

    Nets built from them train on skreg's in-memory tensors (``TensorPairDataset``,
    ``TensorBatchIterator``): 4 features, one hidden layer of 8 ReLU units, 2 outputs,
    cross-entropy, Adam. Keyword arguments replace or add parameters; the returned dict
    is new at every call.
    """

    def params(**overrides):
        defaults = {
            "module": MLPModule, "module__n_features": 4, "module__n_outputs": 2,
            "module__hidden_layer_sizes": [8], "module__activation": "relu",
            "module__dropout": [0.0], "module__batch_norm": False,
            "criterion": nn.CrossEntropyLoss, "optimizer": torch.optim.Adam, "lr": 0.01,
            "max_epochs": 3, "batch_size": 16, "dataset": TensorPairDataset,
            "iterator_train": TensorBatchIterator, "iterator_train__shuffle": True,
            "iterator_valid": TensorBatchIterator, "verbose": 0,
        }
        return {**defaults, **overrides}

    return params


@pytest.fixture(scope="session")
def load_script():
    """Import a script that is not in a package (docs/, benchmarks/) from its path."""

    def load(path):
        spec = importlib.util.spec_from_file_location(path.stem, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    return load
