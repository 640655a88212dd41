"""Peak memory that ``skreg.load`` takes for small files whose headers claim huge sizes.

Each case saves a small fitted model (a file of a few kilobytes), edits its header
as the file's author could (recomputing the checksum where the format has one),
and loads it in a fresh process (after loading an unchanged file), which reports
the growth of its peak resident memory during ``skreg.load`` (the peak ``VmHWM``,
reset just before, minus the resident memory before it; Linux only) and how the
load ended. Run it on the
commit to measure: ``PYTHONPATH=. python benchmarks/load_memory.py``.
"""

import json
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np
from safetensors import safe_open
from safetensors.torch import save_file

import skreg
from skreg import RegularizedMLPClassifier, RegularizedMLPRegressor

LOAD = """
import sys
import skreg

def resident_kb(field):
    for line in open("/proc/self/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1])

skreg.load(sys.argv[2])  # first loads import modules and warm torch up: not measured
before = resident_kb("VmRSS")
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")  # resets the peak (VmHWM) to the current resident memory
try:
    skreg.load(sys.argv[1])
    outcome = "loaded"
except Exception as exc:
    outcome = f"{type(exc).__name__}: {str(exc).split(': ', 1)[-1][:90]}".replace("\\n", " ")
after = resident_kb("VmHWM")
print(f"{(after - before) / 1024:.1f}\\t{outcome}")
"""


def rewrite(path, change):
    with safe_open(str(path), framework="pt") as f:
        metadata = f.metadata()
        tensors = {name: f.get_tensor(name) for name in list(f.keys())}
    header = json.loads(metadata["skreg"])
    change(header)
    write = getattr(skreg._persistence, "write", None)
    if write is not None and "skreg_sha256" in metadata:
        write(path, header, tensors)
    else:
        save_file(tensors, str(path), metadata={"skreg": json.dumps(header)})


def set_hidden(sizes):
    return lambda h: h["params"].update(hidden_layer_sizes={"__tuple__": sizes})


def set_fitted(name, value):
    return lambda h: h["fitted"].update({name: value})


def main():
    warnings.simplefilter("ignore")  # the models are fitted for two epochs only
    rng = np.random.RandomState(0)
    X = rng.normal(size=(60, 4))
    labels = np.array(["cat", "dog", "eel"])[rng.randint(0, 3, 60)]
    classifier = RegularizedMLPClassifier((8, 4), max_iter=2, random_state=0).fit(X, labels)
    regressor = RegularizedMLPRegressor((8,), max_iter=2, random_state=0).fit(X, X[:, :2])
    wide_labels = {"__ndarray__": ["cat", "dog", "eel"], "dtype": "<U20000000", "shape": [3]}
    cases = [
        ("unchanged", classifier, lambda h: None),
        ("hidden_layer_sizes=(2*10**7, 4)", classifier, set_hidden([2 * 10**7, 4])),
        ("n_features_in_=10**7", regressor, set_fitted("n_features_in_", 10**7)),
        ("classes_ of dtype <U20000000", classifier, set_fitted("classes_", wide_labels)),
    ]
    print("case\tfile bytes\tpeak growth (MB)\toutcome")
    with tempfile.TemporaryDirectory() as folder:
        warm_up = Path(folder) / "warm_up.safetensors"
        skreg.save(classifier, warm_up)
        for name, model, change in cases:
            path = Path(folder) / "m.safetensors"
            skreg.save(model, path)
            rewrite(path, change)
            # Run outside the repository, so that the skreg on PYTHONPATH is measured.
            result = subprocess.run(
                [sys.executable, "-c", LOAD, str(path), str(warm_up)], check=True,
                capture_output=True, text=True, cwd=folder,
            )
            print(f"{name}\t{path.stat().st_size}\t{result.stdout.strip()}")


if __name__ == "__main__":
    main()
