"""Who may take governance actions: read the audit log, hold, apply retention, forget, ...

Reads are governed by grants, masks and row filters (assay.governance.access); the actions
that change or reveal governance state are governed here, by `allow:` on each role of
assay.yaml:

    roles:
      dpo:
        principals: [dana]
        allow: [audit, forget, hold, report]

- Without `roles:` every action is allowed, as every read is.
- With `roles:`, an action needs the principal's role to allow it (or `*`); a principal in
  no role may take none. The refusal is an AccessDeniedError naming principal, role and
  action, with the hint to add the action to the role's `allow:`.

The actions: audit (read the audit log), hold (add or remove a legal hold), retention
(apply it), forget (erase a subject), keys (new key, rotate), pii_scan (sample data for
PII), check (run contract checks), report (the records of processing).

Example:
    >>> from types import SimpleNamespace
    >>> from assay.config import ProjectConfig
    >>> config = ProjectConfig(name="demo", roles={"dpo": {"principals": ["dana"],
    ...     "allow": ["forget"]}})
    >>> require_action(SimpleNamespace(config=config), "forget", principal="dana")
    'dpo'
    >>> try:
    ...     require_action(SimpleNamespace(config=config), "hold", principal="dana")
    ... except AccessDeniedError as exc:
    ...     print(exc.hint)
    add 'hold' to roles.dpo.allow in assay.yaml
"""

from __future__ import annotations

from typing import Protocol, get_args

from assay.config import GovernanceAction, ProjectConfig
from assay.errors import AccessDeniedError, UsageError
from assay.governance.principal import current_principal

#: Every governance action a role may be allowed (without the `*` wildcard).
ACTIONS: tuple[str, ...] = tuple(a for a in get_args(GovernanceAction) if a != "*")

#: What each action is, for the refusal's message.
_MEANING = {
    "audit": "read the audit log",
    "hold": "add or remove a legal hold",
    "retention": "apply retention (delete expired rows)",
    "forget": "erase a subject's data",
    "keys": "create or rotate token keys",
    "pii_scan": "scan data for PII",
    "check": "run contract checks",
    "report": "write the governance report",
    "optimize": "compact and vacuum tables (assay optimize)",
}


class _HasConfig(Protocol):
    @property
    def config(self) -> ProjectConfig: ...


def role_of(config: ProjectConfig, principal: str | None = None) -> str | None:
    """The role `principal` (default: the current one) holds; None without `roles:` or
    when it holds none.

    Example:
        >>> from assay.config import ProjectConfig
        >>> role_of(ProjectConfig(name="d", roles={"a": {"principals": ["ann"]}}), "ann")
        'a'
    """
    if not config.roles:
        return None
    who = principal if principal is not None else current_principal()
    for name, role in config.roles.items():
        if who in role.principals:
            return name
    return None


def require_action(
    runtime: _HasConfig | ProjectConfig, action: str, principal: str | None = None
) -> str | None:
    """Refuse `action` unless the principal's role allows it (see the module).

    Args:
        runtime: the project's runtime (anything with `.config`), or the project's
            config itself (where no runtime is open, e.g. `assay keys new`).
        action: one of `ACTIONS`.
        principal: who acts (default: the current principal).

    Returns:
        The role the principal acts in, None when no roles are configured (record it in
        the audit event).

    Raises:
        AccessDeniedError: roles are configured and the principal's role (or the lack of
            one) does not allow `action`.
        UsageError: `action` is not a governance action (a caller's typo).

    Example:
        >>> from types import SimpleNamespace
        >>> from assay.config import ProjectConfig
        >>> require_action(SimpleNamespace(config=ProjectConfig(name="d")), "forget") is None
        True
    """
    if action not in ACTIONS:
        raise UsageError(
            f"unknown governance action {action!r}",
            hint=f"one of: {', '.join(ACTIONS)}",
        )
    config = runtime if isinstance(runtime, ProjectConfig) else runtime.config
    if not config.roles:
        return None
    who = principal if principal is not None else current_principal()
    role = role_of(config, who)
    if role is None:
        raise AccessDeniedError(
            f"principal {who!r} holds no role, so it may not {_MEANING[action]} ({action})",
            where="assay.yaml: roles",
            hint=f"add {who!r} to the principals of a role whose allow: lists {action!r} "
            f"(roles: {', '.join(sorted(config.roles))}; ASSAY_USER sets who you are)",
        )
    allowed = config.roles[role].allow
    if action not in allowed and "*" not in allowed:
        raise AccessDeniedError(
            f"principal {who!r} (role {role!r}) may not {action}: "
            f"{_MEANING[action]} is not allowed to the role",
            where=f"assay.yaml: roles.{role}.allow",
            hint=f"add {action!r} to roles.{role}.allow in assay.yaml",
        )
    return role
