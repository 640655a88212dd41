"""
==========================================================
Does regularization reduce bias or variance? A measurement
==========================================================

A common explanation says that regularization reduces both bias and variance, or that it
"reduces bias by keeping the model from being too simple". Regularization never makes a
model less simple: a penalty, dropout or an early stop restrict what the network can fit.
Whether that costs bias and how much variance it removes can be measured.

Measuring bias needs the true function, which real data never give. So this example keeps
the real inputs of scikit-learn's diabetes data (442 patients, 10 features) and replaces the
target with a known function of them plus fresh noise:

* the **true function** ``f`` is a gradient-boosting fit of the real target on all rows
  (a realistic, non-linear function of the real features);
* each **training set** is the same 309 patients with a new draw of Gaussian noise, whose
  standard deviation is that of the real target around a cross-validated ridge fit.

One network is fitted per training set and predicts the 133 held-out patients. For each
test patient the spread of the predictions across training sets is the **variance**, and
the squared distance of their average from ``f`` is the **squared bias**. Their sum plus the
noise variance is the expected test error.
"""

# %%
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_diabetes
from sklearn.ensemble import GradientBoostingRegressor
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import Ridge
from sklearn.model_selection import cross_val_predict, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skreg import RegularizedMLPRegressor

warnings.filterwarnings("ignore", category=ConvergenceWarning)  # fixed epoch budget

X, y = load_diabetes(return_X_y=True)
true_f = GradientBoostingRegressor(max_depth=2, random_state=0).fit(X, y).predict(X)
noise_sd = np.std(y - cross_val_predict(Ridge(alpha=1e-2), X, y, cv=5))
train_rows, test_rows = train_test_split(np.arange(len(X)), test_size=0.3, random_state=0)
print(f"noise standard deviation: {noise_sd:.1f} (noise variance {noise_sd**2:.0f})")

n_training_sets = 8
strengths = [1e-4, 1e-3, 1e-2, 1e-1, 1.0]
rng = np.random.RandomState(0)
noisy_targets = [
    true_f[train_rows] + rng.normal(scale=noise_sd, size=len(train_rows))
    for _ in range(n_training_sets)
]

results = []
for l2 in strengths:
    predictions = np.array([
        make_pipeline(
            StandardScaler(),
            RegularizedMLPRegressor((128, 128), l2=l2, max_iter=200, random_state=seed),
        )
        .fit(X[train_rows], target)
        .predict(X[test_rows])
        for seed, target in enumerate(noisy_targets)
    ])
    variance = predictions.var(axis=0, ddof=1)
    # The average of finitely many fits still carries variance / n of noise; remove it.
    bias2 = (predictions.mean(axis=0) - true_f[test_rows]) ** 2 - variance / n_training_sets
    train_fit = make_pipeline(
        StandardScaler(),
        RegularizedMLPRegressor((128, 128), l2=l2, max_iter=200, random_state=0),
    ).fit(X[train_rows], noisy_targets[0])
    results.append({
        "l2": l2,
        "bias2": bias2.mean(),
        "variance": variance.mean(),
        "train_mse": np.mean((train_fit.predict(X[train_rows]) - noisy_targets[0]) ** 2),
    })

for r in results:
    print(
        f"l2={r['l2']:<7g} bias²={r['bias2']:7.0f}  variance={r['variance']:7.0f}  "
        f"bias²+variance+noise={r['bias2'] + r['variance'] + noise_sd**2:7.0f}  "
        f"training MSE={r['train_mse']:7.0f}"
    )

# %%
l2s = [r["l2"] for r in results]
fig, ax = plt.subplots(figsize=(7.5, 4.4))
ax.plot(l2s, [r["bias2"] for r in results], "o-", label="squared bias")
ax.plot(l2s, [r["variance"] for r in results], "s-", label="variance")
ax.plot(
    l2s, [r["bias2"] + r["variance"] + noise_sd**2 for r in results], "k^--",
    label="expected test MSE (bias² + variance + noise)",
)
ax.plot(l2s, [r["train_mse"] for r in results], "x:", color="gray", label="training MSE")
ax.axhline(noise_sd**2, color="gray", lw=0.8)
ax.annotate(
    "noise variance", (l2s[0], noise_sd**2), xytext=(0, 4), textcoords="offset points",
    color="gray", fontsize=9,
)
ax.set_xscale("log")
ax.set_xlabel("L2 strength (l2)")
ax.set_ylabel("squared error (target units²)")
ax.set_title(f"Diabetes inputs, known target: {n_training_sets} training sets per strength")
ax.set_ylim(0, 1.4 * max(r["train_mse"] for r in results))
ax.legend(fontsize=9, loc="upper center", ncol=2)
fig.tight_layout()
plt.show()

# %%
# What the numbers show: the training error rises with every increase of the penalty --
# the model fits the data it sees less and less well. The variance falls steeply, by more
# than an order of magnitude between the weakest and the best strength. The squared bias
# stays nearly flat while the penalty is mild and then rises sharply: at the strongest
# penalty it is many times the variance. The best strength is where the variance removed
# exceeds the bias added. Regularization buys lower variance with bias; it is never a
# remedy for a model that is too simple.
