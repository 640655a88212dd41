"""scikit-learn's own estimator checks, run over both estimators: the backbone of the suite."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from skreg import RegularizedMLPClassifier, RegularizedMLPRegressor

ESTIMATORS = [
    RegularizedMLPClassifier(random_state=0),
    RegularizedMLPRegressor(random_state=0),
    RegularizedMLPClassifier(
        hidden_layer_sizes=(32, 16), dropout=0.2, l1=1e-5, l2=1e-4, batch_norm=True, random_state=0
    ),
    RegularizedMLPRegressor(
        hidden_layer_sizes=(32, 16), dropout=0.2, l2=1e-4, early_stopping=True, random_state=0
    ),
]


@parametrize_with_checks(ESTIMATORS)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)
