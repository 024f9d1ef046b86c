"""A member's own data: everything stored about a set of contact ids (one person may have
several), as sections for a file, a short readable summary, and signed links to the file."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from bot.countries import OTHER
from bot.i18n import LANGUAGE_NAMES, Translator
from bot.privacy import consent
from bot.storage.models import (
    Contact,
    Conversation,
    ConversationMessage,
    Delivery,
    Inbound,
    Subscription,
    Survey,
    SurveyAnswer,
    SurveyQuestion,
    SurveyResponse,
    Topic,
)
from bot.surveys.answers import label, shown

LINK_SECONDS = 900  # a link works for 15 minutes: Twilio fetches it at once, a member soon
FILENAME = "childpact-my-data.json"


@dataclass
class Section:
    """One kind of data: a name for the file, and its rows."""

    name: str
    rows: list[dict[str, Any]] = field(default_factory=list)


def _when(at: datetime | None) -> str | None:
    return at.isoformat() if at else None


async def collect(session: AsyncSession, contact_ids: list[int]) -> list[Section]:
    """Everything stored about these contacts, one section per kind; more tables add more
    sections here."""
    contacts = list(
        await session.scalars(
            select(Contact).where(Contact.id.in_(contact_ids)).order_by(Contact.id)
        )
    )
    return [
        _profile(contacts),
        await _topic_choices(session, contact_ids),
        await _consents(session, contact_ids),
        await _messages(session, contacts),
        await _conversations(session, contact_ids),
        await _surveys(session, contact_ids),
    ]


def _profile(contacts: list[Contact]) -> Section:
    return Section(
        "profile",
        [
            {
                "channel": c.channel,
                "address": c.address,
                "status": c.status,
                "language": c.locale,
                "country": c.country,
                "organisation": c.organisation,
                "time_zone": c.time_zone,
                "news_stopped": c.status == "stopped",
                "privacy_version": c.consent_version,
                "agreed_at": _when(c.consent_at),
                "since": _when(c.created_at),
                "last_message_at": _when(c.last_inbound_at),
            }
            for c in contacts
        ],
    )


async def _topic_choices(session: AsyncSession, contact_ids: list[int]) -> Section:
    """The topics each chat chose to receive or not; a topic never chosen follows its default
    and is stored nowhere."""
    rows = await session.execute(
        select(Subscription, Topic.key)
        .join(Topic, Topic.id == Subscription.topic_id)
        .where(Subscription.contact_id.in_(contact_ids))
        .order_by(Subscription.contact_id, Topic.position, Topic.key)
    )
    return Section(
        "topic_choices",
        [
            {"topic": key, "receives": sub.subscribed, "chosen_at": _when(sub.chosen_at)}
            for sub, key in rows
        ],
    )


async def _consents(session: AsyncSession, contact_ids: list[int]) -> Section:
    rows = await consent.history(session, contact_ids)
    return Section(
        "consents",
        [
            {
                "answer": r.event,
                "version": r.version,
                "language": r.locale,
                "channel": r.channel,
                "text_sha256": r.text_digest,
                "at": _when(r.at),
            }
            for r in rows
        ],
    )


async def _messages(session: AsyncSession, contacts: list[Contact]) -> Section:
    addresses = [(c.channel, c.address) for c in contacts]
    rows: list[dict[str, Any]] = []
    if addresses:
        inbound = await session.execute(
            select(Inbound.received_at, Inbound.channel, Inbound.message)
            .where(tuple_(Inbound.channel, Inbound.address).in_(addresses))
            .order_by(Inbound.id)
        )
        for at, channel, message in inbound:
            text = (message or {}).get("text") or ""
            if text:
                rows.append({"at": _when(at), "from": "you", "channel": channel, "text": text})
        outbound = await session.execute(
            select(Delivery.created_at, Delivery.channel, Delivery.message)
            .where(
                or_(
                    Delivery.contact_id.in_([c.id for c in contacts]),
                    tuple_(Delivery.channel, Delivery.address).in_(addresses),
                )
            )
            .order_by(Delivery.id)
        )
        for at, channel, message in outbound:
            text = (message or {}).get("text") or ""
            if text:
                rows.append(
                    {"at": _when(at), "from": "ChildPact", "channel": channel, "text": text}
                )
    rows.sort(key=lambda r: r["at"] or "")
    return Section("messages", rows)


async def _conversations(session: AsyncSession, contact_ids: list[int]) -> Section:
    threads = list(
        await session.scalars(
            select(Conversation)
            .where(Conversation.contact_id.in_(contact_ids))
            .order_by(Conversation.id)
        )
    )
    rows = []
    for thread in threads:
        messages = await session.scalars(
            select(ConversationMessage)
            .where(ConversationMessage.conversation_id == thread.id)
            .order_by(ConversationMessage.id)
        )
        rows.append(
            {
                "kind": thread.kind,
                "status": thread.status,
                "opened_at": _when(thread.created_at),
                "messages": [
                    {
                        "from": "you" if m.direction == "member" else "secretariat",
                        "text": m.text,
                        "at": _when(m.created_at),
                    }
                    for m in messages
                ],
            }
        )
    return Section("conversations", rows)


async def _surveys(session: AsyncSession, contact_ids: list[int]) -> Section:
    responses = await session.execute(
        select(SurveyResponse, Survey)
        .join(Survey, Survey.id == SurveyResponse.survey_id)
        .where(SurveyResponse.contact_id.in_(contact_ids))
        .order_by(SurveyResponse.id)
    )
    rows = []
    for response, survey in responses.all():
        answers = await session.execute(
            select(SurveyAnswer, SurveyQuestion)
            .join(SurveyQuestion, SurveyQuestion.id == SurveyAnswer.question_id)
            .where(SurveyAnswer.response_id == response.id)
            .order_by(SurveyQuestion.position)
        )
        t = Translator(response.locale)
        rows.append(
            {
                "survey": label(survey.title, response.locale, survey.base_locale),
                "anonymous": survey.anonymous,
                "status": response.status,
                "started_at": _when(response.started_at),
                "finished_at": _when(response.finished_at),
                "answers": [
                    {
                        "question": label(q.text, response.locale, survey.base_locale),
                        "answer": None
                        if a.skipped
                        else shown(q, a.value, response.locale, survey.base_locale, t),
                    }
                    for a, q in answers.all()
                ],
            }
        )
    return Section("survey_answers", rows)


def as_json(sections: list[Section]) -> str:
    """The file: every section in full."""
    return json.dumps(
        {"childpact_member_data": {s.name: s.rows for s in sections}},
        ensure_ascii=False,
        indent=2,
    )


def readable(sections: list[Section], t: Translator, limit: int = 1500) -> str:
    """A short summary in the member's language, within ``limit`` characters (WhatsApp takes
    1,600): the file has everything in full."""
    found = {s.name: s.rows for s in sections}
    lines = [t("Here is what ChildPact keeps about you:")]
    for row in found.get("profile", []):
        language = LANGUAGE_NAMES.get(row["language"] or "", t.pgettext("language", "not given"))
        code = row["country"]
        country = (
            t.pgettext("country", "not given")
            if not code
            else t("Another country")
            if code == OTHER
            else t.country_name(code)
        )
        lines.append(
            t(
                "Chat: {channel}\nLanguage: {language}\nCountry: {country}\n"
                "Organisation: {organisation}",
                channel=row["channel"],
                language=language,
                country=country,
                organisation=row["organisation"] or t.pgettext("organisation", "not given"),
            )
        )
    answers = {"given": t("agreed"), "declined": t("declined"), "withdrawn": t("withdrew")}
    for row in found.get("consents", []):
        at = datetime.fromisoformat(row["at"])
        lines.append(
            t(
                "Privacy notice {version}: {answer} on {date}",
                version=row["version"],
                answer=answers.get(row["answer"], row["answer"]),
                date=t.date(at),
            )
        )
    messages = found.get("messages", [])
    lines.append(t.ngettext("{n} message in our chat.", "{n} messages in our chat.", len(messages)))
    threads = found.get("conversations", [])
    if threads:
        lines.append(
            t.ngettext(
                "{n} conversation with the secretariat.",
                "{n} conversations with the secretariat.",
                len(threads),
            )
        )
    for row in found.get("survey_answers", []):
        lines.append(t("Survey: {title}", title=row["survey"]))
        lines += [f"– {a['question']}: {a['answer'] or '–'}" for a in row["answers"]]
    closing = t("The file has all your data.")
    text = "\n\n".join(lines[:1]) + "\n\n" + "\n".join(lines[1:])
    if len(text) + len(closing) + 2 > limit:
        text = text[: limit - len(closing) - 4].rstrip() + " …"
    return text + "\n\n" + closing


# ---------------------------------------------------------------- signed links


def _key(secret: str) -> bytes:
    return hashlib.sha256(b"childpact member data\0" + secret.encode()).digest()


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def sign(secret: str, contact_id: int, now: float | None = None) -> str:
    """A token naming one contact (the chat that asked), valid for LINK_SECONDS."""
    expires = int((now or time.time()) + LINK_SECONDS)
    body = _b64(json.dumps([int(contact_id), expires], separators=(",", ":")).encode())
    mac = hmac.new(_key(secret), body.encode(), hashlib.sha256).digest()[:18]
    return f"{body}.{_b64(mac)}"


def verify(secret: str, token: str, now: float | None = None) -> int | None:
    """The contact id of a valid, unexpired token; else None. A token naming several
    contacts (as links did once) is refused."""
    body, _, mac = token.partition(".")
    wanted = _b64(hmac.new(_key(secret), body.encode(), hashlib.sha256).digest()[:18])
    if not mac or not hmac.compare_digest(mac, wanted):
        return None
    try:
        contact_id, expires = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        if isinstance(contact_id, bool) or not isinstance(contact_id, int):
            return None
        if not 1 <= contact_id < 2**63 or float(expires) < (now or time.time()):
            return None
    except (ValueError, TypeError):
        return None
    return contact_id


def link_secret(settings: Any) -> str:
    """What signs the links: the deployment's own signing key (SECRET_KEY), never a
    platform's token, which more people and systems hold."""
    return str(settings.signing_keys[0])


def verify_link(settings: Any, token: str, now: float | None = None) -> int | None:
    """The contact id of a link signed with any of the deployment's keys (one rotated out
    still verifies until it is removed)."""
    for key in settings.signing_keys:
        found = verify(key, token, now)
        if found is not None:
            return found
    return None


def link(
    settings: Any, contact_id: int, suffix: str = "json", *, relative: bool = False
) -> str | None:
    """The public URL of the file of the member whose chat ``contact_id`` is (with their
    linked chats, found when fetched); without PUBLIC_URL, a path when ``relative`` (the
    web chat's page is on this server) or None; None without a secret to sign it."""
    secret = link_secret(settings)
    if not secret or not (settings.public_url or relative):
        return None
    path = f"/api/exports/{sign(secret, contact_id)}.{suffix}"
    return f"{settings.public_url.rstrip('/')}{path}" if settings.public_url else path
