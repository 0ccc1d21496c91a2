"""Logging: JSON off a TTY, console on one, and no secret ever reaches the output."""

from __future__ import annotations

import io
import json
import logging
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import structlog
from databricks.sdk import WorkspaceClient
from pydantic import SecretStr

from auditor.log import (
    LIBRARY_LOGGERS as TURNED_UP_AT_DEBUG,
)
from auditor.log import (
    REDACTED,
    configure_logging,
    redact_text,
    register_secret,
    register_secrets_from,
)
from auditor.settings import Settings

# A PAT-shaped canary (caught by pattern even unregistered) and an opaque one only registration catches.
PAT_CANARY = "dapi" + "c0ffee" * 5 + "42"
OPAQUE_CANARY = "opaque-canary-5f4e3d2c1b0a"
CLIENT_SECRET_CANARY = "client-secret-canary-77aa88bb"
LIBRARY_LOGGERS = ("databricks", "urllib3")


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    saved_handlers, saved_level = list(root.handlers), root.level
    saved_levels = {name: logging.getLogger(name).level for name in ("auditor", *LIBRARY_LOGGERS, *TURNED_UP_AT_DEBUG)}
    saved_structlog = structlog.get_config()
    yield
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in saved_handlers:
        root.addHandler(handler)
    root.setLevel(saved_level)
    for name, level in saved_levels.items():
        logging.getLogger(name).setLevel(level)
    structlog.configure(**saved_structlog)


@pytest.fixture
def output() -> io.StringIO:
    register_secret(OPAQUE_CANARY)
    register_secret(SecretStr(CLIENT_SECRET_CANARY))
    return io.StringIO()


def json_lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def assert_no_canary(text: str) -> None:
    for canary in (PAT_CANARY, OPAQUE_CANARY, CLIENT_SECRET_CANARY):
        assert canary not in text


def test_structlog_events_are_json_lines_without_secrets(output: io.StringIO) -> None:
    configure_logging(json=True, stream=output)
    log = structlog.get_logger("auditor.test")

    log.info(
        "connecting",
        target="prod",
        token=PAT_CANARY,
        token_id="tok-1",
        client_secret="not-registered-but-a-secret-key",
        headers={"Authorization": f"Bearer {OPAQUE_CANARY}", "User-Agent": "grants-auditor"},
        note=f"retrying with {OPAQUE_CANARY} and {PAT_CANARY}",
        settings=[SecretStr(CLIENT_SECRET_CANARY)],
    )

    (line,) = json_lines(output)
    assert_no_canary(output.getvalue())
    assert "not-registered-but-a-secret-key" not in output.getvalue()
    assert line["event"] == "connecting" and line["level"] == "info" and line["logger"] == "auditor.test"
    assert line["token"] == REDACTED and line["client_secret"] == REDACTED
    assert line["token_id"] == "tok-1" and line["target"] == "prod"
    assert line["headers"] == {"Authorization": REDACTED, "User-Agent": "grants-auditor"}
    assert line["note"] == f"retrying with {REDACTED} and {REDACTED}"


def test_exceptions_are_redacted_and_never_show_locals(output: io.StringIO) -> None:
    configure_logging(json=True, stream=output)
    log = structlog.get_logger("auditor.test")

    def connect(token: str) -> None:
        raise ConnectionError(f"401 for token {token}")

    try:
        connect(OPAQUE_CANARY)
    except ConnectionError:
        log.exception("collection failed")

    (line,) = json_lines(output)
    assert_no_canary(output.getvalue())
    (exception,) = line["exception"]
    assert exception["exc_type"] == "ConnectionError"
    assert exception["exc_value"] == f"401 for token {REDACTED}"
    assert all("locals" not in frame for frame in exception["frames"])


def test_console_output_on_a_tty_is_readable_and_redacted(output: io.StringIO) -> None:
    class FakeTty(io.StringIO):
        def isatty(self) -> bool:
            return True

    tty = FakeTty()
    configure_logging(stream=tty)  # json=None: a TTY gets the console renderer
    log = structlog.get_logger("auditor.test")

    log.warning("auth failed", password=OPAQUE_CANARY, detail=f"Authorization: Bearer {PAT_CANARY}")
    try:
        raise ValueError(CLIENT_SECRET_CANARY)
    except ValueError:
        log.exception("boom")

    text = tty.getvalue()
    assert_no_canary(text)
    assert "auth failed" in text and "Traceback" in text
    with pytest.raises(json.JSONDecodeError):
        json.loads(text.splitlines()[0])


def test_json_is_the_default_off_a_tty(output: io.StringIO) -> None:
    configure_logging(stream=output)

    structlog.get_logger("auditor.test").info("hello")

    assert json_lines(output)[0]["event"] == "hello"


def test_library_logs_are_filtered_at_warning_and_redacted(output: io.StringIO) -> None:
    configure_logging(json=True, level="INFO", stream=output)
    library = logging.getLogger("botocore.endpoint")

    library.info("request sent with %s", PAT_CANARY)  # below WARNING: dropped
    library.warning("retrying, x-databricks-token=%s", OPAQUE_CANARY)
    structlog.get_logger("auditor.collect").info("own info line")
    structlog.get_logger("auditor.collect").debug("own debug line")  # below INFO: dropped

    lines = json_lines(output)
    assert_no_canary(output.getvalue())
    assert [(line["logger"], line["level"]) for line in lines] == [
        ("botocore.endpoint", "warning"),
        ("auditor.collect", "info"),
    ]
    assert lines[0]["event"] == f"retrying, x-databricks-token={REDACTED}"


