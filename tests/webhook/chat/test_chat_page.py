"""The web chat page, its static files and its JSON API, served by the real app on SQLite."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from app.web import create_app
from bot.config import Settings
from bot.conversation.commands import words_in
from bot.i18n import LANGUAGE_NAMES, Translator
from bot.storage.models import Inbound
from tests.harness import eventually
from webhook.chat import PAGE_TEXTS, STATIC

SHOWN_ATTRIBUTES = ("aria-label", "title", "placeholder", "alt")


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(_env_file=None, database_url=f"sqlite+aiosqlite:///{tmp_path}/t.db")
    with TestClient(create_app(settings)) as client:
        yield client


def page_texts(locale: str) -> dict[str, str]:
    t = Translator(locale)
    texts = {key: t.gettext(text) for key, text in PAGE_TEXTS.items()}
    # The restart question names the word that deletes a member's data, as they would type it.
    texts["restart_confirm"] = texts["restart_confirm"].format(deleteme=words_in(t, "deleteme")[0])
    assert not any("{" in text for text in texts.values())
    return texts


class Page(HTMLParser):
    """What a member sees of the page: its words, the texts handed to the script, its links."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.lang = ""
        self.body_class = ""
        self.shown: list[str] = []
        self.texts: dict[str, str] = {}
        self.addresses: list[str] = []
        self._in: str | None = None
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if tag == "html":
            self.lang = values.get("lang", "")
        if tag == "body":
            self.body_class = values.get("class", "")
        self.shown += [values[name] for name in SHOWN_ATTRIBUTES if values.get(name)]
        self.addresses += [
            values[name] for name in ("src", "href") if not values.get(name, "#").startswith("#")
        ]
        self._in = values.get("id") if tag == "script" else tag

    def handle_endtag(self, tag: str) -> None:
        self._in = None

    def handle_data(self, data: str) -> None:
        if self._in == "chat-texts":
            self.texts = json.loads(data)
        elif self._in not in ("script", "style") and data.strip():
            self.shown.append(data.strip())


class WebMember:
    """A member on the web chat, talking to the JSON API as the page's script does."""

    def __init__(self, client: TestClient, lang: str = "en") -> None:
        self.client = client
        self.session = uuid.uuid4().hex
        self.lang = lang
        self.cursor = 0

    def post(self, text: str = "", payload: str | None = None, id: str | None = None) -> Any:
        body = {"session": self.session, "id": id or uuid.uuid4().hex, "text": text}
        return self.client.post(
            "/chat/api/messages", json=body | {"payload": payload, "lang": self.lang}
        )

    def say(self, text: str) -> list[dict[str, Any]]:
        assert self.post(text).status_code == 202
        return self.replies()

    def tap(self, payload: str) -> list[dict[str, Any]]:
        assert self.post(payload=payload).status_code == 202
        return self.replies()

    def fetch(self, wait: float, after: int | None = None) -> list[dict[str, Any]]:
        query = {
            "session": self.session,
            "after": self.cursor if after is None else after,
            "wait": wait,
        }
        response = self.client.get("/chat/api/messages", params=query)
        assert response.status_code == 200, response.text
        body = response.json()
        if after is None:
            self.cursor = body["cursor"]
        return body["messages"]

    def replies(self) -> list[dict[str, Any]]:
        """Everything the bot answered, once the service has handled all that was sent.

        Waiting for the service's own state, not for a quiet half second: on a busy machine a
        second answer can come later than any pause a test would choose.
        """
        self.client.portal.call(handled, self.client.app.state.service)
        messages = self.fetch(wait=10)
        while more := self.fetch(wait=0):
            messages += more
        return messages


async def handled(service: Any) -> None:
    """Wait until no stored message is left pending: its replies are then in the outbox."""

    async def idle() -> bool:
        async with service.db.session() as session:
            pending = await session.scalar(
                select(func.count()).select_from(Inbound).where(Inbound.status == "pending")
            )
        return pending == 0

    await eventually(idle)


