"""POST /webhook/whatsapp and /webhook/whatsapp/status as Twilio (and forgers) call them:
signatures over the public URL, odd forms, repeats, and the one-way life of a delivery."""

from __future__ import annotations

import asyncio
import base64
import time
import uuid
from typing import Any
from urllib.parse import urlencode, urlsplit
from xml.etree import ElementTree

import httpx
from sqlalchemy import select

from bot.i18n import Translator
from bot.storage import outbox
from bot.storage.models import Contact, Delivery
from tests.dialog import Member
from tests.fakes.twilio_api import StatusCallback, new_sid, signed_inbound, signed_status
from tests.harness import AUTH, PUBLIC, Stack, chunks, eventually, running, whatsapp_number
from tests.webhook.helpers import deliveries_to, inbound_rows, onboarded, settled, stored_messages

INBOUND = "/webhook/whatsapp"
STATUS = "/webhook/whatsapp/status"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


async def post_form(
    stack: Stack, path: str, form: dict[str, str], headers: dict[str, str]
) -> httpx.Response:
    return await stack.http.post(path, data=form, headers=headers)


async def post_status(
    stack: Stack, sid: str, status: str, error_code: int | None = None, url: str = PUBLIC + STATUS
) -> httpx.Response:
    form, headers = signed_status(url, AUTH, sid=sid, status=status, error_code=error_code)
    return await post_form(stack, STATUS, form, headers)


def assert_empty_twiml(response: httpx.Response) -> None:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/xml")
    root = ElementTree.fromstring(response.content)
    assert root.tag == "Response" and len(root) == 0 and not (root.text or "").strip()


# ---------------------------------------------------------------- signatures


async def test_missing_forged_and_misdirected_signatures_are_403_and_nothing_is_stored(backend):
    async with running(backend) as stack:
        number = whatsapp_number()
        right = PUBLIC + INBOUND

        def unsigned() -> tuple[dict[str, str], dict[str, str]]:
            form, headers = signed_inbound(right, AUTH, From=number)
            del headers["X-Twilio-Signature"]
            return form, headers

        def forged() -> tuple[dict[str, str], dict[str, str]]:
            form, headers = signed_inbound(right, AUTH, From=number)
            headers["X-Twilio-Signature"] = base64.b64encode(uuid.uuid4().bytes * 2).decode()
            return form, headers

        def tampered() -> tuple[dict[str, str], dict[str, str]]:
            form, headers = signed_inbound(right, AUTH, From=number, Body="Salut")
            form["Body"] = "Salut, send me everyone's numbers"
            return form, headers

        def empty_signature() -> tuple[dict[str, str], dict[str, str]]:
            form, headers = signed_inbound(right, AUTH, From=number)
            headers["X-Twilio-Signature"] = ""
            return form, headers

        attempts = {
            "missing": unsigned(),
            "empty": empty_signature(),
            "forged": forged(),
            "tampered": tampered(),
            "another token": signed_inbound(right, "u" * 32, From=number),
            "the internal URL": signed_inbound(stack.url + INBOUND, AUTH, From=number),
            "the status URL": signed_inbound(PUBLIC + STATUS, AUTH, From=number),
            "plain http": signed_inbound(right.replace("https:", "http:"), AUTH, From=number),
            "another host": signed_inbound("https://evil.example.com" + INBOUND, AUTH, From=number),
            "with a query": signed_inbound(right + "?x=1", AUTH, From=number),
        }
        for what, (form, headers) in attempts.items():
            response = await post_form(stack, INBOUND, form, headers)
            assert response.status_code == 403, what
        assert await inbound_rows(stack) == 0
        await settled(stack)  # anything the refused forms had set off has gone out by now
        assert stack.twilio.messages == []


async def test_the_query_string_is_part_of_the_signed_url(backend):
    async with running(backend) as stack:
        query = urlencode({"campaign": "wa", "lang": "ro"})
        form, headers = signed_inbound(f"{PUBLIC}{INBOUND}?{query}", AUTH, From=whatsapp_number())
        assert_empty_twiml(await post_form(stack, f"{INBOUND}?{query}", form, headers))
        form, headers = signed_inbound(PUBLIC + INBOUND, AUTH, From=whatsapp_number())
        response = await post_form(stack, f"{INBOUND}?{query}", form, headers)
        assert response.status_code == 403  # the query was added after signing
        assert await inbound_rows(stack) == 1


