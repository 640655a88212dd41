import pytest
from sklearn.datasets import load_breast_cancer, load_diabetes
from sklearn.preprocessing import StandardScaler


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
