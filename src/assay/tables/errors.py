"""A write that failed because the disk is full (or a file-size or quota limit was hit).

delta-rs reports the operating system's error inside its message (`... File too large (os
error 27)`), Python as an OSError, SQLite as its own code: all become one `DiskFullError`
that names what was being written, instead of a traceback.
"""

from __future__ import annotations

import errno
import os
import re
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from assay.errors import AssayError

#: No space left, a file over the size limit (RLIMIT_FSIZE, the filesystem's), over quota.
DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EFBIG, errno.EDQUOT})
#: How Rust's std::io::Error ends its text, which delta-rs passes on.
_OS_ERROR = re.compile(r"\(os error (\d+)\)")
F = TypeVar("F", bound=Callable[..., Any])


class DiskFullError(AssayError):
    """A write ran out of space: nothing of it was committed; free space and re-run.

    Example:
        >>> str(DiskFullError("table bronze.orders", "No space left on device"))
        'disk full while writing table bronze.orders (No space left on device); nothing was \
committed (hint: free space and re-run)'
    """

    def __init__(self, what: str, reason: str, outcome: str = "nothing was committed"):
        super().__init__(
            f"disk full while writing {what} ({reason}); {outcome}", hint="free space and re-run"
        )


def disk_full_reason(exc: BaseException) -> str | None:
    """The OS's words when `exc` is a write that failed for lack of space, else None.

    Example:
        >>> disk_full_reason(OSError(errno.ENOSPC, "No space left on device"))
        'No space left on device'
        >>> disk_full_reason(Exception("copy failed: File too large (os error 27)"))
        'File too large'
        >>> disk_full_reason(Exception("Permission denied (os error 13)")) is None
        True
    """
    if isinstance(exc, OSError) and exc.errno in DISK_FULL_ERRNOS:
        return os.strerror(exc.errno)
    match = _OS_ERROR.search(str(exc))
    if match and int(match.group(1)) in DISK_FULL_ERRNOS:
        return os.strerror(int(match.group(1)))
    return None


def guards_disk_full(method: F) -> F:
    """Turn a full disk in a `Warehouse` write method `(self, name, ...)` into a
    DiskFullError naming the table."""

    @wraps(method)
    def wrapper(self: Any, name: str, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, name, *args, **kwargs)
        except AssayError:
            raise
        except Exception as exc:
            reason = disk_full_reason(exc)
            if reason is None:
                raise
            raise DiskFullError(f"table {name}", reason) from exc

    return wrapper  # type: ignore[return-value]