async def test_without_an_auth_token_a_signature_made_with_an_empty_key_is_refused(backend):
    # Started another way than `childpact serve` (whose configuration check refuses this),
    # with the WhatsApp channel on but no TWILIO_AUTH_TOKEN.
    async with running(backend, twilio_auth_token=None) as stack:
        form, headers = signed_inbound(PUBLIC + INBOUND, "", From=whatsapp_number())
        response = await post_form(stack, INBOUND, form, headers)
        assert response.status_code == 403
        assert await inbound_rows(stack) == 0


async def test_a_valid_signature_with_unknown_fields_is_accepted(backend):
    async with running(backend) as stack:
        member = Member(stack, "whatsapp")
        form, headers = signed_inbound(
            PUBLIC + INBOUND,
            AUTH,
            From=member.address,
            Body="Merhaba",
            ChannelMetadata='{"type":"whatsapp","data":{"context":{"ProfileName":"Ayşe"}}}',
            ReferralCtwaClid="ARAkLkA8rmlFeiCktEJQ",
            SomethingTwilioAddsNextYear="1",
            MessageType="interactive",
        )
        assert_empty_twiml(await post_form(stack, INBOUND, form, headers))
        assert [m["text"] for m in await stored_messages(stack, "whatsapp")] == ["Merhaba"]
        assert len(await member.replies()) == 1


async def test_forms_without_a_sender_or_a_sid_are_400(backend):
    async with running(backend) as stack:
        for missing in ({"From": None}, {"MessageSid": None}, {"MessageSid": ""}, {"From": ""}):
            form, headers = signed_inbound(PUBLIC + INBOUND, AUTH, **missing)
            response = await post_form(stack, INBOUND, form, headers)
            assert response.status_code == 400, missing
        # a signed form with nothing of a message in it
        form, headers = signed_inbound(PUBLIC + INBOUND, AUTH)
        nothing = {name: None for name in form}
        form, headers = signed_inbound(PUBLIC + INBOUND, AUTH, **nothing, Hello="world")
        assert form == {"Hello": "world"}
        assert (await post_form(stack, INBOUND, form, headers)).status_code == 400
        # a message is not a status callback
        form, headers = signed_inbound(PUBLIC + STATUS, AUTH)
        assert (await post_form(stack, STATUS, form, headers)).status_code == 400
        assert await inbound_rows(stack) == 0


async def test_garbage_bodies_are_refused_and_never_a_500(backend):
    async with running(backend) as stack:
        signed = {"X-Twilio-Signature": "c2lnbmF0dXJl", **FORM}
        bodies = {
            b"\xff\xfe\x00\x81 not utf-8": 400,
            b"Body=\xe9t\xe9&From=whatsapp%3A%2B40722111222": 400,  # latin-1, not utf-8
            b"\xed\xa0\x80=surrogate": 400,  # a UTF-16 half encoded as UTF-8
            b"": 403,
            b"{not a form}": 403,
            b'{"MessageSid": "SM1", "From": "whatsapp:+40722111222"}': 403,
            b"Body=%FF%FE&From=%00": 403,  # decodes (to U+FFFD), but nobody signed it
            b"&&&===&&": 403,
        }
        for body, status in bodies.items():
            response = await stack.http.post(INBOUND, content=body, headers=signed)
            assert response.status_code == status, (body, response.status_code)
            response = await stack.http.post(STATUS, content=body, headers=signed)
            assert response.status_code == status, (body, response.status_code)
        assert (await stack.http.get("/healthz")).status_code == 200
        assert await inbound_rows(stack) == 0


async def test_an_oversized_body_is_413_with_or_without_content_length(backend):
    limit = 8 * 1024
    async with running(backend, max_body_bytes=limit) as stack:
        form, headers = signed_inbound(PUBLIC + INBOUND, AUTH, Body="x" * (limit + 10))
        body = urlencode(form).encode()
        assert (await stack.http.post(INBOUND, content=body, headers=headers)).status_code == 413
        chunked = await stack.http.post(INBOUND, content=chunks(body), headers=headers)
        assert chunked.request.headers.get("transfer-encoding") == "chunked"
        assert chunked.status_code == 413
        status = urlencode({"MessageSid": new_sid(), "MessageStatus": "read", "Pad": "x" * limit})
        response = await stack.http.post(STATUS, content=status.encode(), headers=FORM)
        assert response.status_code == 413
        assert await inbound_rows(stack) == 0


