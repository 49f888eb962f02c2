"""Alert channels against real receivers on loopback: an HTTP server for webhooks (JSON and
Slack's payload) and an SMTP server (aiosmtpd) for email."""

from __future__ import annotations

import json
import ssl
import subprocess
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from assay.config import EmailAlert, WebhookAlert
from assay.orchestration.channels import ChannelError, Message, send
from tests.orchestration.receivers import (  # noqa: F401 - fixtures
    Mailbox,
    Webhook,
    dead_url,
    free_port,
    smtp_receiver,
    webhook_receiver,
)

# -- messages -------------------------------------------------------------------------------

AT = datetime(2026, 1, 4, 7, 30)


def failure(status: str = "firing") -> Message:
    return Message(
        event="failure",
        status=status,
        dataset="silver.orders",
        owner="data-team@example.com",
        summary="silver.orders failed: Binder Error: column x not found",
        details={"error": "Binder Error: column x not found", "rows_in": 0},
        fix="assay run --select silver.orders",
        run_id="abc123",
        time=AT,
    )


def test_json_webhook_posts_every_field(webhook: Webhook) -> None:
    channel = WebhookAlert(type="webhook", url=webhook.url, headers={"X-Token": "t0k"})

    send(channel, failure())

    (request,) = webhook.requests
    assert request["path"] == "/hook"
    assert request["headers"]["Content-Type"] == "application/json"
    assert request["headers"]["X-Token"] == "t0k"
    assert request["body"] == {
        "event": "failure",
        "status": "firing",
        "dataset": "silver.orders",
        "owner": "data-team@example.com",
        "summary": "silver.orders failed: Binder Error: column x not found",
        "details": {"error": "Binder Error: column x not found", "rows_in": 0},
        "fix": "assay run --select silver.orders",
        "run_id": "abc123",
        "time": "2026-01-04T07:30:00Z",
    }


def test_slack_webhook_posts_text_and_blocks(webhook: Webhook) -> None:
    channel = WebhookAlert(type="webhook", url=webhook.url, format="slack")

    send(channel, failure())
    send(channel, failure("resolved"))

    firing, resolved = webhook.bodies
    title = (
        ":rotating_light: [FIRING] failure: silver.orders failed: Binder Error: column x not found"
    )
    assert firing == {
        "text": title,
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": title}},
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": "*error*: Binder Error: column x not found\n*rows_in*: 0",
                },
            },
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": "*Fix:* `assay run --select silver.orders`"},
            },
            {
                "type": "context",
                "elements": [
                    {
                        "type": "mrkdwn",
                        "text": "dataset `silver.orders` · owner data-team@example.com"
                        " · run abc123 · 2026-01-04T07:30:00Z",
                    }
                ],
            },
        ],
    }
    assert resolved["text"].startswith(":white_check_mark: [RESOLVED] failure:")
    assert all("Fix:" not in json.dumps(block) for block in resolved["blocks"])


def test_email_has_subject_body_and_recipients(smtp_server: Mailbox) -> None:
    channel = EmailAlert.model_validate(
        {
            "type": "email",
            "to": ["oncall@example.com", "owner@example.com"],
            "from": "assay@example.com",
            "smtp": {"host": "127.0.0.1", "port": smtp_server.port},
        }
    )

    send(channel, failure())

    ((sender, recipients, mail),) = smtp_server.mails
    assert sender == "assay@example.com"
    assert recipients == ["oncall@example.com", "owner@example.com"]
    assert mail["Subject"] == (
        "[assay] [FIRING] failure: silver.orders failed: Binder Error: column x not found"
    )
    assert mail["To"] == "oncall@example.com, owner@example.com"
    body = mail.get_content()
    assert body.splitlines() == [
        "silver.orders failed: Binder Error: column x not found",
        "",
        "dataset: silver.orders",
        "owner:   data-team@example.com",
        "event:   failure (firing)",
        "run:     abc123",
        "time:    2026-01-04T07:30:00Z",
        "",
        "error: Binder Error: column x not found",
        "rows_in: 0",
        "",
        "To fix:",
        "    assay run --select silver.orders",
    ]


