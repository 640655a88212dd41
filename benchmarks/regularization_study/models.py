"""The study's models: skreg pipelines, the CV estimator's rows and the peers.

Every model is an unfitted estimator (a pipeline or a search over one); the evaluation fits
each on the training part of an outer split, so any tuning happens inside those rows.
"""

import numpy as np
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.model_selection import (
    GridSearchCV,
    KFold,
    ParameterGrid,
    ParameterSampler,
    StratifiedKFold,
)
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import (
    OneHotEncoder,
    OrdinalEncoder,
    QuantileTransformer,
    StandardScaler,
)

from skreg import (
    RegularizedMLPClassifier,
    RegularizedMLPClassifierCV,
    RegularizedMLPRegressor,
    RegularizedMLPRegressorCV,
    RobustScaleSmoothClip,
)

from .regularizers import REGULARIZERS, available_regularizers

SCALERS = {
    "standard": StandardScaler,
    "quantile": lambda: QuantileTransformer(output_distribution="normal", n_quantiles=200,
                                            random_state=0),
    "robust": RobustScaleSmoothClip,
}
SCALER_NAMES = {
    "standard": "StandardScaler",
    "quantile": "QuantileTransformer (normal output, 200 quantiles)",
    "robust": "skreg's RobustScaleSmoothClip (robust scaling, smooth clipping at 3)",
}

# Names of the rows every mode has, in the order of the tables.
UNREGULARIZED = "unregularized"
CV_DEFAULT = "CV estimator (default space)"
BEST_SINGLE = "best single regularizer (CV estimator)"
JOINT = "joint search (CV estimator)"
SKLEARN_MLP = "sklearn MLP (tuned)"
REALMLP = "RealMLP-TD"
HGB = "HistGradientBoosting"


def preprocessor(data, scaler="standard", for_trees=False):
    """Scale the numeric columns; one-hot (or, for trees, ordinal) encode the categorical ones."""
    numeric = [c for c in data.X.columns if c not in data.categorical]
    if for_trees:
        encoder = OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=np.nan)
        return ColumnTransformer([("cat", encoder, data.categorical),
                                  ("num", "passthrough", numeric)])
    return ColumnTransformer([
        ("num", SCALERS[scaler](), numeric),
        ("cat", OneHotEncoder(handle_unknown="ignore", sparse_output=False, dtype=np.float32),
         data.categorical),
    ])


def skreg_pipeline(data, config, scaler=None, **params):
    classification = data.task == "classification"
    est_class = RegularizedMLPClassifier if classification else RegularizedMLPRegressor
    net = est_class(hidden_layer_sizes=config.hidden_layer_sizes, max_iter=config.max_iter,
                    random_state=config.seed, **{**unregularized_params(), **params})
    return Pipeline([("prep", preprocessor(data, scaler or config.scaler)), ("net", net)])


def unregularized_params():
    """Every regularizer off (``alpha`` is 1e-4 by default, as in sklearn); each skreg row
    starts from these and adds its own regularizers."""
    return {"alpha": 0.0}


def cv_estimator_pipeline(data, config, param_grid=None, **params):
    """The CV estimator behind the study's preprocessing; ``param_grid=None`` is its default."""
    classification = data.task == "classification"
    est_class = RegularizedMLPClassifierCV if classification else RegularizedMLPRegressorCV
    settings = {**config.cv_estimator, **params}
    if param_grid is not None:
        settings["param_grid"] = param_grid
    net = est_class(hidden_layer_sizes=config.hidden_layer_sizes, max_iter=config.max_iter,
                    random_state=config.seed, **settings)
    return Pipeline([("prep", preprocessor(data, config.scaler)), ("net", net)])


def prefixed(grid, prefix="net__"):
    return {prefix + k: v for k, v in grid.items()}


def tuning_scoring(task):
    # Log loss is a proper scoring rule, smoother than accuracy on small validation folds.
    return "neg_log_loss" if task == "classification" else "neg_root_mean_squared_error"


def inner_cv(data, config, seed):
    if data.task == "classification":
        return StratifiedKFold(config.inner_folds, shuffle=True, random_state=seed)
    return KFold(config.inner_folds, shuffle=True, random_state=seed)


def joint_space(names):
    space = {}
    for name in names:
        space.update(REGULARIZERS[name].joint)
    return space


