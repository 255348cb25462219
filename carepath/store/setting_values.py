"""Parsers of hospital setting values: each takes what a person or a file gives (the CLI's text,
a YAML or JSON value, later a form field) and returns the typed value, or raises
``BadValue`` with a stable code and the place inside the value (``[2].phone``).

They are shared by ``hospital_settings.FIELDS`` (one parser per field) and by the YAML import,
so a value means the same wherever it comes from.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import time
from types import MappingProxyType
from typing import Any, TypeVar
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

T = TypeVar("T")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MAX_CAP = 20
MAX_ROSTER = 50
MAX_URL = 300
_CLOCK = re.compile(r"([01]?\d|2[0-3]):([0-5]\d)(?::([0-5]\d))?")
#: A phone number as staff write it: digits, an optional leading +, spaces, hyphens, brackets.
_PHONE = re.compile(r"\+?[0-9][0-9 ()\-]*[0-9]")
_TRUE = frozenset({"true", "yes", "on", "1"})
_FALSE = frozenset({"false", "no", "off", "0"})


class BadValue(ValueError):  # noqa: N818 - a value error with a code, raised and caught in one place
    """One refused value: ``code`` is stable, ``where`` the place inside it ("" for the whole)."""

    def __init__(self, code: str, message: str, where: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.where = where
        self.message = message


@dataclass(frozen=True)
class OnCall:
    """One entry of the on-call roster: a staff role, a name and a phone (staff contact data)."""

    role: str
    name: str
    phone: str

    def as_json(self) -> dict[str, str]:
        return {"role": self.role, "name": self.name, "phone": self.phone}


@dataclass(frozen=True)
class Hours:
    """A weekday's opening hours, local time, ``opens`` before ``closes``."""

    opens: time
    closes: time

    def __str__(self) -> str:
        return f"{clock_text(self.opens)}-{clock_text(self.closes)}"


def clock_text(value: time) -> str:
    return value.strftime("%H:%M:%S" if value.second else "%H:%M")


def text(value: object, *, limit: int, where: str = "") -> str:
    """A one-line text: no control characters, no lone surrogates, at most ``limit`` long."""
    if not isinstance(value, str):
        raise BadValue("bad-text", "must be text", where)
    value = value.strip()
    if any(unicodedata.category(c) in ("Cc", "Cs") for c in value):
        raise BadValue("bad-text", "control characters are not allowed", where)
    if len(value) > limit:
        raise BadValue("too-long", f"at most {limit} characters", where)
    return value


def paragraphs(value: object, *, limit: int = 2000) -> str:
    """A text of a few paragraphs for her pages (line breaks kept, no other control
    characters), at most ``limit`` long."""
    if not isinstance(value, str):
        raise BadValue("bad-text", "must be text")
    lines = [line.strip() for line in value.replace("\r\n", "\n").split("\n")]
    kept = "\n".join(lines).strip()
    if any(unicodedata.category(c) in ("Cc", "Cs") and c != "\n" for c in kept):
        raise BadValue("bad-text", "control characters are not allowed")
    if len(kept) > limit:
        raise BadValue("too-long", f"at most {limit} characters")
    return kept


def clock(value: object, where: str = "") -> time:
    """``HH:MM`` (24 hours; ``HH:MM:SS`` too, as channels files had it). A YAML ``9:00`` left
    unquoted arrives as the number 540: refused."""
    if isinstance(value, time):
        return value.replace(microsecond=0, tzinfo=None)
    found = _CLOCK.fullmatch(value.strip()) if isinstance(value, str) else None
    if found is None:
        hint = ' (quote it in YAML: "09:00")' if isinstance(value, int) else ""
        raise BadValue("bad-time", f"{value!r} is not a time of day HH:MM{hint}", where)
    hours, minutes, seconds = found.groups()
    return time(int(hours), int(minutes), int(seconds or 0))


def timezone(value: object) -> str:
    """An IANA time zone name (``Asia/Shanghai``)."""
    name = text(value, limit=64)
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise BadValue("bad-timezone", f"{name!r} is not an IANA time zone such as Asia/Shanghai") from None
    return name


def daily_cap(value: object) -> int:
    """External messages per pregnancy per local day: a whole number from 0 to ``MAX_CAP``."""
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_CAP:
        raise BadValue("bad-cap", f"must be a whole number from 0 to {MAX_CAP}, not {value!r}")
    return value


def boolean(value: object) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise BadValue("bad-boolean", f"must be true or false, not {value!r}")


def phone(value: object, where: str = "") -> str:
    """A hospital or staff phone number (``120``, ``0571-87654321``, ``+86 138 0000 0000``)."""
    number = text(value, limit=32, where=where)
    digits = sum(c.isdigit() for c in number)
    if not _PHONE.fullmatch(number) or not 3 <= digits <= 15:
        raise BadValue("bad-phone", f"{number!r} is not a phone number", where)
    return number


def optional(parser: Callable[[object], T]) -> Callable[[object], T | None]:
    """``parser``, with None or empty text meaning "not set"."""

    def parse(value: object) -> T | None:
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        return parser(value)

    parse.__doc__ = parser.__doc__
    return parse


#: Hosts whose plain-http base URL is accepted: this machine only.
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


