"""Who is reading: the principal every access decision and audit event names.

A principal is `ASSAY_USER` when set, else the operating system's login name. The
feature server acts for the API key of each request (`key:NAME`, see
`assay.server.auth`): it sets the principal for that request with `acting_as`, a context
variable, so concurrent requests never see each other's principal and no header can
claim one.

Example:
    >>> with acting_as("key:scoring"):
    ...     current_principal()
    'key:scoring'
"""

from __future__ import annotations

import getpass
import os
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from assay.errors import UsageError

#: The principal of the request being served (None outside a server request).
_acting: ContextVar[str | None] = ContextVar("assay_principal", default=None)


def current_principal() -> str:
    """The principal reads are made for now: the server request's key, else `ASSAY_USER`,
    else the login name.

    Example:
        >>> os.environ["ASSAY_USER"] = "alice"
        >>> current_principal()
        'alice'
        >>> del os.environ["ASSAY_USER"]
    """
    acting = _acting.get()
    if acting is not None:
        return acting
    user = os.environ.get("ASSAY_USER", "").strip()
    if user:
        return user
    try:
        return getpass.getuser()
    except (KeyError, OSError) as exc:  # no login name (a container without a passwd entry)
        raise UsageError(
            "cannot tell who is reading: no ASSAY_USER and no login name",
            hint="set ASSAY_USER to your user name",
        ) from exc


@contextmanager
def acting_as(principal: str) -> Iterator[None]:
    """Make `principal` the current one inside the block (this thread or task only)."""
    token = _acting.set(principal)
    try:
        yield
    finally:
        _acting.reset(token)
