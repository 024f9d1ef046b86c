"""Privacy as members meet it: consent recorded and asked again, "my data", "delete me", and
then nothing of the member anywhere: database, Redis, logs."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import time
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from bot.broadcasts import Audience, audience_query
from bot.conversation.commands import words_in
from bot.i18n import Translator
from bot.privacy import consent, export
from bot.secretariat.members import delete as staff_delete
from bot.secretariat.staff import Staff
from bot.storage.models import (
    AuditEntry,
    Base,
    Consent,
    Contact,
    Conversation,
    ConversationMessage,
    Delivery,
    SurveyAnswer,
    SurveyResponse,
    UnansweredQuestion,
)
from bot.surveys.answers import words
from tests.dialog import Member, texts
from tests.harness import PUBLIC, Stack, eventually, running
from tests.surveys.helpers import open_survey

ORGANISATION = "Zorblax Child Rights Network"
QUESTION = "Where can I find the quarterly zorblax grid?"  # nothing in the knowledge answers it
SECRET_NOTE = "Our zorblax shelter needs a second social worker"
ANONYMOUS_ANSWER = "anonymous shelter staffing gap"


def word(locale: str, command: str, channel: str) -> str:
    return f"/{command}" if channel == "telegram" else words_in(Translator(locale), command)[0]


async def onboard(member: Member, country: str = "RO") -> None:
    await member.say("hello")
    await member.tap("consent:yes")
    await member.tap(f"lang:{member.lang}")
    await member.tap(f"country:{country}")
    await member.say(ORGANISATION)


async def contact_of(stack: Stack, member: Member) -> Contact:
    async with stack.service.db.session() as session:
        found = await session.scalar(
            select(Contact).where(
                Contact.channel == member.channel, Contact.address == member.address
            )
        )
    assert found is not None
    return found


async def consents_of(stack: Stack, contact_id: int) -> list[Consent]:
    async with stack.service.db.session() as session:
        return await consent.history(session, [contact_id])


# ---------------------------------------------------------------- consent


@pytest.mark.parametrize(("channel", "lang"), [("telegram", "ro"), ("whatsapp", "uk")])
async def test_consent_is_recorded_and_asked_again_when_the_notice_changes(backend, channel, lang):
    async with running(backend) as stack:
        member = Member(stack, channel, lang=lang, country_code="380")
        t = Translator(lang)
        await onboard(member)
        contact = await contact_of(stack, member)
        [given] = await consents_of(stack, contact.id)
        assert (given.event, given.version, given.channel) == ("given", "1", channel)
        notice = t("To do this I keep your chat address, language, country, organisation and our "
                   "messages. You can stop the news or delete your data at any time.") + "\n\n" + t("Do you agree?")  # fmt: skip
        assert given.text_digest == consent.digest(notice)

        stack.service.settings.privacy_version = "2"
        asked = await member.say("What is ChildPact?")
        assert asked[-1].payloads == ["consent:yes", "consent:no"]
        assert t("Do you agree?") in asked[-1].text
        answered = await member.tap("consent:yes")
        assert answered[0].text == t("Thank you!")
        assert len(answered) >= 2 and "consent:yes" not in answered[-1].payloads  # the question
        assert [c.version for c in await consents_of(stack, contact.id)] == ["1", "2"]

        stack.service.settings.privacy_version = "3"
        await member.say("hello again")
        confirm = await member.tap("consent:no")  # nothing withdrawn before they confirm
        assert confirm[-1].payloads == ["consent:withdraw", "consent:keep"]
        assert len(await consents_of(stack, contact.id)) == 2
        await member.tap("consent:withdraw")
        assert [c.event for c in await consents_of(stack, contact.id)] == [
            "given",
            "given",
            "withdrawn",
        ]
        async with stack.service.db.session() as session:
            reached = await session.scalars(audience_query(Audience(), None))
            assert contact.id not in [c.id for c in reached]  # no more broadcasts


# ---------------------------------------------------------------- my data


async def test_my_data_on_telegram_is_a_summary_and_an_uploaded_file(backend):
    async with running(backend) as stack:
        member = Member(stack, "telegram", lang="ro")
        ro = Translator("ro")
        await onboard(member)
        await member.say(QUESTION)
        await member.say("/menu")
        settings = await member.tap("menu:settings")
        assert ro("My data") in settings[-1].options
        await member.tap("set:topics")
        await member.tap("sub:events")  # on by default: now switched off
        await member.tap("set:back")
        await member.tap("set:news")  # the news stopped
        await member.tap("set:back")
        await member.tap("privacy:data")

        def documents() -> list[Any]:
            return [
                m for m in stack.telegram.messages_to(member.address) if m.method == "sendDocument"
            ]

        [sent] = await eventually(documents)
        assert sent.document == export.FILENAME and sent.caption == ro(
            "Your data as a file (JSON)."
        )
        data = json.loads(sent.file)["childpact_member_data"]
        assert data["profile"][0]["organisation"] == ORGANISATION
        assert any(m["text"] == QUESTION for m in data["messages"])
        assert [c["answer"] for c in data["consents"]] == ["given"]
        assert data["profile"][0]["news_stopped"] is True
        assert "time_zone" in data["profile"][0]
        assert [(c["topic"], c["receives"]) for c in data["topic_choices"]] == [("events", False)]
        summary = [m.text or "" for m in stack.telegram.messages_to(member.address)]
        assert any(
            ro("Here is what ChildPact keeps about you:") in s and ORGANISATION in s
            for s in summary
        )
        await eventually(lambda: emptied(stack, member, ephemeral=True))


async def emptied(stack: Stack, member: Member, *, ephemeral: bool = False) -> bool:
    """No row of the member's chat left in the outbox (of those erased once sent)."""
    async with stack.service.db.session() as session:
        rows = await session.scalars(
            select(Delivery.message).where(
                Delivery.channel == member.channel, Delivery.address == member.address
            )
        )
        return not [m for m in rows if not ephemeral or m.get("ephemeral")]