@pytest.mark.parametrize("library", TURNED_UP_AT_DEBUG)
def test_debug_turns_the_libraries_up_and_still_redacts_them(output: io.StringIO, library: str) -> None:
    logging.getLogger(library).setLevel(logging.ERROR)  # a library that quietened itself is turned up all the same
    configure_logging(json=True, level="DEBUG", stream=output)
    child = logging.getLogger(f"{library}.transport")

    child.debug("sending Authorization: Bearer %s", OPAQUE_CANARY)
    child.debug("headers %s", {"Authorization": f"Bearer {PAT_CANARY}", "X-Token": CLIENT_SECRET_CANARY})

    lines = json_lines(output)
    assert_no_canary(output.getvalue())
    assert [(line["logger"], line["level"]) for line in lines] == [(f"{library}.transport", "debug")] * 2
    assert lines[0]["event"] == f"sending Authorization: Bearer {REDACTED}"


def test_leaving_debug_turns_the_libraries_back_down(output: io.StringIO) -> None:
    configure_logging(json=True, level="DEBUG", stream=io.StringIO())
    configure_logging(json=True, level="INFO", stream=output)

    logging.getLogger("urllib3.connectionpool").debug("dropped")
    logging.getLogger("databricks.sdk").info("dropped too")

    assert output.getvalue() == ""


def test_reconfiguring_replaces_the_handler(output: io.StringIO) -> None:
    configure_logging(json=True, stream=io.StringIO())
    configure_logging(json=True, stream=output)

    structlog.get_logger("auditor.test").info("once")

    assert [line["event"] for line in json_lines(output)] == ["once"]
    assert len(logging.getLogger().handlers) == 1


def test_redact_text_patterns() -> None:
    assert redact_text("Authorization: Bearer abc.def-ghi") == f"Authorization: {REDACTED}"
    assert redact_text("curl -H 'Authorization: Basic dXNlcjpwYXNz'") == f"curl -H 'Authorization: {REDACTED}'"
    assert redact_text(f"pat {PAT_CANARY}-2 end") == f"pat {REDACTED} end"
    assert redact_text("oauth secret dose0123456789abcdef0123") == f"oauth secret {REDACTED}"
    assert redact_text("?client_secret=s3cr3t&scope=all-apis") == f"?client_secret={REDACTED}&scope=all-apis"
    assert redact_text('{"access_token": "eyJhbGciOi"}') == f'{{"access_token": "{REDACTED}"}}'
    assert redact_text("token_id=1234 tokens: 3") == "token_id=1234 tokens: 3"
    assert redact_text(f"already {REDACTED}, token={REDACTED}") == f"already {REDACTED}, token={REDACTED}"


def test_every_secret_of_the_config_can_be_registered(output: io.StringIO) -> None:
    pat, aws_secret = "config-pat-canary-0a1b2c3d", "aws-secret-canary-9z8y7x"
    settings = Settings.model_validate(
        {
            "targets": [
                {
                    "name": "prod",
                    "databricks": {"host": "dbc.example", "auth": {"type": "pat", "token": pat}},
                    "aws": {"access_key_id": "AKIDEXAMPLE", "secret_access_key": aws_secret},
                    "integrations": [{"pack": "reverse-etl-source"}],
                }
            ]
        }
    )
    configure_logging(json=True, stream=output)

    assert register_secrets_from(settings) == 2
    structlog.get_logger("auditor.daemon").warning("odd", detail=f"{pat} / {aws_secret}")

    assert json_lines(output)[0]["detail"] == f"{REDACTED} / {REDACTED}"


def test_short_registered_values_are_ignored() -> None:
    register_secret("abc")
    register_secret(None)

    assert redact_text("abc is a word") == "abc is a word"


# ---- a real client library at DEBUG -------------------------------------------------------------


class _EchoingWorkspace(BaseHTTPRequestHandler):
    """A misbehaving workspace: answers SCIM Me by echoing the caller's credentials back."""

    def do_GET(self) -> None:
        authorization = self.headers.get("Authorization", "")
        body = json.dumps(
            {
                "id": "42",
                "userName": "auditor@customer.example",
                "displayName": OPAQUE_CANARY,
                "echo": authorization,
                "raw": authorization.removeprefix("Bearer "),
            }
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def workspace_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _EchoingWorkspace)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


def test_databricks_sdk_and_urllib3_debug_logs_never_show_the_token(output: io.StringIO, workspace_url: str) -> None:
    configure_logging(json=True, level="DEBUG", stream=output)  # --log-level DEBUG turns the libraries up
    client = WorkspaceClient(host=workspace_url, token=PAT_CANARY, debug_headers=True, debug_truncate_bytes=10**6)

    me = client.current_user.me()

    text = output.getvalue()
    assert me.display_name == OPAQUE_CANARY  # the canaries really went through the libraries
    assert "/api/2.0/preview/scim/v2/Me" in text
    assert {line["logger"].split(".")[0] for line in json_lines(output)} >= {"databricks", "urllib3"}
    assert_no_canary(text)
    assert REDACTED in text
