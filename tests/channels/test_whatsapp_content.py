"""WhatsApp choices as quick replies and lists (Twilio's Content API): which form a set of
choices takes, numbered text where none fits or Twilio will not make one, and each content item
made once, across processes and restarts, on both backends."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest

from bot.channels.base import Outcome
from bot.channels.whatsapp import WhatsAppChannel
from bot.channels.whatsapp_content import LIST_PICKER, QUICK_REPLY, interactive
from bot.coordination import create_coordinator
from bot.delivery.contents import DatabaseContentStore
from bot.messages import Button, OutboundMessage
from bot.storage.db import Database
from tests.channels.test_whatsapp import AUTH, SID, make_settings
from tests.fakes.server import refuse_internet
from tests.fakes.twilio_api import FakeTwilio

MEMBER = "whatsapp:+40722111333"


@pytest.fixture(autouse=True)
def _loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    refuse_internet(monkeypatch)


@pytest.fixture
async def fake() -> AsyncIterator[FakeTwilio]:
    async with FakeTwilio(account_sid=SID, auth_token=AUTH, wrote=[MEMBER]) as running:
        yield running


@pytest.fixture
async def whatsapp(fake: FakeTwilio) -> AsyncIterator[WhatsAppChannel]:
    channel = WhatsAppChannel(make_settings(fake.url, public_url=None))
    await channel.start()
    yield channel
    await channel.stop()


def ask(text: str, labels: list[str], locale: str = "ro") -> OutboundMessage:
    buttons = [[Button(label, f"p:{n}")] for n, label in enumerate(labels)]
    return OutboundMessage(
        text, buttons, choice_hint="Răspundeți cu numărul.", locale=locale, picker="Alegeți",
        more_choices="Mai multe opțiuni:",
    )  # fmt: skip


# ---------------------------------------------------------------- which form


def test_up_to_three_short_labels_are_quick_replies() -> None:
    (made,) = interactive("Sunteți de acord?", [Button("Da", "c:y"), Button("Nu", "c:n")],
                          "ro", "Alegeți")  # fmt: skip
    assert made.types == {QUICK_REPLY: {"body": "Sunteți de acord?", "actions": [
        {"type": "QUICK_REPLY", "title": "Da", "id": "c:y"},
        {"type": "QUICK_REPLY", "title": "Nu", "id": "c:n"},
    ]}}  # fmt: skip


def test_four_choices_or_a_label_over_twenty_make_a_list() -> None:
    four = [Button(w, f"w:{w}") for w in ("Unu", "Doi", "Trei", "Patru")]
    (made,) = interactive("Alegeți", four, "ro", "Alegeți")
    assert made.types[LIST_PICKER]["items"] == [{"item": w, "id": f"w:{w}"}
                                               for w in ("Unu", "Doi", "Trei", "Patru")]  # fmt: skip
    long = "Vreau să vorbesc cu secretariatul"  # 33 letters: over a row's 24 too
    (listed,) = interactive("Meniu", [Button("Despre", "a"), Button(long, "b")], "ro", "Alegeți")
    rows = listed.types[LIST_PICKER]["items"]
    assert rows[1] == {"item": "Vreau să vorbesc cu…", "id": "b", "description": long}


def test_thirteen_choices_come_as_two_lists_and_thirty_one_as_numbered_text() -> None:
    labels = [f"Limba {n}" for n in range(13)]
    buttons = [Button(label, f"lang:{n}") for n, label in enumerate(labels)]
    first, second = interactive("Ce limbă?", buttons, "ro", "Alegeți", "Mai multe:")  # type: ignore[misc]
    assert [i["item"] for i in first.types[LIST_PICKER]["items"]] == labels[:10]
    assert second.types[LIST_PICKER]["body"] == "Mai multe:"
    assert [i["item"] for i in second.types[LIST_PICKER]["items"]] == labels[10:]
    offsets = [Button(f"UTC{n:+d}", f"tz:{n:+d}") for n in range(-12, 15)]
    offsets += [Button("Înapoi la setări", "set:back"), Button("Meniu", "menu:main")]
    lists = interactive("Fus orar?", offsets, "ro", "Alegeți", "Mai multe:")
    assert lists is not None and [len(i.types[LIST_PICKER]["items"]) for i in lists] == [10, 10, 9]
    assert [i.types[LIST_PICKER]["body"] for i in lists] == ["Fus orar?", *["Mai multe:"] * 2]
    many = [Button(f"Zona {n}", f"tz:{n}") for n in range(31)]
    assert interactive("Fus orar?", many, "ro", "Alegeți", "Mai multe:") is None


@pytest.mark.parametrize("labels", [
    ["Da", "Da"],  # the same title twice
    ["x" * 73, "Nu"],  # over a row's description too
    [" ", "Nu"],
])  # fmt: skip
def test_labels_whatsapp_cannot_show_fall_back(labels: list[str]) -> None:
    buttons = [Button(label, f"p:{n}") for n, label in enumerate(labels)]
    assert interactive("Întrebare", buttons, "ro", "Alegeți") is None


def test_a_body_over_1024_characters_falls_back() -> None:
    assert interactive("x" * 1025, [Button("Da", "y")], "ro", "Alegeți") is None


# ---------------------------------------------------------------- through the fake Twilio


async def test_choices_go_as_quick_replies_made_once(fake, whatsapp) -> None:
    message = ask("Sunteți de acord?", ["Da", "Nu"])
    first = await whatsapp.send(MEMBER, message)
    again = await whatsapp.send(MEMBER, ask("Sunteți de acord?", ["Da", "Nu"]))
    assert first.outcome == again.outcome == Outcome.SENT
    (made,) = fake.contents_made
    assert made.language == "ro" and made.status == "unsubmitted"
    assert [m.content_sid for m in fake.to(MEMBER)] == [made.sid, made.sid]
    assert fake.messages[-1].text == "Sunteți de acord?"  # no "1. Da" lines, no hint
    assert made.choices() == [("p:0", "Da"), ("p:1", "Nu")]


async def test_a_long_text_goes_first_and_its_end_carries_the_buttons(fake, whatsapp) -> None:
    paragraph = "Cuvânt " * 100  # 700 characters: two and the question are over 1,024
    text = f"{paragraph.strip()}\n\n{paragraph.strip()}\n\nSunteți de acord?"
    assert (await whatsapp.send(MEMBER, ask(text, ["Da", "Nu"]))).outcome == Outcome.SENT
    sent = fake.to(MEMBER)
    assert [bool(m.content_sid) for m in sent] == [False, True]
    assert len(sent[0].body) <= 1600 and sent[1].text.endswith("Sunteți de acord?")
    assert "".join(m.text for m in sent).count("Cuvânt") == 200


async def test_a_photo_with_choices_goes_as_numbered_text(fake, whatsapp) -> None:
    fake.host_media("https://example.org/p.jpg", "image/jpeg")
    message = ask("Știri", ["Da", "Nu"])
    message.image_url = "https://example.org/p.jpg"
    await whatsapp.send(MEMBER, message)
    assert fake.contents_made == [] and "1. Da\n2. Nu" in fake.messages[-1].body


async def test_when_the_content_api_fails_the_choices_go_as_numbered_text(fake, whatsapp) -> None:
    fake.fail_next(1, status=503)  # the create call; the message itself then goes
    result = await whatsapp.send(MEMBER, ask("Sunteți de acord?", ["Da", "Nu"]))
    assert result.outcome == Outcome.SENT
    assert fake.messages[-1].content_sid is None
    assert fake.messages[-1].body == "Sunteți de acord?\n\n1. Da\n2. Nu\n\nRăspundeți cu numărul."
    # Twilio's own failure passes: the next message makes the item.
    await whatsapp.send(MEMBER, ask("Sunteți de acord?", ["Da", "Nu"]))
    assert len(fake.contents_made) == 1 and fake.messages[-1].content_sid


async def test_an_item_twilio_refuses_is_not_asked_for_again(fake, whatsapp) -> None:
    fake.fail_next(1, status=400)
    await whatsapp.send(MEMBER, ask("Sunteți de acord?", ["Da", "Nu"]))
    requests = fake.requests
    await whatsapp.send(MEMBER, ask("Sunteți de acord?", ["Da", "Nu"]))
    assert fake.contents_made == [] and fake.messages[-1].content_sid is None
    assert fake.requests == requests + 1  # the message alone, no second create


async def test_an_item_deleted_at_twilio_is_made_again(fake, whatsapp) -> None:
    await whatsapp.send(MEMBER, ask("Sunteți de acord?", ["Da", "Nu"]))
    fake.templates.clear()  # deleted in Twilio's console: its SID is unknown now
    fake.any_content = False
    fallback = await whatsapp.send(MEMBER, ask("Sunteți de acord?", ["Da", "Nu"]))
    assert fallback.outcome == Outcome.SENT and "1. Da" in fake.messages[-1].body
    await whatsapp.send(MEMBER, ask("Sunteți de acord?", ["Da", "Nu"]))
    assert len(fake.contents_made) == 2
    assert fake.messages[-1].content_sid == fake.contents_made[-1].sid


async def test_a_list_outside_the_window_is_refused_by_twilio(fake, whatsapp) -> None:
    await whatsapp.send(MEMBER, ask("Ce limbă?", ["Română", "English", "Русский", "Shqip"]))
    (made,) = fake.contents_made
    late = "whatsapp:+40722111444"  # never wrote
    created = await whatsapp.client.messages.create_async(
        to=late, from_="whatsapp:+40700000000", content_sid=made.sid,
        status_callback="http://127.0.0.1:9/s",
    )  # fmt: skip
    await fake.settle()
    assert fake.by_sid(created.sid).statuses[-1] == "failed"
    assert fake.callbacks[-1].params["ErrorCode"] == "63016"


# ---------------------------------------------------------------- across processes


async def test_two_processes_and_a_restart_make_one_item(backend, fake) -> None:
    """Two processes send the same choices at once, then one restarts: one content item."""
    dbs = [Database(backend.database_url, schema=backend.schema) for _ in range(2)]
    await dbs[0].migrate()
    shared = create_coordinator(backend.redis_url, prefix=backend.redis_prefix)
    # With Redis each process has its own connection; without it, one process only.
    coordinators = (
        [shared, create_coordinator(backend.redis_url, prefix=backend.redis_prefix)]
        if backend.redis_url else [shared, shared]
    )  # fmt: skip
    channels = []
    for db, coordinator in zip(dbs, coordinators, strict=True):
        await coordinator.start()
        channel = WhatsAppChannel(make_settings(fake.url, public_url=None))
        channel.contents = DatabaseContentStore(db, coordinator)
        channels.append(channel)
    members = [f"whatsapp:+4072211{n:04d}" for n in range(6)]
    for member in members:
        fake.received(member)
    try:
        results = await asyncio.gather(*(
            channels[n % 2].send(member, ask("Cum vă simțiți azi?", ["Bine", "Așa și așa", "Rău"]))
            for n, member in enumerate(members)
        ))  # fmt: skip
        assert {r.outcome for r in results} == {Outcome.SENT}
        (made,) = fake.contents_made
        assert {m.content_sid for m in fake.messages} == {made.sid}

        # A restart: a new database connection and channel find the item in the table.
        await channels[0].stop()
        await dbs[0].dispose()
        dbs[0] = Database(backend.database_url, schema=backend.schema)
        channels[0] = WhatsAppChannel(make_settings(fake.url, public_url=None))
        channels[0].contents = DatabaseContentStore(dbs[0], coordinators[0])
        await channels[0].send(members[0], ask("Cum vă simțiți azi?", ["Bine", "Așa și așa", "Rău"]))
        assert fake.contents_made == [made] and fake.messages[-1].content_sid == made.sid
    finally:
        for channel in channels:
            await channel.stop()
        for db in dbs:
            await db.dispose()
        for coordinator in {id(c): c for c in coordinators}.values():
            await coordinator.close()


def test_the_items_request_matches_twilios_schema() -> None:
    """What the channel posts passes the fake's check built from Twilio's OpenAPI."""
    from tests.fakes.twilio_api import check_content, render_content

    for labels in (["Da", "Nu"], [f"Opțiunea {n}" for n in range(7)]):
        buttons = [Button(label, f"p:{n}") for n, label in enumerate(labels)]
        (made,) = interactive("Întrebare", buttons, "ro", "Alegeți")  # type: ignore[misc]
        checked = check_content(json.loads(json.dumps(made.request())))
        shown = render_content(checked, None)  # a list's rows: the samples it was made with
        assert [title for _, title in shown.choices()] == labels