async def test_my_data_on_whatsapp_comes_through_a_signed_link(backend):
    async with running(backend) as stack:
        member = Member(stack, "whatsapp", lang="uk", country_code="380")
        uk = Translator("uk")
        await onboard(member, country="MD")
        helped = texts(await member.say(word("uk", "help", "whatsapp")))
        assert (
            word("uk", "mydata", "whatsapp") in helped
            and word("uk", "deleteme", "whatsapp") in helped
        )
        await member.say(word("uk", "mydata", "whatsapp"))

        def media() -> list[str]:
            return [u for m in stack.twilio.messages if m.to == member.address for u in m.media_url]

        [url] = await eventually(media)
        assert url.startswith(f"{PUBLIC}/api/exports/") and url.endswith(".txt")
        # Twilio checks the link with HEAD, then fetches it: both answered, the file went.
        [with_file] = [m for m in stack.twilio.messages if m.media_url]
        await eventually(lambda: with_file.statuses[-1:] == ["read"])
        assert [(f.method, f.status, f.content_type) for f in stack.twilio.media_fetches] == [
            ("HEAD", 200, "text/plain"), ("GET", 200, "text/plain")
        ]  # fmt: skip
        bodies = [m.body or "" for m in stack.twilio.messages if m.to == member.address]
        assert any(uk("Here is what ChildPact keeps about you:") in b for b in bodies)
        assert all(len(b) <= 1600 for b in bodies)
        fetched = await stack.http.get(url.removeprefix(PUBLIC))
        assert fetched.status_code == 200
        assert fetched.headers["content-type"].startswith("text/plain")
        assert (
            json.loads(fetched.text)["childpact_member_data"]["profile"][0]["organisation"]
            == ORGANISATION
        )
        token = url.rsplit("/", 1)[1].removesuffix(".txt")
        forged = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
        assert (await stack.http.get(f"/api/exports/{forged}.json")).status_code == 404
        secret = export.link_secret(stack.service.settings)
        assert export.verify(secret, token) is not None
        assert export.verify(secret, token, now=10**11) is None  # it expires