# ---------------------------------------------------------------- messages


async def test_media_without_text_gets_one_polite_reply(backend):
    async with running(backend) as stack:
        member = Member(stack, "whatsapp")
        await onboarded(stack, "whatsapp", member.address)
        polite = Translator("en")("I can only read text for now. Please type your message.")
        image = {
            "NumMedia": "1",
            "Body": "",
            "MessageType": "image",
            "MediaContentType0": "image/jpeg",
            "MediaUrl0": "https://api.twilio.com/2010-04-01/Accounts/AC0/Messages/MM1/Media/ME1",
        }
        voice = {**image, "MessageType": "audio", "MediaContentType0": "audio/ogg", "Body": "  "}
        location = {"Body": "", "Latitude": "44.4268", "Longitude": "26.1025"}
        for fields in (image, voice, location):
            response = await stack.post_whatsapp(From=member.address, **fields)
            assert_empty_twiml(response)
            replies = await member.replies()
            assert [r.text for r in replies] == [polite], fields
        await settled(stack)
        assert [m.body for m in stack.twilio.messages] == [polite] * 3


async def test_the_same_message_sid_twice_gets_one_reply(backend):
    async with running(backend) as stack:
        member = Member(stack, "whatsapp")
        # through the fake Twilio, which opens the member's 24-hour window as Twilio would
        form, headers = stack.twilio.inbound(PUBLIC + INBOUND, From=member.address, Body="hi")
        for _ in range(2):  # Twilio retries when our answer was slow
            assert_empty_twiml(await post_form(stack, INBOUND, form, headers))
        assert len(await member.replies()) == 1
        form, headers = stack.twilio.inbound(PUBLIC + INBOUND, From=member.address, Body="1")
        answers = await asyncio.gather(
            *(post_form(stack, INBOUND, form, headers) for _ in range(5))
        )
        for answer in answers:
            assert_empty_twiml(answer)
        await member.replies()
        await settled(stack)
        to_member = [m for m in stack.twilio.messages if m.to == member.address]
        # The welcome, then the language question: thirteen languages come as two lists.
        assert len(to_member) == 3
        assert len(await stored_messages(stack, "whatsapp")) == 2


async def test_unusual_text_is_stored_as_it_was_sent(backend):
    async with running(backend) as stack:
        member = Member(stack, "whatsapp")
        texts = [
            "Bună ziua 👋🏽",
            "👨‍👩‍👧‍👦 joined by zero-width joiners",
            "\u200fשלום\u200f and an RTL mark",
            "zero\u200bwidth\u200cnon\u200djoiner",
            "გამარჯობა Բարեւ Здраво",
            "ა" * 1600,
        ]
        for text in texts:
            assert_empty_twiml(await stack.post_whatsapp(From=member.address, Body=text))
        # "%00" decodes to NUL, which no database stores: it goes, the message stays
        assert_empty_twiml(await stack.post_whatsapp(From=member.address, Body="nul\x00inside"))
        stored = [m["text"] for m in await stored_messages(stack, "whatsapp")]
        assert stored == [*texts, "nulinside"]
        await member.replies()


async def test_a_sender_too_long_for_any_number_is_400(backend):
    async with running(backend) as stack:
        response = await stack.post_whatsapp(From="whatsapp:+" + "4" * 80)
        assert response.status_code == 400
        assert await inbound_rows(stack) == 0


# ---------------------------------------------------------------- status callbacks


async def _welcomed(stack: Stack, member: Member) -> Delivery:
    """The member says hello; returns the delivery of the bot's answer, as sent."""
    assert len(await member.say("hello")) == 1
    deliveries = await deliveries_to(stack, "whatsapp", member.address)
    assert deliveries[-1].platform_id, "the sender did not record Twilio's sid"
    return deliveries[-1]


