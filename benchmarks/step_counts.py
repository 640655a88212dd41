"""Work per training step, counted rather than timed: Python calls and torch ops.

Timings need a quiet machine (``benchmarks/speed.py``); counts do not. For each
configuration this fits ``RegularizedMLPClassifier`` twice, for ``--epochs`` and
for half as many, and divides the difference of the counts by the difference of
the training steps, so the fixed cost of a fit (validation, building the net,
fitted attributes) drops out and what is left is the cost of one step together
with its share of the per-epoch work:

* ``python calls``: function calls that ``cProfile`` records (Python functions
  and the builtins they call);
* ``torch ops``: events that ``torch.profiler`` records on the CPU (every
  operator call, nested ones included).

The data are 10-class rows of 16 standard-normal features; the network has one
hidden layer of 32, batches of 200, no validation. Configurations: sklearn's
``alpha=1e-4`` (the penalized step), ``alpha=0`` (the plain step) and
``early_stopping=True`` (validation batches too).

Run: ``PYTHONPATH=. python benchmarks/step_counts.py`` (prints a markdown table;
``--rows``, ``--epochs`` to change the size).
"""

import argparse
import cProfile
import pstats

import numpy as np
import torch
from torch.profiler import ProfilerActivity, profile

from skreg import RegularizedMLPClassifier

CONFIGURATIONS = {
    "alpha=1e-4": {},
    "alpha=0": {"alpha": 0.0},
    "early_stopping": {"early_stopping": True},
}


def make_data(rows, features=16, classes=10, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(rows, features)).astype(np.float32)
    y = rng.randint(0, classes, rows)
    return X, y


def make_model(epochs, **params):
    # An unreachable n_iter_no_change: every fit runs all its epochs.
    defaults = {"hidden_layer_sizes": (32,), "batch_size": 200, "max_iter": epochs,
                "n_iter_no_change": 10**6, "random_state": 0, "n_threads": 1}
    return RegularizedMLPClassifier(**{**defaults, **params})


def python_calls(model, X, y):
    profiler = cProfile.Profile()
    profiler.enable()
    model.fit(X, y)
    profiler.disable()
    return pstats.Stats(profiler).total_calls


def torch_ops(model, X, y):
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        model.fit(X, y)
    return len(prof.events())


def training_steps(model):
    return sum(epoch["train_batch_count"] for epoch in model.net_.history)


def per_step(count, X, y, epochs, params):
    """``count`` of a fit of ``epochs`` minus that of ``epochs // 2``, per extra step."""
    # A first fit of its own pays for what torch and skorch set up once per process.
    count(make_model(1, **params), X, y)
    long, short = make_model(epochs, **params), make_model(epochs // 2, **params)
    counts = [count(model, X, y) for model in (long, short)]
    steps = training_steps(long) - training_steps(short)
    return (counts[0] - counts[1]) / steps


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--epochs", type=int, default=8)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    X, y = make_data(args.rows)
    print("| configuration | python calls per step | torch ops per step |")
    print("|:--|--:|--:|")
    for name, params in CONFIGURATIONS.items():
        calls = per_step(python_calls, X, y, args.epochs, params)
        ops = per_step(torch_ops, X, y, args.epochs, params)
        print(f"| {name} | {calls:.1f} | {ops:.1f} |")


if __name__ == "__main__":
    main()
