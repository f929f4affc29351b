"""Every optimizer's docstring example runs and shows the iterate its equations give.

The expected values were derived by hand (e.g. SGD with the talk's momentum: m_1 = 0.1 * g,
x = [1, -2] - 0.1 * 0.1 * [2, -4] = [0.98, -1.96]; AdamW: 1 - 0.1 (0.1 * 1 + 1) = 0.89)."""
import doctest
import importlib
import pkgutil

import pytest

import autodiff as ad
import minioptim as mo
import minioptim.optimizers

MODULES = [importlib.import_module(f"minioptim.optimizers.{m.name}")
           for m in pkgutil.iter_modules(minioptim.optimizers.__path__)]


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.__name__.rsplit(".", 1)[-1])
def test_docstring_examples(module):
    ad.set_backend("numpy")  # the examples show tensors as printed there (the fixture restores)
    globs = {"ad": ad, **{name: getattr(mo, name) for name in mo.optimizers.__all__}}
    result = doctest.testmod(module, extraglobs=globs, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0
    if module.__name__.endswith(("adagrad", "adam", "lion", "sgd", "signsgd", "preconditioned")):
        assert result.attempted > 0