def payloads(message: dict[str, Any]) -> list[str]:
    return [button["payload"] for row in message["buttons"] for button in row]


def labels(message: dict[str, Any]) -> list[str]:
    return [button["label"] for row in message["buttons"] for button in row]


@pytest.mark.parametrize(
    ("query", "accept", "locale"),
    [
        ("", "ro-RO,ro;q=0.9,en;q=0.8", "ro"),
        ("", "fr-FR,ru;q=0.7", "ru"),
        ("?lang=uk", "ro-RO", "uk"),
        ("?lang=sr-Latn-RS", "", "sr_Latn"),
        ("", "fr-FR", "en"),
    ],
)
def test_the_page_speaks_the_members_language(client, query, accept, locale):
    response = client.get(f"/chat{query}", headers={"Accept-Language": accept})
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    page = Page(response.text)
    assert page.lang == locale.replace("_", "-")
    assert page.texts == page_texts(locale)
    assert page.body_class == "page"


def test_every_word_on_the_page_comes_from_the_catalog(client):
    page = Page(client.get("/chat?lang=ru").text)
    assert page.shown, "the page shows nothing"
    assert set(page.shown) <= set(page_texts("ru").values())
    for name in ("chat.js", "embed.js"):
        script = (STATIC / name).read_text()
        assert not [text for text in PAGE_TEXTS.values() if text in script]


def test_the_page_makes_no_request_elsewhere(client):
    page = Page(client.get("/chat").text)
    assert page.addresses
    assert all(
        re.fullmatch(r"chat/static/[a-z0-9_-]+\.(js|css|svg)\?v=\d+", a) for a in page.addresses
    )
    assert not re.search(r"https?://|//[a-z]", (STATIC / "chat.css").read_text())


def test_the_embedded_page_is_compact(client):
    assert Page(client.get("/chat?embed=1&lang=bg").text).body_class == "embed"


@pytest.mark.parametrize(
    ("path", "media"),
    [
        ("/chat/static/chat.js", "text/javascript"),
        ("/chat/static/chat.css", "text/css"),
        ("/chat/static/icon.svg", "image/svg+xml"),
        ("/chat/embed.js", "text/javascript"),
    ],
)
def test_static_files_are_cacheable(client, path, media):
    response = client.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(media)
    assert re.search(r"max-age=\d{3,}", response.headers["cache-control"])
    assert "public" in response.headers["cache-control"]


def test_static_files_stay_small():
    # A member on a slow phone network loads these before the first word.
    sizes = {name: (STATIC / name).stat().st_size for name in ("chat.js", "chat.css", "embed.js")}
    assert sum(sizes.values()) < 28_000, sizes
    assert len((STATIC / "chat.js").read_text().splitlines()) < 300


def test_an_unknown_static_file_is_not_found(client):
    assert client.get("/chat/static/missing.js").status_code == 404
    assert client.get("/chat/static/..%2Fapp.py").status_code == 404


def test_a_new_member_is_welcomed_and_onboarded(client):
    ana = WebMember(client, lang="ro-RO")
    ro = Translator("ro")

    welcome = ana.say("Bună ziua")  # any first words, no "/start" needed
    assert ro("Do you agree?") in welcome[-1]["text"]
    assert payloads(welcome[-1]) == ["consent:yes", "consent:no"]
    assert labels(welcome[-1]) == [ro("Yes, I agree"), ro("No, thanks")]

    languages = ana.tap("consent:yes")
    assert languages[-1]["text"] == ro("Which language do you prefer?")
    assert payloads(languages[-1])[0] == "lang:ro"
    assert set(labels(languages[-1])) == set(LANGUAGE_NAMES.values())

    countries = ana.tap("lang:uk")
    assert countries[-1]["text"] == Translator("uk")("Which country do you work in?")