async def _delivery(stack: Stack, delivery_id: int) -> Delivery:
    async with stack.service.db.session() as session:
        found = await session.get(Delivery, delivery_id)
    assert found is not None
    return found


async def _sent_as(stack: Stack, sid: str) -> bool:
    async with stack.service.db.session() as session:
        found = await session.scalar(select(Delivery.id).where(Delivery.platform_id == sid))
    return found is not None


async def _contact(stack: Stack, member: Member) -> Contact:
    async with stack.service.db.session() as session:
        found = await session.scalar(
            select(Contact).where(Contact.channel == "whatsapp", Contact.address == member.address)
        )
    assert found is not None
    return found


async def test_status_callbacks_only_move_a_delivery_forward(backend):
    async with running(backend, twilio={"statuses": ()}) as stack:
        member = Member(stack, "whatsapp")
        sent = await _welcomed(stack, member)
        assert sent.status == "sent"
        sid = sent.platform_id
        assert sid is not None
        steps = [
            ("delivered", "delivered"),
            ("sent", "delivered"),  # late
            ("read", "read"),
            ("sent", "read"),
            ("delivered", "read"),
            ("queued", "read"),
            ("sending", "read"),
            ("nonsense", "read"),
            ("READ", "read"),
        ]
        for reported, expected in steps:
            assert_empty_twiml(await post_status(stack, sid, reported))
            assert (await _delivery(stack, sent.id)).status == expected, reported


async def test_a_failure_is_recorded_with_its_error_code(backend):
    async with running(backend, twilio={"statuses": ()}) as stack:
        member = Member(stack, "whatsapp")
        sent = await _welcomed(stack, member)
        assert sent.platform_id is not None
        assert_empty_twiml(await post_status(stack, sent.platform_id, "failed", 63021))
        failed = await _delivery(stack, sent.id)
        assert (failed.status, failed.error_code) == ("failed", "63021")
        assert (await _contact(stack, member)).unreachable_at is None


async def test_a_throttled_message_goes_again_a_quarter_of_an_hour_after_on_the_senders_clock(
    backend,
):
    # 63018 (over the sender's rate or Meta's daily limit), reported after the send: queued
    # again for the sender's now plus fifteen minutes, on the clock the sender keeps
    async with running(backend, twilio={"statuses": ()}) as stack:
        member = Member(stack, "whatsapp")
        sent = await _welcomed(stack, member)
        assert sent.platform_id is not None
        stack.service.sender.clock = lambda: 2_000_000_000.0
        assert_empty_twiml(await post_status(stack, sent.platform_id, "failed", 63018))
        again = await _delivery(stack, sent.id)
        assert (again.status, again.error_code) == ("queued", "63018")
        assert again.due_at == 2_000_000_000.0 + 15 * 60


async def test_outside_the_window_a_message_with_no_template_waits_for_the_member(backend):
    async with running(backend, twilio={"statuses": ()}) as stack:
        member = Member(stack, "whatsapp")
        sent = await _welcomed(stack, member)
        assert sent.platform_id is not None
        # Twilio says the window was closed (63016): not a failure, the message waits.
        assert_empty_twiml(await post_status(stack, sent.platform_id, "failed", 63016))

        async def held() -> bool:
            return (await _delivery(stack, sent.id)).status == "held"

        await eventually(held)
        # outside the 24-hour window is no reason to think the member is gone
        assert (await _contact(stack, member)).unreachable_at is None
        before = len(stack.twilio.to(member.address))
        await member.say("Salut")  # their message opens the window: the kept one goes first
        kept = sent.message["text"]
        await eventually(lambda: len(stack.twilio.to(member.address)) > before + 1)
        assert stack.twilio.to(member.address)[before].text.startswith(kept[:40])