def search(estimator, grid, data, config, seed):
    """``estimator`` as is when ``grid`` has one candidate, else a nested GridSearchCV over it.

    A candidate whose fit fails (e.g. a diverging network) scores NaN and is not chosen.
    """
    if isinstance(grid, dict) and all(len(v) == 1 for v in grid.values()):
        return clone(estimator).set_params(**{k: v[0] for k, v in grid.items()})
    return GridSearchCV(estimator, grid, cv=inner_cv(data, config, seed),
                        scoring=tuning_scoring(data.task), error_score=np.nan)


def single_regularizer_grids(names, config):
    """One grid per regularizer: the first ``config.grid_values`` values of its own grid."""
    return [{k: v[: config.grid_values] for k, v in REGULARIZERS[name].grid.items()}
            for name in names]


def joint_candidates(names, config, seed):
    """Candidates of the joint search: no regularizer, each regularizer alone (its grid), and
    ``config.joint_iter`` random draws from the joint space, so that the joint search can pick
    anything a single-regularizer search could, and combinations besides.

    Each candidate is a grid of one point (a dict of one-element lists).
    """
    candidates = [unregularized_params()]
    for grid in single_regularizer_grids(names, config):
        candidates += list(ParameterGrid(grid))
    candidates += list(ParameterSampler(joint_space(names), config.joint_iter, random_state=seed))
    unique = []
    for candidate in candidates:
        if candidate not in unique:
            unique.append(candidate)
    return [{k: [v] for k, v in c.items()} for c in unique]


def mlp_peer(data, config):
    mlp_class = MLPClassifier if data.task == "classification" else MLPRegressor
    return Pipeline([("prep", preprocessor(data, config.scaler)),
                     ("net", mlp_class(hidden_layer_sizes=config.hidden_layer_sizes,
                                       max_iter=config.max_iter, random_state=config.seed))])


def realmlp_peer(data, config):
    """RealMLP-TD (pytabkit) with its tuned defaults, on the raw table.

    It does its own preprocessing (robust scaling and smooth clipping, one-hot encoding of
    categorical columns with few levels, embeddings of the others) and keeps a validation
    share of the training rows for its best-epoch selection. None when pytabkit is absent.
    """
    try:
        from pytabkit import RealMLP_TD_Classifier, RealMLP_TD_Regressor
    except ImportError:
        return None
    real_class = RealMLP_TD_Classifier if data.task == "classification" else RealMLP_TD_Regressor
    return real_class(device="cpu", random_state=config.seed, n_threads=1, verbosity=0,
                      **config.realmlp)


def hgb_peer(data, config):
    hgb_class = (HistGradientBoostingClassifier if data.task == "classification"
                 else HistGradientBoostingRegressor)
    n_cat = len(data.categorical)
    hgb = Pipeline([("prep", preprocessor(data, for_trees=True)),
                    ("hgb", hgb_class(categorical_features=list(range(n_cat)) or None,
                                      random_state=config.seed))])
    return search(hgb, prefixed(config.hgb_grid, "hgb__"), data, config, config.seed)


def model_specs(data, config):
    """``{model name: (family, estimator or search)}`` for one data set.

    Families: "skreg" (skreg's networks), "peer" (the other models).
    """
    names, _ = available_regularizers(data.task)
    seed = config.seed
    specs = {UNREGULARIZED: ("skreg", skreg_pipeline(data, config))}
    if config.per_regularizer_rows:
        for name, grid in zip(names, single_regularizer_grids(names, config)):
            specs[name] = ("skreg", search(skreg_pipeline(data, config), prefixed(grid), data,
                                           config, seed))
    specs[CV_DEFAULT] = ("skreg", cv_estimator_pipeline(data, config))
    inner = inner_cv(data, config, seed)
    specs[BEST_SINGLE] = ("skreg", cv_estimator_pipeline(
        data, config, single_regularizer_grids(names, config), cv=inner,
        **unregularized_params()))
    specs[JOINT] = ("skreg", cv_estimator_pipeline(
        data, config, joint_candidates(names, config, seed), cv=inner, **unregularized_params()))
    specs[SKLEARN_MLP] = ("peer", search(
        mlp_peer(data, config), {"net__alpha": config.mlp_alpha,
                                 "net__early_stopping": [False, True]}, data, config, seed))
    realmlp = realmlp_peer(data, config)
    if realmlp is not None:
        specs[REALMLP] = ("peer", realmlp)
    specs[HGB] = ("peer", hgb_peer(data, config))
    return specs
