"""One error root for assay, with subclasses that say where and what to do.

Every error a user can cause carries its location (file, dataset, column) and a hint,
so the CLI can print a message that ends in an action instead of a traceback.
"""

from __future__ import annotations


class AssayError(Exception):
    """Root of every error assay raises on purpose.

    Args:
        message: what went wrong, in words.
        hint: what the user should do about it.
        where: the file, dataset or column the error is about.

    Example:
        >>> str(AssayError("table missing", where="silver.x", hint="run `assay run` first"))
        'silver.x: table missing (hint: run `assay run` first)'
    """

    #: Exit code the CLI uses when this error ends a command.
    exit_code = 1
    #: Transient errors are retried with backoff; terminal ones are not.
    transient = False

    def __init__(self, message: str, *, hint: str | None = None, where: str | None = None):
        self.message = message
        self.hint = hint
        self.where = where
        super().__init__(self._render())

    def _render(self) -> str:
        text = f"{self.where}: {self.message}" if self.where else self.message
        if self.hint:
            text += f" (hint: {self.hint})"
        return text


class ProjectError(AssayError):
    """The project folder, assay.yaml or a definition file is invalid."""

    exit_code = 2


class DefinitionError(ProjectError):
    """A dataset declaration is invalid (bad header, unknown input, cycle...)."""


class UsageError(AssayError):
    """A command was called with arguments that cannot work."""

    exit_code = 2


class TableNotFoundError(AssayError):
    """A `layer.name` table does not exist in the warehouse (yet)."""

    exit_code = 2


class SchemaDriftError(AssayError):
    """A source's schema changed in a way the dataset's schema policy does not allow."""


class TransientError(AssayError):
    """A failure worth retrying (I/O hiccup, concurrent commit, lost connection)."""

    transient = True


class LockedError(AssayError):
    """Another assay process holds the project lock."""


class MissingExtraError(AssayError):
    """An optional dependency is missing; the message says which extra to install."""

    exit_code = 2

    def __init__(self, package: str, extra: str):
        super().__init__(
            f"the optional package {package!r} is not installed",
            hint=f"pip install 'assay[{extra}]'",
        )


class ContractViolationError(AssayError):
    """A batch broke an error-severity batch rule: nothing was committed."""


class AccessDeniedError(AssayError):
    """A read the principal's role does not allow: names the role, the dataset and the
    column, and never returns partial data instead."""

    exit_code = 3
