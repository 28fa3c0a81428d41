"""The HTML page: one template with the style, the script, the chart library and the data inlined.

Nothing is fetched when the page opens: no CDN, no font, no image. The data travels as JSON in a
``<script type="application/json">`` block with ``<`` escaped, so no value (a reject's raw line, a
path) can close the block or inject markup; the script inserts text with ``textContent`` only.
"""

from __future__ import annotations

import html
import re
from decimal import Decimal
from functools import cache
from importlib import resources
from typing import Any

import orjson

_MARKER = re.compile(r"/\*(?:STYLE|LIBRARY|NOTICE|SCRIPT|DATA)\*/")
LIBRARY = "vendor/lightweight-charts/lightweight-charts.standalone.production.js"


@cache
def asset(name: str) -> str:
    return resources.files("obsdb.report").joinpath(f"assets/{name}").read_text(encoding="utf-8")


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    raise TypeError(f"cannot encode {type(value).__name__}")


def _script_safe(text: str) -> str:
    """JS/JSON text that cannot end the surrounding <script> element."""
    return text.replace("</", "<\\/").replace("<!--", "<\\!--")


def render(payload: dict[str, Any]) -> bytes:
    data = orjson.dumps(payload, default=_default).decode().replace("<", "\\u003c")
    page = asset("report.html")
    parts = {
        "/*STYLE*/": asset("report.css"),
        "/*LIBRARY*/": _script_safe(asset(LIBRARY)),
        "/*NOTICE*/": html.escape(asset("vendor/lightweight-charts/NOTICE").strip()),
        "/*SCRIPT*/": _script_safe(asset("report.js")),
        "/*DATA*/": data,
    }
    # one pass over the template only: inserted text is never searched for markers again
    return _MARKER.sub(lambda m: parts[m.group(0)], page).encode("utf-8")
