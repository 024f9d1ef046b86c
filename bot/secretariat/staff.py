"""Who a member of the secretariat is to the permission checks: roles, country scope, and the
small rules every account operation shares."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, func

from bot.storage.models import Contact, StaffUser

ROLES = ("admin", "editor", "viewer")


class AccountError(ValueError):
    """An account operation that cannot be done; the message says why, for the secretariat."""


@dataclass(frozen=True)
class Staff:
    """Who is acting, as the permission checks need it."""

    id: int
    email: str
    name: str
    role: str
    country: str | None
    locale: str

    @classmethod
    def of(cls, user: StaffUser) -> Staff:
        return cls(user.id, user.email, user.name, user.role, user.country, user.locale)

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def can_send(self) -> bool:
        """Compose and send broadcasts and surveys, answer the inbox, change members."""
        return self.role in ("admin", "editor")

    def sees(self, country: str | None) -> bool:
        """Whether a member of ``country`` is within this person's scope."""
        return self.country is None or country == self.country


def member_scope(stmt: Select[Any], staff: Staff) -> Select[Any]:
    """Limit a query over contacts to the members this person may see: of their country, as
    the member said it or, until they say it, as their phone number tells it (the country a
    new conversation is given by, and the inbox's country filter)."""
    if staff.country is None:
        return stmt
    return stmt.where(func.coalesce(Contact.country, Contact.country_hint) == staff.country)


def scoped_country(by: Staff | None, country: str | None) -> str | None:
    """The country an account may have when ``by`` gives it: an administrator limited to a
    country creates and changes accounts of that country only."""
    country = country.strip().upper() if country else None
    if by is None or by.country is None:
        return country
    if country not in (None, by.country):
        raise AccountError(f"you manage accounts of {by.country} only")
    return by.country


def digest(token: str) -> str:
    """What is stored of a session, invitation or API token: never the token itself."""
    return hashlib.sha256(token.encode()).hexdigest()


def normalise_email(email: str) -> str:
    return email.strip().lower()