def test_email_logs_in_with_the_password_from_the_environment(
    smtp_server: Mailbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = {"host": "127.0.0.1", "port": smtp_server.port, "username": "alerts"}
    channel = EmailAlert.model_validate(
        {"type": "email", "to": ["a@example.com"], "smtp": {**settings, "password_env": "PW"}}
    )
    monkeypatch.setenv("PW", "s3cret")

    send(channel, failure())

    assert smtp_server.logins == [("alerts", "s3cret")] and len(smtp_server.mails) == 1
    monkeypatch.setenv("PW", "wrong")
    with pytest.raises(ChannelError, match=r"email:a@example.com via 127.0.0.1.*email not sent"):
        send(channel, failure())
    monkeypatch.delenv("PW")
    with pytest.raises(ChannelError, match="the SMTP password variable PW is not set"):
        send(channel, failure())
    assert len(smtp_server.mails) == 1


def test_a_webhook_answering_500_is_a_channel_error_naming_it(webhook: Webhook) -> None:
    webhook.status = 500
    channel = WebhookAlert(type="webhook", url=webhook.url)

    with pytest.raises(ChannelError) as caught:
        send(channel, failure())

    assert caught.value.where == f"webhook:{webhook.url}"
    assert "HTTP 500" in caught.value.message


def test_an_unreachable_webhook_is_a_channel_error_naming_it() -> None:
    url = dead_url()
    with pytest.raises(ChannelError, match=f"webhook:{url}: webhook unreachable"):
        send(WebhookAlert(type="webhook", url=url, timeout_seconds=5), failure())


def test_an_unreachable_smtp_server_is_a_channel_error() -> None:
    port = free_port()
    channel = EmailAlert.model_validate(
        {"type": "email", "to": ["a@example.com"], "smtp": {"host": "127.0.0.1", "port": port}}
    )
    with pytest.raises(ChannelError, match=f"via 127.0.0.1:{port}: email not sent"):
        send(channel, failure())


# -- TLS: STARTTLS and SMTPS against a certificate the test's own CA file trusts ------------


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (openssl) and its key."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    return cert, key


def tls_server(cert: Path, key: Path, implicit: bool) -> tuple[Any, Mailbox]:
    from aiosmtpd.controller import Controller

    box = Mailbox(free_port())
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            # STARTTLS records it on the session; SMTPS is TLS from the socket up.
            tls = (
                session.ssl is not None or server.transport.get_extra_info("sslcontext") is not None
            )
            box.mails.append((envelope.mail_from, list(envelope.rcpt_tos), tls))  # type: ignore[arg-type]
            return "250 OK"

    options: dict[str, Any] = (
        {"ssl_context": context} if implicit else {"tls_context": context, "require_starttls": True}
    )
    controller = Controller(Handler(), hostname="127.0.0.1", port=box.port, **options)
    controller.start()
    return controller, box


@pytest.mark.parametrize("implicit", [False, True], ids=["starttls", "smtps"])
def test_email_over_verified_tls(certificate: tuple[Path, Path], implicit: bool) -> None:
    cert, key = certificate
    controller, box = tls_server(cert, key, implicit)
    try:
        tls = {"ssl": True} if implicit else {"starttls": True}
        smtp = {"host": "127.0.0.1", "port": box.port, **tls}
        trusted = EmailAlert.model_validate(
            {"type": "email", "to": ["a@example.com"], "smtp": {**smtp, "ca_file": str(cert)}}
        )
        send(trusted, failure())
        assert [(to, over_tls) for _, to, over_tls in box.mails] == [(["a@example.com"], True)]

        # Without the CA file the self-signed certificate is refused: nothing is sent.
        untrusted = EmailAlert.model_validate(
            {"type": "email", "to": ["a@example.com"], "smtp": smtp}
        )
        with pytest.raises(ChannelError, match="CERTIFICATE_VERIFY_FAILED"):
            send(untrusted, failure())
        assert len(box.mails) == 1
    finally:
        controller.stop()
