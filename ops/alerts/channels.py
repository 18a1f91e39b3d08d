"""The channels alerts are sent on, from the settings: each an Apprise URL.

`ALERT_URLS` gives any number; `ALERT_WEBHOOK_URL` (in `ALERT_WEBHOOK_FORMAT`) and the
`SMTP_*` settings of earlier versions are translated (ops.channel_urls) and keep their
channel names, `webhook` and `email`, so messages they queued before an upgrade are still
sent. An `ALERT_URLS` channel is named by its scheme and a short hash of its URL: the
name stays the same across restarts and reorderings, and says nothing secret.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from ops import channel_urls
from ops.config import Secret, Settings


@dataclass(frozen=True)
class Channel:
    name: str  # the outbox's channel column
    url: Secret  # the Apprise URL; reveal() only to send
    shown: str  # scheme, host and port: what a page or a log may show
    origin: str  # the setting it comes from

    def __str__(self) -> str:
        return f"{self.name} ({self.shown})"


def _named(url: str) -> str:
    scheme = url.partition("://")[0].lower()
    scheme = "".join(ch for ch in scheme if ch.isalnum())[:12] or "url"
    return f"{scheme}-{hashlib.sha256(url.encode()).hexdigest()[:8]}"


def _channel(name: str, url: str, origin: str) -> Channel:
    shown = channel_urls.shown(url)
    return Channel(name, Secret(url, shown=shown), shown, origin)


def channels(settings: Settings) -> list[Channel]:
    """Every configured channel, the older settings' first."""
    found = []
    if settings.alert_webhook_url is not None:
        url = channel_urls.webhook_url(settings.alert_webhook_url.reveal(),
                                       settings.alert_webhook_format)
        found.append(_channel("webhook", url, "ALERT_WEBHOOK_URL"))
    if settings.smtp_host and settings.alert_email_from and settings.alert_email_to:
        url = channel_urls.mail_url(
            settings.smtp_host, settings.smtp_port,
            settings.smtp_user.reveal() if settings.smtp_user else None,
            settings.smtp_password.reveal() if settings.smtp_password else None,
            settings.smtp_starttls, settings.alert_email_from, settings.alert_email_to)
        found.append(_channel("email", url, "SMTP_HOST"))
    seen = {channel.name for channel in found}
    for secret in settings.alert_urls or []:
        name = _named(secret.reveal())
        if name not in seen:  # the same URL twice is one channel
            seen.add(name)
            found.append(_channel(name, secret.reveal(), "ALERT_URLS"))
    return found


def by_name(settings: Settings) -> dict[str, Channel]:
    return {channel.name: channel for channel in channels(settings)}
