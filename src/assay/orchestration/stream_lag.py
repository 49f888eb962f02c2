"""Stream lag alerts: a stream whose lag (records in its source, Kafka messages or lines of
a folder's files, that its table does not hold yet) is over its limit fires `stream_lag`;
back at or under the limit, it resolves.

The limit is a number of records per streaming dataset. `check_periodic` takes the
limits as a mapping (dataset -> records); a stream's status that cannot be read (broker
away) neither fires nor resolves.

Example:
    >>> import assay, tempfile
    >>> root = tempfile.mkdtemp()
    >>> _ = assay.init_project(root)
    >>> lag_alerts(assay.Project(root).runtime, {})
    ([], [])
"""

from __future__ import annotations

from collections.abc import Mapping

from assay.orchestration.alerts import Alert, Cleared
from assay.runtime import Runtime


def lag_alerts(rt: Runtime, limits: Mapping[str, int]) -> tuple[list[Alert], list[Cleared]]:
    """`stream_lag` alerts of the streams in `limits` whose lag is over their limit, and
    the streams back under it."""
    from assay.streaming.status import stream_status

    firing: list[Alert] = []
    cleared: list[Cleared] = []
    for name, limit in sorted(limits.items()):
        spec = rt.dag.specs.get(name)
        if spec is None or not spec.producer.is_stream:
            continue
        status = stream_status(rt, spec)
        if status.lag is None:
            continue  # unknown (not started, or its source unreachable): no verdict
        if status.lag <= limit:
            cleared.append(Cleared("stream_lag", name))
            continue
        firing.append(
            Alert(
                "stream_lag",
                name,
                f"{name} is {status.lag:,} records behind its {status.source}, over its "
                f"limit of {limit:,}",
                f"assay stream {name}",
                details={
                    "lag": status.lag,
                    "limit": limit,
                    "source": status.source,
                    "last_commit": None
                    if status.last_commit is None
                    else status.last_commit.isoformat(),
                },
            )
        )
    return firing, cleared
