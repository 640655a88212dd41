"""numpydoc's validation of the public API's docstrings, with scikit-learn's exceptions.

Every class and function that ``skreg`` exports is checked, and every public method and
property of the classes that skreg defines or overrides. Those inherited unchanged from
scikit-learn or skorch (``get_params``, ``set_params``, ``score``, the metadata-routing
``set_*_request`` methods, ``fit_transform``, ...) are skipped: their
docstrings are their library's.

The error codes ignored are those that scikit-learn's own ``sklearn/tests/test_docstrings.py``
ignores, and where it ignores them:

* everywhere: RT02 (the first line of a Returns entry may name the returned object, not
  only its type), GL01 and GL02 (where the summary starts and blank lines around it);
* for properties: PR02 and GL08 (a property has no signature to check parameters against);
* for methods and properties, not for the classes and functions themselves: ES01, SA01 and
  EX01 (no extended summary, See Also or Examples section).
"""

import inspect

import pytest

import skreg

numpydoc_validation = pytest.importorskip("numpydoc.validate")

IGNORED_EVERYWHERE = {"RT02", "GL01", "GL02"}
IGNORED_FOR_PROPERTIES = {"PR02", "GL08"}
IGNORED_FOR_MEMBERS = {"ES01", "SA01", "EX01"}


def defined_by_skreg(klass, name):
    """Whether the first class in ``klass``'s MRO that defines ``name`` is skreg's."""
    for base in klass.__mro__:
        if name in vars(base):
            return base.__module__.split(".")[0] == "skreg"
    return False


def public_api():
    """``(import path, member name or None, class or None)`` of every object checked."""
    for name in skreg.__all__:
        obj = getattr(skreg, name)
        if not (inspect.isclass(obj) or inspect.isfunction(obj)):
            continue  # __version__
        path = f"{obj.__module__}.{obj.__name__}"
        if inspect.isfunction(obj):
            yield path, None, None
            continue
        yield path, None, obj
        for member in sorted(dir(obj)):
            if member.startswith("_") or not defined_by_skreg(obj, member):
                continue
            static = inspect.getattr_static(obj, member)
            if callable(getattr(obj, member)) or isinstance(static, property):
                yield f"{path}.{member}", member, obj


PUBLIC_API = list(public_api())


def reported_errors(errors, member, klass):
    """numpydoc's errors less those scikit-learn's docstring test ignores."""
    is_property = member is not None and isinstance(
        inspect.getattr_static(klass, member), property
    )
    for code, message in errors:
        if code in IGNORED_EVERYWHERE:
            continue
        if is_property and code in IGNORED_FOR_PROPERTIES:
            continue
        if member is not None and code in IGNORED_FOR_MEMBERS:
            continue
        yield code, message


def test_the_checked_api_holds_every_export_and_skregs_own_methods():
    paths = {path for path, _, _ in PUBLIC_API}
    assert "skreg._persistence.save" in paths
    assert "skreg._search.RegularizedMLPClassifierCV.predict_proba" in paths
    assert "skreg._classifier.RegularizedMLPClassifier.partial_fit" in paths
    # A property defined in the shared base class, reached through the estimator.
    assert "skreg._regressor.RegularizedMLPRegressor.feature_importances_" in paths
    # Inherited unchanged from scikit-learn: not skreg's docstrings.
    assert "skreg._classifier.RegularizedMLPClassifier.get_params" not in paths
    assert "skreg._classifier.RegularizedMLPClassifier.score" not in paths


def test_the_filter_keeps_what_scikit_learn_reports():
    klass = skreg.RegularizedMLPClassifier
    errors = [("RT03", "Return value has no description"), ("SA01", "See Also"),
              ("GL01", "summary")]
    assert list(reported_errors(errors, None, klass)) == errors[:2]
    assert list(reported_errors(errors, "fit", klass)) == errors[:1]


@pytest.mark.parametrize(
    "path, member, klass", PUBLIC_API, ids=[path for path, _, _ in PUBLIC_API]
)
def test_docstring_passes_numpydoc_validation(path, member, klass):
    result = numpydoc_validation.validate(path)
    errors = list(reported_errors(result["errors"], member, klass))
    assert not errors, f"{path}:\n" + "\n".join(f"{code}: {text}" for code, text in errors)
