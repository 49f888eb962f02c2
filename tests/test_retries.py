"""Transient errors are retried with backoff; terminal errors fail the dataset at once."""

from __future__ import annotations

from pathlib import Path

import assay
from assay.errors import TransientError

CALLS: dict[str, int] = {"flaky": 0, "broken": 0}


def _project(tmp_path: Path) -> Path:
    (tmp_path / "pipelines").mkdir()
    (tmp_path / "assay.yaml").write_text(
        "name: retries\nretries:\n  attempts: 3\n  backoff_initial: 0.01\n  backoff_max: 0.02\n"
    )
    (tmp_path / "pipelines" / "sources.py").write_text(
        "import assay\n"
        "from tests.test_retries import CALLS\n"
        "from assay.errors import TransientError\n\n"
        "@assay.source('bronze.flaky')\n"
        "def flaky(ctx):\n"
        "    CALLS['flaky'] += 1\n"
        "    if CALLS['flaky'] < 3:\n"
        "        raise TransientError('connection reset')\n"
        "    return [{'id': 1}]\n\n"
        "@assay.source('bronze.broken')\n"
        "def broken(ctx):\n"
        "    CALLS['broken'] += 1\n"
        "    raise ValueError('bad config')\n"
    )
    return tmp_path


def test_transient_errors_are_retried_until_success(tmp_path: Path) -> None:
    CALLS.update(flaky=0, broken=0)
    result = assay.Project(_project(tmp_path)).run()
    assert result.result("bronze.flaky").status == "success"
    assert CALLS["flaky"] == 3
    broken = result.result("bronze.broken")
    assert broken.status == "failed"
    assert CALLS["broken"] == 1  # terminal: not retried
    assert "bad config" in (broken.error or "")
    assert "bronze.broken" in (broken.error or "")


def test_transient_errors_give_up_after_the_configured_attempts(tmp_path: Path) -> None:
    CALLS.update(flaky=-10, broken=0)
    result = assay.Project(_project(tmp_path)).run(select=["bronze.flaky"])
    assert result.result("bronze.flaky").status == "failed"
    assert CALLS["flaky"] == -7
    assert isinstance(TransientError("x"), assay.AssayError)
