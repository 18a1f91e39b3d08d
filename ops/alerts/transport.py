"""One attempt at one message on one channel, through Apprise.

Apprise speaks 100+ services behind one URL syntax; it returns only whether a message
went through and logs why not. Its lines for this thread are collected
(ops.channel_urls.apprise_said) and the reason becomes the attempt's one-line error,
cleaned of every secret the process knows (the channel's URL parts included).
"""

from __future__ import annotations

import re

from ops.alerts.channels import Channel
from ops.alerts.messages import Message
from ops.channel_urls import apprise_said
from ops.redaction import clean

ERROR_MAX = 300
_ERRNO = re.compile(r"\[Errno -?\d+\] [^\"'()]+|Read timed out|timed out")
CONNECT_TIMEOUT_S = 5.0
READ_TIMEOUT_S = 10.0


class DeliveryError(Exception):
    """A message did not go through; the text is one line with no secret in it."""


class ChannelNotConfiguredError(DeliveryError):
    """The message's channel is not configured (any more): trying again cannot help."""


def _reason(said: list[str]) -> str:
    """Apprise's words for the failure: its last warning or error, and the exception
    it logged beside it (at debug level) when there is one."""
    warned = [line.split(" ", 1)[1] for line in said if line.startswith(("WARNING", "ERROR"))]
    raised = [line.split(" ", 1)[1] for line in said
              if line.startswith("DEBUG") and "Exception:" in line]
    parts = [text.rstrip(". ") for text in warned[-1:]]
    parts += [_root(text.split("Exception:", 1)[1].strip()) for text in raised[-1:]]
    return clean(": ".join(parts) or "Apprise gave no reason", ERROR_MAX)


def _root(error: str) -> str:
    """The OS's words inside a requests/urllib3 error (`[Errno 111] Connection refused`)
    rather than its pool and adapter wrapping."""
    found = _ERRNO.search(error)
    return found[0].strip() if found else error


def send(channel: Channel, message: Message) -> None:
    """Send `message` on `channel`; raises DeliveryError when it does not go through."""
    import apprise  # here, not at start: see ops.channel_urls

    with apprise_said() as said:
        plugin = apprise.Apprise.instantiate(channel.url.reveal(), suppress_exceptions=True)
        if plugin is None:
            raise ChannelNotConfiguredError(f"{channel.shown}: Apprise cannot use this URL "
                                            f"any more: {_reason(said)}")
        plugin.socket_connect_timeout = CONNECT_TIMEOUT_S
        plugin.socket_read_timeout = READ_TIMEOUT_S
        try:
            sent = plugin.notify(body=message.body, title=message.title,
                                 notify_type=apprise.NotifyType(message.kind),
                                 body_format=apprise.NotifyFormat.TEXT)
        except Exception as error:  # noqa: BLE001 - a plugin's bug is this attempt's error
            raise DeliveryError(clean(f"{channel.shown}: {error!r}", ERROR_MAX)) from None
    if not sent:
        raise DeliveryError(f"{channel.shown}: {_reason(said)}")