async def test_a_data_link_opens_one_members_file_for_a_quarter_of_an_hour(backend):
    async with running(backend) as stack:
        alice, bob = Member(stack, "telegram", lang="ro"), Member(stack, "telegram", lang="en")
        await onboard(alice, country="RO")
        await onboard(bob, country="MD")
        a, b = await contact_of(stack, alice), await contact_of(stack, bob)
        secret = export.link_secret(stack.service.settings)
        issued = time.time()

        async def fetch(token: str) -> int:
            return (await stack.http.get(f"/api/exports/{token}.json")).status_code

        got = await stack.http.get(f"/api/exports/{export.sign(secret, a.id, now=issued)}.json")
        assert got.status_code == 200
        [profile] = json.loads(got.text)["childpact_member_data"]["profile"]
        assert profile["country"] == "RO"
        assert alice.address in got.text and bob.address not in got.text
        # A token names one chat: a body naming two, even signed with the key, opens nothing.
        body = (
            base64.urlsafe_b64encode(json.dumps([[a.id, b.id], int(issued) + 60]).encode())
            .rstrip(b"=")
            .decode()
        )
        mac = hmac.new(export._key(secret), body.encode(), hashlib.sha256).digest()[:18]
        both = f"{body}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"
        assert await fetch(both) == 404
        # Issued longer ago than its life: gone; issued just within it: still there.
        assert export.LINK_SECONDS <= 15 * 60
        assert await fetch(export.sign(secret, a.id, now=issued - export.LINK_SECONDS - 5)) == 404
        assert await fetch(export.sign(secret, a.id, now=issued - export.LINK_SECONDS + 120)) == 200
        assert export.verify(secret, export.sign(secret, b.id, now=1000.0), now=1001.0) == b.id
        assert export.verify(secret, export.sign(secret, b.id, now=1000.0),
                             now=1000.0 + export.LINK_SECONDS + 1) is None  # fmt: skip


# ---------------------------------------------------------------- delete me


async def add_history(stack: Stack, contact_id: int) -> tuple[int, int]:
    """A conversation with the secretariat, and answers to a named and an anonymous survey."""
    named, named_q = await open_survey(stack.service)
    anonymous, anonymous_q = await open_survey(stack.service, anonymous=True)
    async with stack.service.db.session() as session, session.begin():
        thread = Conversation(contact_id=contact_id, kind="secretariat", status="open")
        session.add(thread)
        await session.flush()
        session.add(
            ConversationMessage(conversation_id=thread.id, direction="member", text=SECRET_NOTE)
        )
        for survey_id, questions, text in (
            (named, named_q, SECRET_NOTE),
            (anonymous, anonymous_q, ANONYMOUS_ANSWER),
        ):
            response = SurveyResponse(
                survey_id=survey_id, contact_id=contact_id, channel="telegram", locale="ro",
                country="RO", organisation=ORGANISATION, status="finished",
            )  # fmt: skip
            session.add(response)
            await session.flush()
            session.add(
                SurveyAnswer(response_id=response.id, question_id=questions["gap"], value=text)
            )
    return named, anonymous


async def leftovers(stack: Stack, backend: Any, needles: list[str]) -> list[str]:
    """Every place in the database and in Redis where one of ``needles`` still shows."""
    found = []
    async with stack.service.db.session() as session:
        for table in Base.metadata.sorted_tables:
            for row in (await session.execute(select(table))).all():
                text = " ".join(str(v) for v in row)
                found += [f"{table.name}: {n}" for n in needles if n in text]
    if backend.redis_url:
        redis = Redis.from_url(backend.redis_url)
        try:
            async for key in redis.scan_iter(match=f"{backend.redis_prefix}*"):
                kind = (await redis.type(key)).decode()
                value: Any = {
                    "string": redis.get, "hash": redis.hgetall, "list": lambda k: redis.lrange(k, 0, -1),
                    "set": redis.smembers, "zset": lambda k: redis.zrange(k, 0, -1),
                }.get(kind, lambda k: redis.type(k))(key)  # fmt: skip
                text = f"{key!r} {await value!r}"
                found += [f"redis: {n}" for n in needles if n in text]
        finally:
            await redis.aclose()
    else:
        memory = repr(vars(stack.service.coordinator))
        found += [f"coordinator: {n}" for n in needles if n in memory]
    return found


