"""Where alerts go: a webhook (JSON, or Slack's incoming-webhook payload), email over
SMTP, and assay's log. Standard library only (urllib.request, smtplib).

Each sender raises `ChannelError` naming the channel when delivery fails; the alerter logs
it and retries on its next evaluation, so a dead channel never fails a run.

Example:
    >>> from datetime import datetime
    >>> message = Message("failure", "firing", "silver.x", "ana", "silver.x failed",
    ...                   {"error": "boom"}, "assay run --select silver.x", "r1",
    ...                   datetime(2026, 1, 2, 3, 4))
    >>> json_payload(message)["fix"]
    'assay run --select silver.x'
    >>> slack_payload(message)["text"]
    ':rotating_light: [FIRING] failure: silver.x failed'
"""

from __future__ import annotations

import json
import logging
import os
import smtplib
import ssl
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from typing import Any

from assay.config import EmailAlert, LogAlert, WebhookAlert
from assay.errors import AssayError

log = logging.getLogger("assay.alerts")

Channel = WebhookAlert | EmailAlert | LogAlert


class ChannelError(AssayError):
    """An alert could not be delivered to a channel (it is retried on the next evaluation)."""

    transient = True


@dataclass(frozen=True)
class Message:
    """One alert message, as every channel renders it.

    Attributes:
        status: "firing" or "resolved".
        details: numbers and text that say what broke (error, share, limit, interval...).
        fix: the command that fixes it.
    """

    event: str
    status: str
    dataset: str
    owner: str | None
    summary: str
    details: dict[str, Any]
    fix: str
    run_id: str | None
    time: datetime

    @property
    def title(self) -> str:
        return f"[{self.status.upper()}] {self.event}: {self.summary}"


def channel_id(channel: Channel) -> str:
    """A stable name for a channel: the delivery state is kept under it.

    Example:
        >>> channel_id(LogAlert(type="log"))
        'log'
    """
    if isinstance(channel, WebhookAlert):
        return f"webhook:{channel.url}"
    if isinstance(channel, EmailAlert):
        return f"email:{','.join(channel.to)}"
    return "log"


def send(channel: Channel, message: Message) -> None:
    """Deliver `message` to `channel`; raises ChannelError naming the channel on failure."""
    if isinstance(channel, WebhookAlert):
        send_webhook(channel, message)
    elif isinstance(channel, EmailAlert):
        send_email(channel, message)
    else:
        send_log(message)


def json_payload(message: Message) -> dict[str, Any]:
    """The JSON body of a webhook with `format: json`."""
    return {
        "event": message.event,
        "status": message.status,
        "dataset": message.dataset,
        "owner": message.owner,
        "summary": message.summary,
        "details": message.details,
        "fix": message.fix,
        "run_id": message.run_id,
        "time": message.time.isoformat() + "Z",
    }


def slack_payload(message: Message) -> dict[str, Any]:
    """The body Slack's incoming webhooks take: `text` (the notification) and `blocks`."""
    icon = ":rotating_light:" if message.status == "firing" else ":white_check_mark:"
    text = f"{icon} [{message.status.upper()}] {message.event}: {message.summary}"
    facts = "\n".join(f"*{k}*: {_short(v)}" for k, v in message.details.items())
    context = f"dataset `{message.dataset}` · owner {message.owner or 'unowned'}"
    context += f" · run {message.run_id or '-'} · {message.time.isoformat()}Z"
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": text}},
    ]
    if facts:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": facts}})
    if message.status == "firing":
        fix = f"*Fix:* `{message.fix}`"
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": fix}})
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": context}]})
    return {"text": text, "blocks": blocks}


def send_webhook(channel: WebhookAlert, message: Message) -> None:
    payload = slack_payload(message) if channel.format == "slack" else json_payload(message)
    request = urllib.request.Request(
        channel.url,
        data=json.dumps(payload, default=str).encode(),
        headers={"Content-Type": "application/json", **channel.headers},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=channel.timeout_seconds) as response:
            response.read()
    except urllib.error.HTTPError as exc:
        raise ChannelError(
            f"webhook answered HTTP {exc.code} {exc.reason}",
            where=channel_id(channel),
            hint="check the URL and the receiver; the alert is sent again on the next check",
        ) from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ChannelError(
            f"webhook unreachable: {reason}",
            where=channel_id(channel),
            hint="check the URL and that the receiver is up; the alert is sent again "
            "on the next check",
        ) from None


def email_text(message: Message) -> tuple[str, str]:
    """The subject and plain-text body of an alert email."""
    subject = f"[assay] {message.title}"
    lines = [
        message.summary,
        "",
        f"dataset: {message.dataset}",
        f"owner:   {message.owner or 'unowned'}",
        f"event:   {message.event} ({message.status})",
        f"run:     {message.run_id or '-'}",
        f"time:    {message.time.isoformat()}Z",
    ]
    if message.details:
        lines += ["", *(f"{k}: {_short(v)}" for k, v in message.details.items())]
    if message.status == "firing":
        lines += ["", "To fix:", f"    {message.fix}"]
    return subject, "\n".join(lines) + "\n"


def send_email(channel: EmailAlert, message: Message) -> None:
    smtp = channel.smtp
    subject, body = email_text(message)
    email = EmailMessage()
    email["Subject"], email["From"], email["To"] = subject, channel.sender, ", ".join(channel.to)
    email.set_content(body)
    where = f"{channel_id(channel)} via {smtp.host}:{smtp.port}"
    password = _password(channel, where)
    try:
        # Verified TLS: smtplib's own default context does not check the certificate.
        context = ssl.create_default_context(cafile=smtp.ca_file)
        client: smtplib.SMTP
        if smtp.ssl:
            client = smtplib.SMTP_SSL(
                smtp.host, smtp.port, timeout=smtp.timeout_seconds, context=context
            )
        else:
            client = smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout_seconds)
        with client:
            if smtp.starttls and not smtp.ssl:
                client.starttls(context=context)
            if smtp.username:
                client.login(smtp.username, password or "")
            client.send_message(email)
    except (smtplib.SMTPException, OSError) as exc:
        raise ChannelError(
            f"email not sent: {exc}",
            where=where,
            hint="check the smtp settings under alerts: in assay.yaml; the alert is sent "
            "again on the next check",
        ) from None


def _password(channel: EmailAlert, where: str) -> str | None:
    name = channel.smtp.password_env
    if name is None:
        return None
    if name not in os.environ:
        raise ChannelError(
            f"the SMTP password variable {name} is not set",
            where=where,
            hint=f"export {name}=... in the environment that runs assay",
        )
    return os.environ[name]


def send_log(message: Message) -> None:
    # Resolves at the same level as firings: the terminal shows warnings, and the person
    # who saw `[FIRING]` should see it clear.
    log.log(
        logging.WARNING,
        "%s (dataset %s, owner %s; fix: %s)",
        message.title,
        message.dataset,
        message.owner or "unowned",
        message.fix,
    )


def _short(value: Any, limit: int = 500) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"
