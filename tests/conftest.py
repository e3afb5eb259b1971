"""Shared test configuration: hypothesis profiles, and torch's trace logging kept out of reports.

`ci` (the default) is derandomized and bounded so the suite is reproducible and fast; select
`dev` (more examples) or `fuzz` with ``HYPOTHESIS_PROFILE=dev pytest tests/properties``.
"""

from __future__ import annotations

import logging
import os

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    derandomize=True,
    max_examples=40,
    deadline=None,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
settings.register_profile(
    "dev",
    max_examples=300,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def _quiet_torch_trace() -> None:
    """torch.compile and torch.export emit DEBUG records on the ``torch.__trace`` logger (one
    per traced tensor: 1,700 lines for one inductor test) that pytest's log capture puts into
    every failure report. Off, unless TORCH_TRACE asks for them."""
    if not os.environ.get("TORCH_TRACE"):
        logging.getLogger("torch.__trace").disabled = True


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    _quiet_torch_trace()