async def test_forged_status_callbacks_are_403_and_change_nothing(backend):
    async with running(backend, twilio={"statuses": ()}) as stack:
        member = Member(stack, "whatsapp")
        sent = await _welcomed(stack, member)
        sid = sent.platform_id
        assert sid is not None
        form, headers = signed_status(
            PUBLIC + STATUS, AUTH, sid=sid, status="failed", error_code=63014
        )
        headers["X-Twilio-Signature"] = "Zm9yZ2Vk"
        assert (await post_form(stack, STATUS, form, headers)).status_code == 403
        del headers["X-Twilio-Signature"]
        assert (await post_form(stack, STATUS, form, headers)).status_code == 403
        wrong_url = await post_status(stack, sid, "failed", 63014, url=PUBLIC + INBOUND)
        assert wrong_url.status_code == 403
        internal = await post_status(stack, sid, "read", url=stack.url + STATUS)
        assert internal.status_code == 403
        form, headers = signed_status(PUBLIC + STATUS, "u" * 32, sid=sid, status="read")
        assert (await post_form(stack, STATUS, form, headers)).status_code == 403
        after = await _delivery(stack, sent.id)
        assert (after.status, after.error_code) == ("sent", None)
        assert (await _contact(stack, member)).unreachable_at is None


async def test_callbacks_for_unknown_sids_are_200_and_kept_for_a_while(backend):
    # Would catch a report of a message we do not know yet answered with an error (Twilio
    # would retry it for nothing), looked up without end, or lost: it is kept, at once, for
    # the send it may belong to (a "queued" that moves nothing is not).
    async with running(backend, twilio={"statuses": ()}) as stack:
        reports = {new_sid(): report for report in (("delivered", None), ("read", None),
                                                    ("failed", 63003), ("queued", None))}  # fmt: skip
        answers = await asyncio.gather(*(post_status(stack, sid, *r) for sid, r in reports.items()))
        for answer in answers:
            assert_empty_twiml(answer)
        kept = await early_reports(stack)
        assert sorted(kept) == sorted(
            (sid, status, str(code) if code else None)
            for sid, (status, code) in reports.items() if status != "queued"
        )  # fmt: skip


async def early_reports(stack: Stack) -> list[tuple[str, str, str | None]]:
    async with stack.service.db.session() as session:
        rows = await session.scalars(
            select(Delivery).where(Delivery.status == "early").order_by(Delivery.id)
        )
        return [(r.platform_id or "", r.message["report"], r.error_code) for r in rows]


async def test_reports_that_come_before_the_create_call_answers_are_applied(backend):
    # Twilio may post a message's status callbacks before its create call has answered, so
    # before the sender knows the message's sid. Here every report comes that early. Would
    # catch them dropped: the delivery would stay "sent", and the member who blocked us
    # would stay reachable.
    fine, blocking = whatsapp_number(), whatsapp_number()
    twilio = {"early_callbacks": 4, "callback_delay": 0.0, "blocked": [blocking]}
    async with running(backend, twilio=twilio) as stack:
        members = {}
        for number in (fine, blocking):
            member = Member(stack, "whatsapp")
            member.address = number
            members[number] = member
            assert len(await member.say("hello")) == 1
        await stack.twilio.settle()
        assert all(c.response_status == 200 for c in stack.twilio.callbacks)

        # The reports kept are applied once the sender has recorded its sends (it gathers
        # them into one commit), each in turn: wait for the last of them.
        async def applied() -> Any:
            [read] = await deliveries_to(stack, "whatsapp", fine)
            [refused] = await deliveries_to(stack, "whatsapp", blocking)
            done = (read.status, refused.status) == ("read", "undelivered")
            return (read, refused) if done else None

        read, refused = await eventually(applied)
        assert read.platform_id == stack.twilio.to(fine)[0].sid
        assert refused.error_code == "63014"

        async def blocked() -> Any:  # marked unreachable right after the refusal is recorded
            contact = await _contact(stack, members[blocking])
            return contact.unreachable_at is not None

        assert await eventually(blocked)
        assert (await _contact(stack, members[fine])).unreachable_at is None
        assert await early_reports(stack) == []  # each taken by its send


