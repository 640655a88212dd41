"""The regularization study's core functions on a small data set with tiny grids."""

import dataclasses
import importlib.util
from pathlib import Path

import numpy as np
import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "regularization.py"


@pytest.fixture(scope="module")
def study(load_script):
    return load_script(SCRIPT)


@pytest.fixture(scope="module")
def tiny(study):
    return dataclasses.replace(study.SMOKE, max_iter=3, joint_iter=2, n_jobs=1,
                               realmlp={"n_epochs": 2},
                               sweep_sizes=[40], sweep_widths=[8], sweep_repeats=2,
                               sweep_test_rows=60, sweep_width_rows=40, remedies=False)


def test_main_study_table(study, tiny):
    data = study.LOADERS["wine"]()
    rows = study.run_main_study([data], tiny, n_jobs=1)
    names, _ = study.available_regularizers("classification")
    assert "label_smoothing" in names  # a classifier's parameter only
    assert "label_smoothing" not in study.available_regularizers("regression")[0]
    expected = {"unregularized", "CV estimator (default space)",
                "best single regularizer (CV estimator)", "joint search (CV estimator)",
                "sklearn MLP (tuned)", "HistGradientBoosting", *names}
    if importlib.util.find_spec("pytabkit") is not None:  # installed by `make study`
        expected.add("RealMLP-TD")
    assert set(rows.model) == expected
    assert len(rows) == len(expected) * tiny.outer_splits
    assert {"dataset", "model", "family", "split", "fit_time_s", "chosen"} <= set(rows.columns)
    assert np.isfinite(rows[["accuracy", "roc_auc", "fit_time_s"]].to_numpy()).all()
    assert rows.accuracy.between(0, 1).all()

    summary, markdown = study.summarize(rows, [data])
    head = study.headline(summary, [data], rows)
    assert list(head.dataset) == ["wine"] and head.metric.iloc[0] == "accuracy"
    # The single-regularizer search chose inside the training rows, on every split.
    chosen = rows[rows.model == "best single regularizer (CV estimator)"].chosen
    assert len(chosen) == tiny.outer_splits and all(c != "{}" for c in chosen)
    assert head["beats sklearn MLP"].iloc[0] in {"yes", "no", "tie"}
    assert "| model" in markdown


def test_sweeps_and_verdicts(study, tiny):
    data = study.LOADERS["diabetes"]()
    sweeps = study.run_sweeps([data], tiny, n_jobs=1)
    assert set(sweeps.sweep) == {"size", "width"}
    assert np.isfinite(sweeps[["rmse", "r2", "train_r2"]].to_numpy()).all()
    verdicts = study.sweep_verdicts(sweeps)
    assert set(verdicts.verdict) <= {"helps", "hurts", "no clear effect"}
    assert "unregularized" not in set(verdicts.model)


def test_plot_only_redraws_the_figure_from_the_csvs(study, tmp_path):
    # A finished run's figure is redrawn from its summary and headline, without loading a
    # data set or fitting anything.
    results = SCRIPT.parent / "results"
    for part in ["summary", "headline"]:
        source = results / f"regularization_quick_{part}.csv"
        (tmp_path / f"regularization_redraw_{part}.csv").write_text(source.read_text())
    study.main(["--plot-only", "--tag", "redraw", "--out", str(tmp_path)])
    from matplotlib.image import imread

    height, width, _ = imread(tmp_path / "regularization_redraw_main.png").shape
    assert width == round(7.6 * 110)  # two panels a row, sized for a documentation page
    assert height > width  # eight data sets: four rows
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "regularization_redraw_headline.csv", "regularization_redraw_main.png",
        "regularization_redraw_summary.csv",
    ]


def test_a_rerun_of_some_rows_replaces_them_in_place(study, tiny):
    data = study.LOADERS["wine"]()
    earlier = study.run_main_study([data], tiny, n_jobs=1, models={"unregularized",
                                                                    "HistGradientBoosting"})
    rerun = study.run_main_study([data], dataclasses.replace(tiny, max_iter=4), n_jobs=1,
                                 models={"unregularized"})
    rows = study.replace_rows(earlier, rerun)
    assert list(zip(rows.model, rows.split)) == list(zip(earlier.model, earlier.split))
    new = rows[rows.model == "unregularized"].reset_index(drop=True)
    assert new.equals(rerun.reset_index(drop=True)[new.columns])
    hgb = rows.model == "HistGradientBoosting"
    assert rows[hgb].accuracy.tolist() == earlier[earlier.model == "HistGradientBoosting"
                                                  ].accuracy.tolist()