@pytest.mark.parametrize(("channel", "lang"), [("telegram", "ro"), ("whatsapp", "uk")])
async def test_delete_me_asks_first_then_leaves_nothing_behind(backend, channel, lang, caplog):
    caplog.set_level(logging.DEBUG)
    async with running(backend) as stack:
        member = Member(stack, channel, lang=lang, country_code="380")
        t = Translator(lang)
        await onboard(member)
        await member.say(QUESTION)
        contact = await contact_of(stack, member)
        _, anonymous = await add_history(stack, contact.id)
        async with stack.service.db.session() as session:
            assert await session.scalar(select(func.count()).select_from(UnansweredQuestion)) == 1

        needles = [member.address, ORGANISATION, QUESTION, SECRET_NOTE, "What is ChildPact"]
        if channel == "whatsapp":
            needles.append(member.address.removeprefix("whatsapp:"))
        before = await leftovers(stack, backend, needles)  # the search does find them
        assert {"contacts: " + member.address, "survey_responses: " + ORGANISATION} <= set(before)
        if channel == "telegram" and backend.redis_url:  # dedupe marks carry the chat id
            assert "redis: " + member.address in before

        asked = await member.say(word(lang, "deleteme", channel))
        assert asked[-1].payloads == ["erase:yes", "erase:no"]
        kept = await member.tap("erase:no")
        assert t("All right, I deleted nothing.") in texts(kept)
        assert (await contact_of(stack, member)).organisation == ORGANISATION

        if channel == "telegram":  # from the settings this time
            await member.say("/menu")
            await member.tap("menu:settings")
            await member.tap("privacy:erase")
        else:
            await member.say(word(lang, "deleteme", channel))
        if channel == "whatsapp":  # typed, in their language
            await member.say(words(t, "yes")[0])
        else:
            await member.tap("erase:yes")
        goodbye = t("Done: I deleted everything I kept about you. Goodbye, and thank you! "
                    "If you write to me again, we start afresh.")  # fmt: skip

        def said() -> list[str]:
            if channel == "telegram":
                return [m.text or "" for m in stack.telegram.messages_to(member.address)]
            return [m.body or "" for m in stack.twilio.messages if m.to == member.address]

        await eventually(lambda: goodbye in said())
        await eventually(lambda: emptied(stack, member))

        assert await leftovers(stack, backend, needles) == []
        logged = caplog.text
        assert [n for n in needles if n in logged] == []

        async with stack.service.db.session() as session:
            rest = (
                await session.execute(select(SurveyResponse.survey_id, SurveyResponse.contact_id))
            ).all()
            assert rest == [(anonymous, None)]  # the anonymous answer stays, without them
            assert (
                await session.scalar(
                    select(func.count())
                    .select_from(AuditEntry)
                    .where(AuditEntry.action == "member.erase")
                )
                == 1
            )

        member.cursor = 0  # SQLite hands out the freed row ids again
        again = await member.say("hello")  # a stranger now: welcomed afresh
        assert again[-1].payloads == ["consent:yes", "consent:no"]


async def test_the_secretariat_deleting_a_member_erases_as_much(backend):
    async with running(backend) as stack:
        member = Member(stack, "telegram", lang="ro")
        await onboard(member)
        await member.say(QUESTION)
        contact = await contact_of(stack, member)
        await add_history(stack, contact.id)
        admin = Staff(1, "admin@example.org", "Admin", "admin", None, "en")
        async with stack.service.db.session() as session, session.begin():
            erased = await staff_delete(session, admin, contact.id)
        assert erased is not None
        await stack.service.coordinator.forget(erased.keys)
        needles = [member.address, ORGANISATION, QUESTION, SECRET_NOTE]
        assert await leftovers(stack, backend, needles) == []


