"""Staff passwords: argon2 hashing off the event loop, checking, and the strength rule."""

from __future__ import annotations

import asyncio
import re
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from zxcvbn import zxcvbn

from bot.secretariat.staff import AccountError

MAX_LENGTH = 1024  # argon2 takes anything; a longer password is only a way to burn our CPU

_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters
# Verifying against this when the address is unknown costs the same time as a real check,
# so response times do not tell which addresses have accounts.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


async def hash_password(password: str) -> str:
    """Argon2 costs a good part of a second on purpose: off the event loop, so that a sign-in
    does not hold up webhooks and pages."""
    return await asyncio.to_thread(_hasher.hash, password)


async def verify(stored: str | None, password: str) -> bool:
    """Whether ``password`` is the one behind ``stored``. Without a stored hash the check still
    runs, against a dummy, and fails: it takes as long either way."""
    against = stored or _DUMMY_HASH
    return await asyncio.to_thread(_verify, against, password[:MAX_LENGTH]) and bool(stored)


def needs_rehash(stored: str) -> bool:
    """Whether ``stored`` was made with weaker parameters than today's."""
    return _hasher.check_needs_rehash(stored)


def _verify(stored: str, password: str) -> bool:
    try:
        return _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


MIN_LENGTH = 10
# zxcvbn's score (0-4): 3 and above resists an offline attack on a slow hash, and refuses
# the most common passwords, keyboard walks, repeats, dates and dictionary words.
MIN_SCORE = 3
_SCORED = 100  # characters zxcvbn looks at: its work grows with the length, and past this
# many a password is long enough whatever it is made of
_OWN_WORDS = ("childpact", "child", "pact", "coalition", "secretariat", "dashboard", "admin")


def check_password_strength(password: str, *, about: tuple[str, ...] = ()) -> None:
    """Refuse a password that is short, too long, or easy to guess (zxcvbn's dictionaries of
    common and leaked passwords, words and names, and patterns; ``about`` are the person's own
    address and name, which are no secret). Nothing is sent anywhere."""
    if len(password) < MIN_LENGTH:
        raise AccountError("the password needs at least 10 characters")
    if len(password) > MAX_LENGTH:
        raise AccountError("the password is too long")
    words = [w for a in about for w in re.split(r"[@.\s_+-]+", a.lower()) if w]
    inputs = [*_OWN_WORDS, *(a.lower() for a in about if a), *words]
    if zxcvbn(password[:_SCORED], user_inputs=inputs)["score"] < MIN_SCORE:
        raise AccountError("the password is too easy to guess")
