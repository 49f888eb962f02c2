"""Running `assay` on a broken project and checking that it fails the way users need: the
exit code (2 bad input, 1 a failed run), one error naming where, one hint, no traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from typer.testing import CliRunner

from assay.cli.main import app

_ENV = {"COLUMNS": "200", "NO_COLOR": "1"}


@dataclass
class Outcome:
    exit_code: int
    output: str
    #: An exception `assay` let through (a traceback for a user), if any.
    escaped: BaseException | None = None

    @property
    def flat(self) -> str:
        """The output with rich's line wrapping undone."""
        return " ".join(self.output.split())


def invoke(*args: str) -> Outcome:
    """`assay ARGS` in this process (typer's CliRunner)."""
    result = CliRunner().invoke(app, list(args), env=_ENV)
    escaped = None if isinstance(result.exception, SystemExit | None) else result.exception
    return Outcome(result.exit_code, result.output, escaped)


def run_process(*args: str, file_size_limit: int | None = None) -> Outcome:
    """`assay ARGS` as its own process; with `file_size_limit`, no file it writes may grow
    past that many bytes (RLIMIT_FSIZE, SIGXFSZ ignored): writes then fail with EFBIG, as
    they would on a full disk."""
    code = (
        "import resource, signal, sys\n"
        f"limit = {file_size_limit!r}\n"
        "if limit is not None:\n"
        "    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
        "    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))\n"
        "from assay.cli.main import main\n"
        "sys.argv = ['assay', *sys.argv[1:]]\n"
        "main()\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        env={**os.environ, **_ENV},
        timeout=300,
    )
    return Outcome(done.returncode, done.stdout + done.stderr)


def assert_one_error(outcome: Outcome, exit_code: int, *fragments: str) -> None:
    """Exit code `exit_code`, one `error:` line holding every fragment, one `hint:`, and no
    traceback."""
    assert outcome.escaped is None, f"uncaught {outcome.escaped!r}\n{outcome.output}"
    assert outcome.exit_code == exit_code, outcome.output
    assert "Traceback" not in outcome.output, outcome.output
    lines = [line for line in outcome.output.splitlines() if line.strip()]
    assert lines[0].startswith("error: "), outcome.output
    starts = [line.split(":")[0] for line in lines if line.startswith(("error: ", "hint: "))]
    assert starts == ["error", "hint"], outcome.output
    message = outcome.flat.split(" hint: ")[0]
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"


def hint_of(outcome: Outcome) -> str:
    return outcome.flat.split(" hint: ", 1)[1]


def scaffold(root: Path) -> Path:
    """A fresh `assay init` project at `root`: bronze.orders (CSV files), bronze.customers
    (Python), silver.orders (incremental SQL), gold.daily_totals (SQL)."""
    outcome = invoke("init", str(root))
    assert outcome.exit_code == 0, outcome.output
    return root
