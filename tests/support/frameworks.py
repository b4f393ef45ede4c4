"""The ML frameworks the integration tests drive (requirements-ml.txt, installed by
`make test`).

`need("lightning")` returns the module. Without it a developer's run skips the test; CI
(`CI=true`, as `.ci/run` sets) fails instead, so a framework missing from the test
environment can never turn its integration tests into silent skips.
"""

import importlib
import os

import pytest


def in_ci():
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def need(module):
    """`module` imported, else a skip (a developer's machine) or a failure (CI)."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        message = f"{module} is not installed ({exc}): pip install -r requirements-ml.txt"
        if in_ci():
            pytest.fail(f"{message}; CI runs every framework test", pytrace=False)
        pytest.skip(message, allow_module_level=True)