async def test_a_report_kept_just_as_the_sender_records_its_send_is_applied(backend, monkeypatch):
    # The webhook finds the sid unknown; before it has kept the report, the sender records
    # the send and finds no report to apply. Would catch the report kept for ever, never
    # applied: the webhook looks again once it has kept it.
    async with running(backend, twilio={"statuses": ()}) as stack:
        member = Member(stack, "whatsapp")
        sent = await _welcomed(stack, member)
        sid = new_sid()
        keep = outbox.keep_early_report

        async def sender_records_meanwhile(db: Any, *args: Any) -> None:
            async with db.session() as session, session.begin():
                row = await session.get(Delivery, sent.id)
                assert row is not None
                row.platform_id = sid  # as if this were the send being recorded now
            assert await outbox.take_early_reports(db, [sid]) == []  # too soon for the sender
            await keep(db, *args)

        monkeypatch.setattr(outbox, "keep_early_report", sender_records_meanwhile)
        assert_empty_twiml(await post_status(stack, sid, "read"))
        assert (await _delivery(stack, sent.id)).status == "read"
        assert await early_reports(stack) == []


async def test_a_member_not_on_whatsapp_or_blocking_us_becomes_unreachable(backend):
    """The fake reports these through signed callbacks, as Twilio does, some time after
    accepting the message."""
    gone, blocking, fine = whatsapp_number(), whatsapp_number(), whatsapp_number()
    twilio = {"not_on_whatsapp": [gone], "blocked": [blocking]}
    async with running(backend, twilio=twilio) as stack:

        async def after_our_record(callback: StatusCallback) -> int:
            # Twilio reports seconds after accepting a message, the fake 10 ms after: on a busy
            # machine that can come before the sender has written down the message's sid at
            # all, and the webhook waits only a second for it. Reported once it is written.
            sid = callback.params["MessageSid"]
            await eventually(lambda: _sent_as(stack, sid))
            headers = {"X-Twilio-Signature": callback.signature}
            return (
                await post_form(stack, urlsplit(callback.url).path, callback.params, headers)
            ).status_code

        stack.twilio.on_callback = after_our_record
        members = {}
        for number in (gone, blocking, fine):
            member = Member(stack, "whatsapp")
            member.address = number
            members[number] = member
            await member.say("hello")
        await stack.twilio.settle()
        for number, code in ((gone, "63003"), (blocking, "63014")):

            async def marked(member: Member = members[number]) -> bool:
                return (await _contact(stack, member)).unreachable_at is not None

            await eventually(marked)
            delivery = (await deliveries_to(stack, "whatsapp", number))[-1]
            assert delivery.error_code == code
            assert delivery.status == ("failed" if code == "63003" else "undelivered")
        assert (await _contact(stack, members[fine])).unreachable_at is None
        assert all(c.response_status == 200 for c in stack.twilio.callbacks)


async def test_an_unsubscribed_member_is_unreachable_and_their_queue_is_skipped(backend):
    async with running(backend, twilio={"statuses": ()}) as stack:
        member = Member(stack, "whatsapp")
        sent = await _welcomed(stack, member)
        assert sent.platform_id is not None
        contact = await _contact(stack, member)
        async with stack.service.db.session() as session, session.begin():
            waiting = Delivery(
                contact_id=contact.id,
                channel="whatsapp",
                address=member.address,
                priority=5,
                message={"text": "news", "buttons": []},
                due_at=time.time() + 3600,  # a scheduled broadcast
            )
            session.add(waiting)
        assert_empty_twiml(await post_status(stack, sent.platform_id, "failed", 21610))
        assert (await _contact(stack, member)).unreachable_at is not None
        skipped = await _delivery(stack, waiting.id)
        assert (skipped.status, skipped.error_code) == ("skipped", "unreachable")
        # a repeat of the same report changes nothing more
        assert_empty_twiml(await post_status(stack, sent.platform_id, "failed", 21610))


async def test_a_late_failure_of_an_old_message_does_not_hide_a_member_who_wrote_since(backend):
    async with running(backend, twilio={"statuses": ()}) as stack:
        member = Member(stack, "whatsapp")
        old = await _welcomed(stack, member)
        assert old.platform_id is not None
        assert await member.say("2")  # they answered after the first message went out
        assert_empty_twiml(await post_status(stack, old.platform_id, "undelivered", 63014))
        assert (await _delivery(stack, old.id)).status == "undelivered"
        assert (await _contact(stack, member)).unreachable_at is None
        latest = (await deliveries_to(stack, "whatsapp", member.address))[-1]
        assert latest.platform_id is not None
        assert_empty_twiml(await post_status(stack, latest.platform_id, "undelivered", 63014))
        assert (await _contact(stack, member)).unreachable_at is not None
