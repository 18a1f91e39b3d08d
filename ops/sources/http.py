"""An HTTP health endpoint (the API's, or a named check's such as the frontend's): up
when it answers 2xx within the timeout.

Plain urllib, no extra dependency. Only the first 64 KiB of a body are read, so a
runaway endpoint cannot make the collector buffer it. When the body is JSON, its
version and status (the seed's `/health/detailed` shape included) go to `info`.
"""

from __future__ import annotations

import base64
import json
import time
import urllib.request
from http.client import HTTPException
from typing import Any
from urllib.error import HTTPError
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

from ops.catalogue import HTTP_FIELDS
from ops.redaction import MASK, redact, remember_url
from ops.sources.base import PROBE_TIMEOUT_SECONDS, Reading, elapsed_ms

MAX_BODY_BYTES = 64 * 1024

FIELDS = HTTP_FIELDS  # declared in ops.catalogue, where every reader finds them


def safe_url(url: str) -> str:
    """The URL without user info, with query values and token path segments (a bot's)
    masked: fit to show and store."""
    parts = urlsplit(url)
    netloc = parts.netloc.rpartition("@")[2]
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    query = urlencode([(key, MASK) for key, _ in pairs], safe="*")
    return redact(urlunsplit((parts.scheme, netloc, parts.path, query, "")))


def _request(url: str) -> urllib.request.Request:
    """A reusable request; user info in the URL becomes a Basic Authorization header."""
    parts = urlsplit(url)
    headers = {"Accept": "application/json", "User-Agent": "ops-dashboard"}
    plain = parts._replace(netloc=parts.netloc.rpartition("@")[2], fragment="")
    request = urllib.request.Request(urlunsplit(plain), headers=headers, method="GET")
    if parts.username is not None:
        pair = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
        # Unredirected: a redirect to another host must not receive the credentials.
        token = base64.b64encode(pair.encode()).decode()
        request.add_unredirected_header("Authorization", f"Basic {token}")
    return request


def body_info(body: bytes) -> dict[str, Any]:
    """version, status and uptime from a JSON object body; nothing from anything else."""
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):  # not JSON, or nested beyond the parser's depth
        return {}
    if not isinstance(document, dict):
        return {}
    services = document.get("services")
    api = services.get("api") if isinstance(services, dict) else None
    nested = api.get("version") if isinstance(api, dict) else None
    version = document.get("version", nested)
    info: dict[str, Any] = {}
    if isinstance(version, (str, int, float)):
        info["version"] = str(version)
    if isinstance(document.get("status"), str):
        info["status"] = document["status"]
    uptime = _uptime_seconds(document.get("uptime"))
    if uptime is not None:
        info["uptime_s"] = uptime
    return info


def _uptime_seconds(value: Any) -> float | None:
    """`uptime` as seconds, or the seed's `{"seconds": 75, "formatted": "1m 15s"}`."""
    if isinstance(value, dict):
        value = value.get("seconds")
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0:
        return float(value)
    return None


class HttpSource:
    """GET one URL per probe; non-2xx is down with "HTTP <code>" and the code kept."""

    fields = FIELDS

    def __init__(self, url: str, name: str = "api") -> None:
        self.name = name
        self.url = safe_url(url)
        remember_url(url)  # error texts are cleaned of its secrets (Reading)
        self._request = _request(url)
        self._opener = urllib.request.build_opener()

    def probe(self) -> Reading:
        started = time.perf_counter()
        try:
            with self._opener.open(self._request, timeout=PROBE_TIMEOUT_SECONDS) as response:
                code, body = response.status, response.read(MAX_BODY_BYTES)
        except HTTPError as err:
            return self._refused(err, started)
        except (OSError, HTTPException, ValueError) as err:
            return Reading.down(self.name, err, elapsed_ms(started))
        took = elapsed_ms(started)
        return Reading(
            self.name,
            True,
            values={"latency_ms": took, "status_code": code},
            info={"url": self.url} | body_info(body),
            took_ms=took,
        )

    def close(self) -> None:
        """Nothing to release: urllib opens one connection per request."""

    def _refused(self, err: HTTPError, started: float) -> Reading:
        """A non-2xx answer: down, but with its code, latency and the body's status."""
        try:
            body = err.read(MAX_BODY_BYTES)
        except (OSError, HTTPException):
            body = b""
        finally:
            err.close()
        took = elapsed_ms(started)
        return Reading(
            self.name,
            False,
            error=f"HTTP {err.code}",
            values={"latency_ms": took, "status_code": err.code},
            info={"url": self.url} | body_info(body),
            took_ms=took,
        )
