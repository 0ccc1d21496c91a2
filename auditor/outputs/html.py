"""The security-review report as one self-contained HTML page (Jinja2, autoescaped).

Self-contained: the styles are inline, there is no script, font or image, and the only URLs are plain links
to the setup documents a reader may click; the page works offline. Every value reaches the page through
Jinja2's autoescaping; names are also made visible (`escape_controls`) so nothing invisible reorders them.
"""

from __future__ import annotations

import json
import re
from functools import cache
from typing import TYPE_CHECKING, Any

from auditor.outputs.formats import clip, escape_controls, register_record_format
from auditor.outputs.review import AuditRecord, review

if TYPE_CHECKING:
    from jinja2 import Environment

_SAFE_URL = re.compile(r"https://[A-Za-z0-9._~:/?#@!$&'()*+,;=%-]+")
MAX_ITEMS = 200  # evidence lines or statements one finding shows; the json and plan formats keep everything


def _visible(value: object) -> str:
    """A name or message: bounded, nothing invisible (autoescaping then makes it inert)."""
    return escape_controls(clip(str(value)))


def _line(value: object) -> str:
    """A statement for a code block: bounded, control characters visible."""
    return escape_controls(clip(str(value), 20_000))


def _safe_url(value: str | None) -> str | None:
    """Only a plain https URL becomes a link."""
    return value if value and _SAFE_URL.fullmatch(value) else None


@cache
def _environment() -> Environment:
    from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape  # only when rendering HTML

    env = Environment(
        loader=PackageLoader("auditor.outputs", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["v"] = _visible
    env.filters["line"] = _line
    env.filters["url"] = _safe_url
    env.filters["pretty_json"] = lambda value: json.dumps(value, indent=2, ensure_ascii=True)
    return env


@register_record_format("html")
def html(record: AuditRecord) -> str:
    context: dict[str, Any] = {"r": review(record), "max_items": MAX_ITEMS}
    return _environment().get_template("report.html.j2").render(context) + "\n"