async def test_my_data_in_the_web_chat_is_a_download_link_under_the_summary(backend):
    async with running(backend, public_url=None) as stack:
        member = Member(stack, "web", lang="bg")
        bg = Translator("bg")
        await onboard(member, country="BG")
        await member.say("/mydata")
        page = await stack.http.get(
            "/chat/api/messages", params={"session": member.address, "wait": 0}
        )
        shown = page.json()["messages"]
        assert any(bg("Here is what ChildPact keeps about you:") in m["text"] for m in shown)
        [link] = [b for m in shown for row in m["buttons"] for b in row if b.get("url")]
        assert link["label"] == export.FILENAME and link["url"].startswith("/api/exports/")
        fetched = await stack.http.get(link["url"])
        assert fetched.status_code == 200 and fetched.headers["content-type"].startswith(
            "application/json"
        )
        assert json.loads(fetched.text)["childpact_member_data"]["profile"][0]["country"] == "BG"
        # Fetched, they stay until the page says it drew them (the answer may have been lost).
        assert not await emptied(stack, member, ephemeral=True)
        drawn = [m["id"] for m in shown if m["once"]]
        assert len(drawn) == 2  # the summary, the file
        params = {"session": member.address, "after": page.json()["cursor"], "wait": 0}
        again = await stack.http.get("/chat/api/messages", params={**params, "had": drawn})
        assert again.json()["messages"] == []
        assert await emptied(stack, member, ephemeral=True)  # the page has them: gone


SHIPPED = {  # `make run` on a fresh machine: no platform's secret, no SECRET_KEY, no PUBLIC_URL
    "telegram_bot_token": None, "telegram_webhook_secret": None, "twilio_account_sid": None,
    "twilio_auth_token": None, "twilio_whatsapp_number": None, "public_url": None,
    "secret_key": None,
}  # fmt: skip


@pytest.mark.parametrize("lang", ["ro", "ru", "sq", "ka", "hy"])
async def test_my_data_gives_the_file_as_shipped_without_any_platforms_secret(backend, lang):
    async with running(backend, **SHIPPED) as stack:
        assert not (stack.service.settings.telegram_enabled or stack.service.settings.whatsapp_enabled)
        member = Member(stack, "web", lang=lang)
        t = Translator(lang)
        await onboard(member, country="MD")
        shown = await member.say(word(lang, "mydata", "web"))
        said = texts(shown)
        assert t("Here is what ChildPact keeps about you:") in said
        assert t("Sorry, I cannot prepare the file right now.") not in said  # the file follows
        [link] = [
            b for m in (await stack.http.get(
                "/chat/api/messages", params={"session": member.address, "wait": 0}
            )).json()["messages"] for row in m["buttons"] for b in row if b.get("url")
        ]  # fmt: skip
        fetched = await stack.http.get(link["url"])
        assert fetched.status_code == 200
        data = json.loads(fetched.text)["childpact_member_data"]
        assert data["profile"][0]["country"] == "MD"
        # Signed with the service's own key: kept beside the SQLite file, so that the link
        # still opens after a restart; a key of this process with PostgreSQL.
        settings = stack.service.settings
        token = link["url"].rsplit("/", 1)[1].rsplit(".", 1)[0]
        assert export.verify_link(settings, token) is not None
        if settings.is_sqlite:
            kept = Path(make_url(settings.database_url).database or "").parent / "secret_key"
            assert kept.read_text().strip() == export.link_secret(settings)


async def test_delete_me_in_one_linked_chat_erases_the_person_in_every_chat(backend):
    from bot.storage.models import Person
    from tests.handlers.test_linking import ask_code

    async with running(backend) as stack:
        tg, wa = Member(stack, "telegram", lang="ro"), Member(stack, "whatsapp", lang="ro")
        await onboard(tg)
        await onboard(wa)
        code = await ask_code(wa, "ro")
        await tg.say(f"/link {code}")
        await wa.say("Din WhatsApp: " + SECRET_NOTE)
        linked = await contact_of(stack, wa)
        assert linked.person_id is not None

        await tg.say("/deleteme")
        await tg.tap("erase:yes")
        await eventually(lambda: emptied(stack, tg))

        needles = [tg.address, wa.address.removeprefix("whatsapp:"), ORGANISATION, SECRET_NOTE]
        assert await leftovers(stack, backend, needles) == []
        async with stack.service.db.session() as session:
            assert await session.scalar(select(func.count()).select_from(Contact)) == 0
            assert await session.scalar(select(func.count()).select_from(Person)) == 0
