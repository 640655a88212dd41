"""The study's modes: every setting a run depends on, written to its protocol file."""

import dataclasses

from .data import LOADERS


@dataclasses.dataclass
class Config:
    """Everything a mode sets; the protocol file is generated from it."""

    mode: str
    datasets: list
    max_rows: dict  # data set -> rows kept (None = all)
    outer_splits: int
    test_size: float
    inner_folds: int
    hidden_layer_sizes: tuple
    max_iter: int
    joint_iter: int
    grid_values: int  # keep the first ``grid_values`` values of each tuned-alone grid
    mlp_alpha: list
    hgb_grid: dict
    sweep_datasets: list
    sweep_sizes: list
    sweep_widths: list
    sweep_width_rows: int
    sweep_test_rows: int
    sweep_repeats: int
    sweep_scalers: tuple = ("standard", "quantile")
    # Scaling of the numeric columns for the neural networks (a key of models.SCALERS).
    scaler: str = "standard"
    # One GridSearchCV per regularizer, each tuned alone and scored on the outer test rows.
    per_regularizer_rows: bool = True
    # Settings of the CV-estimator rows beyond the network (None: the estimator's defaults).
    cv_estimator: dict = dataclasses.field(default_factory=dict)
    # Settings of RealMLP-TD beyond its tuned defaults (the smoke mode shortens it).
    realmlp: dict = dataclasses.field(default_factory=dict)
    remedies: bool = False
    remedy_datasets: list = None
    seed: int = 0
    n_jobs: int = 2


ALL_DATASETS = list(LOADERS)
QUICK = Config(
    mode="quick", datasets=ALL_DATASETS,
    max_rows={"digits": 1200, "adult": 2000, "california": 2000, "bikeshare": 2000,
              "caravan": 2000},
    outer_splits=3, test_size=0.25, inner_folds=2, hidden_layer_sizes=(128, 128), max_iter=60,
    joint_iter=6, grid_values=2, mlp_alpha=[1e-4, 1e-2, 1.0],
    hgb_grid={"max_leaf_nodes": [15, 31]},
    sweep_datasets=["california", "adult"], sweep_sizes=[100, 300, 1000],
    sweep_widths=[16, 64, 256],
    sweep_width_rows=300, sweep_test_rows=1000, sweep_repeats=3,
    remedies=True, remedy_datasets=ALL_DATASETS,
)
# The full mode compares the CV estimator with its defaults (one hidden layer of 100 units,
# 200 epochs: sklearn's MLP defaults) against the peers on every data set, 5 outer splits.
# The larger data sets keep the rows that fit the study's budget on 2 CPU cores; the sweeps
# and remedies are the quick mode's (their many fits are what the budget cannot hold).
FULL = Config(
    mode="full", datasets=ALL_DATASETS,
    max_rows={"adult": 4000, "california": 4000, "bikeshare": 4000, "caravan": 4000},
    outer_splits=5, test_size=0.2, inner_folds=3, hidden_layer_sizes=(100,), max_iter=200,
    joint_iter=6, grid_values=2, mlp_alpha=[1e-4, 1e-3, 1e-2, 1e-1, 1.0],
    hgb_grid={"learning_rate": [0.05, 0.1], "max_leaf_nodes": [15, 31, 63]},
    sweep_datasets=[], sweep_sizes=[], sweep_widths=[], sweep_width_rows=0,
    sweep_test_rows=0, sweep_repeats=0, per_regularizer_rows=False, scaler="robust",
)
SMOKE = Config(
    mode="smoke", datasets=["wine", "diabetes"], max_rows={},
    outer_splits=2, test_size=0.3, inner_folds=2, hidden_layer_sizes=(16,), max_iter=5,
    joint_iter=2, grid_values=1, mlp_alpha=[1e-3], hgb_grid={"max_leaf_nodes": [7]},
    sweep_datasets=["diabetes"], sweep_sizes=[50, 100], sweep_widths=[8, 16],
    sweep_width_rows=50, sweep_test_rows=100, sweep_repeats=2,
    cv_estimator={"cv": 2, "param_grid": {"dropout": [0.0, 0.25], "alpha": [1e-4, 1e-2]}},
    realmlp={"n_epochs": 3},
    remedies=True, remedy_datasets=["diabetes"],
)