def https_url(value: object) -> str:
    """The public base URL of her pages: ``https://host[:port][/path]`` (``http://`` only on
    the loopback), no user, query or fragment; kept without a trailing ``/``."""
    url = text(value, limit=MAX_URL)
    try:
        parts = urlsplit(url)
        _ = parts.port  # a port that is not a number raises here
    except ValueError:
        raise BadValue("bad-url", f"{url!r} is not a URL") from None
    # Plain http only on this machine's loopback (a local demo, `make run`): it never crosses
    # a network, and the demo's pushes then carry links that open.
    loopback = parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS
    if parts.scheme != "https" and not loopback:
        raise BadValue("not-https", "her pages are served over https: the URL starts with https://")
    if not parts.hostname or parts.username or parts.password or " " in url:
        raise BadValue("bad-url", f"{url!r} needs a host name and no user or password")
    if parts.query or parts.fragment:
        raise BadValue("bad-url", "a base URL has no ?query or #fragment")
    return url.rstrip("/")


def reader_url(value: object) -> str:
    """The local service of the desk PC's ID card reader (``http://127.0.0.1:port/path``): the
    desk page's script asks it for the card, so it is the desk PC's own address, plain http
    allowed (a browser treats the loopback as secure); no user, password or fragment."""
    url = text(value, limit=MAX_URL)
    try:
        parts = urlsplit(url)
        _ = parts.port  # a port that is not a number raises here
    except ValueError:
        raise BadValue("bad-url", f"{url!r} is not a URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise BadValue("bad-url", "the card reader's URL starts with http:// or https:// and names a host")
    if parts.username or parts.password or parts.fragment or " " in url:
        raise BadValue("bad-url", f"{url!r} has no user, password or #fragment")
    return url


def _structured(value: object, expected: type) -> Any:
    """A JSON text (as the CLI gives it) or the value itself (YAML, a form)."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise BadValue("bad-json", f"not JSON: {exc.msg} at character {exc.pos}") from None
    if not isinstance(value, expected):
        raise BadValue("bad-type", f"must be a JSON {'list' if expected is list else 'object'}")
    return value


def roster(value: object) -> tuple[OnCall, ...]:
    """The on-call roster: a list of ``{role, name, phone}``."""
    entries = _structured(value, list)
    if len(entries) > MAX_ROSTER:
        raise BadValue("too-long", f"at most {MAX_ROSTER} entries")
    found = []
    for index, entry in enumerate(entries):
        where = f"[{index}]"
        if not isinstance(entry, Mapping):
            raise BadValue("bad-roster", "each entry is {role, name, phone}", where)
        extra = sorted(set(entry) - {"role", "name", "phone"})
        if extra:
            message = f"unknown key {extra[0]!r}; an entry is {{role, name, phone}}"
            raise BadValue("bad-roster", message, where)
        for key in ("role", "name", "phone"):
            if not entry.get(key):
                raise BadValue("bad-roster", f"{key} is required", f"{where}.{key}")
        found.append(
            OnCall(
                role=text(entry["role"], limit=40, where=f"{where}.role"),
                name=text(entry["name"], limit=100, where=f"{where}.name"),
                phone=phone(entry["phone"], where=f"{where}.phone"),
            )
        )
    return tuple(found)


def hours(value: object) -> Mapping[str, Hours]:
    """Working hours: weekday (``mon`` … ``sun``) -> ``"08:00-17:30"`` or ``{opens, closes}``;
    a weekday left out is closed."""
    days = _structured(value, dict)
    found: dict[str, Hours] = {}
    for day, span in days.items():
        if day not in WEEKDAYS:
            raise BadValue("bad-hours", f"{day!r} is not one of {', '.join(WEEKDAYS)}", f".{day}")
        if isinstance(span, str) and span.count("-") == 1:
            opens, closes = span.split("-")
        elif isinstance(span, Mapping) and set(span) == {"opens", "closes"}:
            opens, closes = span["opens"], span["closes"]
        else:
            raise BadValue("bad-hours", 'write "08:00-17:30" or {opens, closes}', f".{day}")
        found[day] = Hours(clock(opens, f".{day}.opens"), clock(closes, f".{day}.closes"))
        if found[day].opens >= found[day].closes:
            raise BadValue("bad-hours", "opens before it closes, on the same day", f".{day}")
    return MappingProxyType({day: found[day] for day in WEEKDAYS if day in found})


#: The replies that withdraw her SMS consent when a hospital sets none: R (Tencent's "拒收请回复R"),
#: T and TD (the carriers' 退订 shorthand) and 退订 itself.
DEFAULT_OPT_OUT_KEYWORDS = ("r", "t", "td", "退订")
MAX_KEYWORDS = 20
#: What may surround a keyword she typed: spaces and end punctuation ("TD。", " td! ").
_REPLY_TRIM = " \t\r\n.,!?;:'\"。，！？；：、…~～"


def reply_form(value: str) -> str:
    """An SMS reply as it is compared with the opt-out keywords: full-width letters made
    half-width (NFKC: "ＴＤ" is "TD"), case folded, spaces and end punctuation trimmed."""
    return unicodedata.normalize("NFKC", value).casefold().strip(_REPLY_TRIM)


def opt_out_keywords(value: object) -> tuple[str, ...]:
    """The SMS opt-out keywords: a JSON list, or text separated by commas ("R, T, TD, 退订");
    kept in ``reply_form``, without repeats; at least one."""
    if isinstance(value, str) and not value.lstrip().startswith("["):
        value = value.replace("，", ",").split(",")
    entries = value if isinstance(value, list | tuple) else _structured(value, list)
    found: list[str] = []
    for index, entry in enumerate(entries):
        word = reply_form(text(entry, limit=20, where=f"[{index}]"))
        if not word or any(c.isspace() for c in word):
            raise BadValue("bad-keyword", "a keyword is one word, not empty", f"[{index}]")
        if word not in found:
            found.append(word)
    if not found:
        raise BadValue("bad-keyword", "at least one keyword")
    if len(found) > MAX_KEYWORDS:
        raise BadValue("too-long", f"at most {MAX_KEYWORDS} keywords")
    return tuple(found)
