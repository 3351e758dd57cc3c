"""The real-Ray suite: skipped as a whole (exit status 77, ctest's SKIP_RETURN_CODE) when Ray's
source is not there, never passed."""

import pytest

import rayharness

SKIPPED_EXIT_STATUS = 77


def pytest_collection_modifyitems(config, items):
    if not rayharness.AVAILABLE:
        for item in items:
            item.add_marker(pytest.mark.skip(reason=rayharness.MISSING))


def pytest_sessionfinish(session, exitstatus):
    if not rayharness.AVAILABLE and exitstatus in (0, 5):
        session.exitstatus = SKIPPED_EXIT_STATUS


def pytest_report_header(config):
    if rayharness.AVAILABLE:
        return f"Ray's source extracted to {rayharness.SOURCE_DIR}"
    return f"SKIPPED: {rayharness.MISSING}"
