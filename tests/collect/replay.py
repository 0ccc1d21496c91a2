"""A workspace that answers recorded bodies: the real SDK client and the real collectors over a replaying transport.

For platform fixtures (tests/fixtures/platform): the body is what public code recorded from, or modelled on, a
real workspace; everything from the HTTP response up (the SDK's error mapping, `RestClient`, the collector's
parsing) is the product's real code.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

import requests
from databricks.sdk import WorkspaceClient
from databricks.sdk.core import Config
from requests.adapters import BaseAdapter

from auditor.collect.clients import RestClient

Answer = tuple[int, Any]
NOT_FOUND: Answer = (404, {"error_code": "NOT_FOUND", "message": "not recorded"})


class ReplayAdapter(BaseAdapter):
    """Answers each request path with its recorded (status, JSON body); unrecorded paths answer 404."""

    def __init__(self, answers: dict[str, Answer]) -> None:
        super().__init__()
        self.answers = answers
        self.paths: list[str] = []

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        path = urlsplit(request.url or "").path
        self.paths.append(path)
        status, body = self.answers.get(path, NOT_FOUND)
        response = requests.Response()
        response.status_code = status
        response._content = json.dumps(body).encode()
        response.headers["Content-Type"] = "application/json"
        response.url = request.url or ""
        response.request = request
        return response

    def close(self) -> None:
        pass


def replay_client(answers: dict[str, Answer]) -> RestClient:
    """A `RestClient` over the real SDK whose transport replays ``answers``."""
    config = Config(
        host="https://replay.invalid",
        token="replay",
        auth_type="pat",
        http_adapter=ReplayAdapter(answers),
        retry_timeout_seconds=1,
    )
    return RestClient(WorkspaceClient(config=config))