def test_a_reloaded_page_gets_the_whole_history_again(client):
    member = WebMember(client)
    member.say("/start")
    member.tap("consent:yes")
    history = member.fetch(wait=0, after=0)
    assert [payloads(m)[0] for m in history] == ["consent:yes", "lang:en"]
    assert [m["id"] for m in history] == sorted(m["id"] for m in history)
    assert member.cursor == history[-1]["id"]


def test_a_repeated_message_is_stored_and_answered_once(client):
    member = WebMember(client)
    first = member.post("hello", id="retried-message-1")
    again = member.post("hello", id="retried-message-1")
    assert (first.status_code, first.json()) == (202, {"stored": True})
    assert (again.status_code, again.json()) == (202, {"stored": False})
    assert len(member.replies()) == 1
    assert member.fetch(wait=1.5) == []


def test_the_same_message_id_in_another_session_is_a_new_message(client):
    one, other = WebMember(client), WebMember(client)
    assert one.post("hello", id="same-id").json() == {"stored": True}
    assert other.post("hello", id="same-id").json() == {"stored": True}


@pytest.mark.parametrize(
    "body",
    [
        {"session": "short", "id": "m1", "text": "hi"},
        {"session": "not/a/valid/session/at/all", "id": "m1", "text": "hi"},
        {"session": "a" * 65, "id": "m1", "text": "hi"},
        {"session": "a" * 32, "id": "m 1", "text": "hi"},
        {"session": "a" * 32, "id": "m1", "text": "x" * 4097},
        {"session": "a" * 32, "id": "m1", "text": "   "},
        {"session": "a" * 32, "id": "m1", "payload": "p" * 65},
    ],
)
def test_a_bad_message_is_refused(client, body):
    assert client.post("/chat/api/messages", json=body).status_code == 422


def test_replies_to_an_invalid_session_are_refused(client):
    assert client.get("/chat/api/messages", params={"session": "short"}).status_code == 422
    params = {"session": "a" * 32, "wait": 26}
    assert client.get("/chat/api/messages", params=params).status_code == 422


def test_the_page_learns_that_its_member_was_erased(client):
    """The goodbye of an erasure says that the member is gone, so that the page forgets what
    it kept; so does every later poll of the session, even if the page missed the goodbye."""
    member, other = WebMember(client), WebMember(client)
    member.say("/start")
    member.tap("consent:yes")
    other.say("/start")

    def poll(who: WebMember, had: tuple[int, ...] = ()) -> dict[str, Any]:
        params = {"session": who.session, "after": who.cursor, "wait": 0, "had": had}
        response = client.get("/chat/api/messages", params=params)
        assert response.status_code == 200, response.text
        return response.json()

    assert poll(member)["erased"] is False
    member.say("delete me")
    assert member.post(payload="erase:yes").status_code == 202
    client.portal.call(handled, client.app.state.service)
    goodbye = poll(member)
    assert goodbye["erased"] is True
    assert [m["text"] for m in goodbye["messages"]] == [
        Translator("en")(
            "Done: I deleted everything I kept about you. Goodbye, and thank you! "
            "If you write to me again, we start afresh."
        )
    ]
    assert "farewell" not in goodbye["messages"][0]  # the page needs the flag of the poll alone
    # A page gone before that answer reached it (closed, reloaded, a dropped connection) asks
    # again: the goodbye stays until a poll says the page drew it.
    assert goodbye["messages"][0]["once"] is True
    assert poll(member) == goodbye
    member.cursor = goodbye["cursor"]
    later = poll(member, had=(goodbye["messages"][0]["id"],))
    assert later == {"messages": [], "cursor": goodbye["cursor"], "erased": True, "locale": None}
    member.cursor = 0
    assert poll(member) == {"messages": [], "cursor": 0, "erased": True, "locale": None}
    assert poll(other)["erased"] is False  # another member is untouched
    # A bot text that reads like the goodbye is no erasure: only the erasure sets the flag.
    other.say("Done: I deleted everything I kept about you.")
    assert poll(other)["erased"] is False
