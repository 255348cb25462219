"""The log, for development: what would have been sent, with the recipient masked.

Logs are kept at least six months (Cybersecurity Law art. 21), so only what an external
channel could carry is written: kind, masked recipient, neutral summary, link. Never the body.
"""

from __future__ import annotations

import logging

from carepath.channels.base import Clock, Message, Receipt, mask_recipient, utc_now

logger = logging.getLogger("carepath.channels.console")


class ConsoleChannel:
    name = "console"
    external = False

    def __init__(self, *, clock: Clock = utc_now) -> None:
        self._clock = clock

    def send(self, message: Message) -> Receipt:
        logger.info(
            "%s to %s: %s %s",
            message.kind,
            mask_recipient(message.recipient),
            message.summary,
            message.link or "",
        )
        return Receipt(self.name, f"console-{message.client_msg_id}", self._clock(), "logged")
