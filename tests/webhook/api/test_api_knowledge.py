"""The knowledge API: the seeded topics, a new topic answered to paraphrases in English and
Romanian, an edit, an archive, the history with a revert, stale translations, and the
helplines; who may do what; everything in the audit log. On both backends."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from app.web import create_app
from bot.config import Settings
from bot.storage.models import AuditEntry
from tests.harness import eventually
from tests.webhook.api.conftest import Api

# The promise: a change is answered by every process within 10 seconds (how long it takes is
# measured by `python -m bench knowledge`). The checks from a change to its answer hold the
# promise itself; setting up around them keeps the harness's generous deadlines.
ANSWERED_WITHIN = 10.0

FORUM: dict[str, Any] = {
    "key": "forum",
    "titles": {"en": "The annual forum", "ro": "Forumul anual"},
    "answers": {
        "en": "The ChildPact annual forum takes place in Chisinau on 14-15 May.",
        "ro": "Forumul anual ChildPact are loc la Chișinău, pe 14-15 mai.",
    },
    "examples": {
        "en": [
            "When is the annual forum?",
            "Where will this year's forum take place?",
            "How can I register for the forum?",
        ],
        "ro": [
            "Când are loc forumul anual?",
            "Unde se ține forumul anul acesta?",
            "Cum mă înscriu la forum?",
        ],
    },
}
# Asked as members would, in words none of the examples has.
PARAPHRASES = [
    ("what are the dates of the yearly forum?", "en"),
    ("how do I sign up for the annual forum", "en"),
    ("când este forumul anual?", "ro"),
    ("cum ne putem înscrie la forumul anual?", "ro"),
]


async def answered(api: Api, question: str, locale: str) -> dict[str, Any]:
    reply = await api.call("viewer", "POST", "/api/knowledge/try",
                           json={"question": question, "locale": locale})  # fmt: skip
    assert reply.status_code == 200, reply.text
    return reply.json()


async def answers_with(api: Api, question: str, locale: str, topic: str, text: str = "") -> bool:
    found = await answered(api, question, locale)
    return found["topic"] == topic and text in found["answer"]


async def not_answered_with(api: Api, question: str, locale: str, topic: str) -> bool:
    found = await answered(api, question, locale)
    return found["topic"] != topic and topic not in (found["runner_up"], None)


async def test_the_seeded_knowledge_is_listed_complete_in_every_language(api: Api):
    listed = await api.call("viewer", "GET", "/api/knowledge/topics")
    assert listed.status_code == 200, listed.text
    topics = listed.json()["topics"]
    assert len(topics) == 22 and topics[0]["key"] == "who_we_are"
    assert all(not t["missing"] and not t["stale"] for t in topics)
    assert len(topics[0]["answers"]) == 13 and len(topics[0]["examples"]["ro"]) >= 5
    assert (await api.call(None, "GET", "/api/knowledge/topics")).status_code == 401
    one = await api.call("viewer", "GET", "/api/knowledge/topics/founding")
    assert "2011" in one.json()["answers"]["en"]
    assert (await api.call("viewer", "GET", "/api/knowledge/topics/nothing")).status_code == 404


async def test_a_new_topic_is_answered_to_paraphrases_in_both_languages_then_edited_and_archived(
    api: Api,
):
    assert not await answers_with(api, *PARAPHRASES[0], "forum")
    assert (
        await api.call("viewer", "POST", "/api/knowledge/topics", json=FORUM)
    ).status_code == 403
    made = await api.call("editor", "POST", "/api/knowledge/topics", json=FORUM)
    assert made.status_code == 201, made.text
    assert made.json()["missing"] == [
        loc for loc in made.json()["missing"] if loc not in ("en", "ro")
    ]
    assert "ru" in made.json()["missing"] and made.json()["stale"] == []
    assert (await api.call("admin", "POST", "/api/knowledge/topics", json=FORUM)).status_code == 409

    async def every_paraphrase(check: Any) -> bool:
        """One deadline for all of them, from the change."""
        return all([await check(api, q, loc, "forum") for q, loc in PARAPHRASES])

    await eventually(lambda: every_paraphrase(answers_with), ANSWERED_WITHIN, 0.2)
    ro = await answered(api, "când este forumul anual?", "ro")
    assert ro["answer"].startswith("Forumul anual ChildPact") and ro["lang"] == "ro"
    assert ro["runner_up"] and ro["runner_up"] != "forum" and ro["score"] > ro["runner_up_score"]
    # a language without its own text: the English answer
    ru = await answered(api, "how do I sign up for the annual forum", "ru")
    assert ru["topic"] == "forum"

    edit = {"answers": {"ro": "Forumul anual ChildPact are loc la Iași, pe 20 mai."}}
    changed = await api.call("editor", "PATCH", "/api/knowledge/topics/forum", json=edit)
    assert changed.status_code == 200, changed.text
    await eventually(lambda: answers_with(api, "când este forumul anual?", "ro", "forum", "Iași"),
                     ANSWERED_WITHIN, 0.2)  # fmt: skip

    archived = await api.call("editor", "POST", "/api/knowledge/topics/forum/archive")
    assert archived.status_code == 200 and archived.json()["archived"] is True
    await eventually(lambda: every_paraphrase(not_answered_with), ANSWERED_WITHIN, 0.2)
    live = (await api.call("viewer", "GET", "/api/knowledge/topics")).json()["topics"]
    assert "forum" not in [t["key"] for t in live]
    restored = await api.call("editor", "POST", "/api/knowledge/topics/forum/restore")
    assert restored.json()["archived"] is False
    await eventually(lambda: answers_with(api, *PARAPHRASES[2], "forum"), ANSWERED_WITHIN, 0.2)

    async with api.service.db.session() as session:
        actions = list(await session.scalars(
            select(AuditEntry.action).where(AuditEntry.action.like("knowledge.%")).order_by(AuditEntry.id)
        ))  # fmt: skip
    assert actions == [
        "knowledge.create",
        "knowledge.update",
        "knowledge.archive",
        "knowledge.restore",
    ]


async def test_a_translation_is_stale_after_the_english_changes_until_it_is_written_again(api: Api):
    path = "/api/knowledge/topics/contact"
    english = {"answers": {"en": "Write to the secretariat at office@childpact.org."}}
    changed = await api.call("editor", "PATCH", path, json=english)
    assert changed.status_code == 200, changed.text
    assert set(changed.json()["stale"]) == {"sq", "hy", "az", "bs", "bg", "ka", "ro", "ru", "sr",
                                            "sr_Latn", "tr", "uk"}  # fmt: skip
    # an example added is no translation: Romanian stays stale until its text is written
    taught = await api.call("editor", "PATCH", path, json={"examples": {"ro": ["cum vă scriu?"]}})
    assert "ro" in taught.json()["stale"] and taught.json()["examples"]["ro"] == ["cum vă scriu?"]
    romanian = {"answers": {"ro": "Scrieți secretariatului la office@childpact.org."}}
    written = await api.call("editor", "PATCH", path, json=romanian)
    assert "ro" not in written.json()["stale"] and "ru" in written.json()["stale"]


async def test_the_history_shows_who_changed_what_and_a_revert_brings_it_back(api: Api):
    path = "/api/knowledge/topics/founding"
    before = (await api.call("viewer", "GET", path)).json()
    await api.call("editor", "PATCH", path, json={"titles": {"ro": "Fondarea coaliției"}})
    await api.call("admin", "PATCH", path, json={"answers": {"en": "Founded in 2011."}})
    history = (await api.call("viewer", "GET", f"{path}/history")).json()["changes"]
    assert [(c["actor"], c["action"], c["languages"]) for c in history] == [
        ("admin@childpact.org", "update", ["en"]),
        ("editor@childpact.org", "update", ["ro"]),
    ]
    assert history[0]["before"]["answers"]["en"] == before["answers"]["en"]
    assert history[0]["after"]["answers"]["en"] == "Founded in 2011."
    first = history[1]["id"]
    denied = await api.call("viewer", "POST", f"{path}/history/{first}/revert")
    assert denied.status_code == 403
    reverted = await api.call("editor", "POST", f"{path}/history/{first}/revert")
    assert reverted.status_code == 200, reverted.text
    assert reverted.json()["titles"]["ro"] == before["titles"]["ro"]
    assert reverted.json()["answers"]["en"] == before["answers"]["en"]
    assert reverted.json()["stale"] == []
    latest = (await api.call("viewer", "GET", f"{path}/history")).json()["changes"][0]
    assert latest["action"] == "revert" and latest["actor"] == "editor@childpact.org"
    other = await api.call(
        "editor", "POST", f"/api/knowledge/topics/history/history/{first}/revert"
    )
    assert other.status_code == 404


async def test_what_is_refused(api: Api):
    for body in (
        {**FORUM, "key": "Has Spaces"},
        {**FORUM, "answers": {"ro": "Fără engleză"}},
        {**FORUM, "titles": {"en": "x", "tlh": "x"}},
        {**FORUM, "titles": {"en": "x" * 201}},
    ):
        found = await api.call("editor", "POST", "/api/knowledge/topics", json=body)
        assert found.status_code == 422, (body, found.text)
    emptied = {"answers": {"en": ""}}
    kept = await api.call("editor", "PATCH", "/api/knowledge/topics/contact", json=emptied)
    assert kept.status_code == 422
    md = await api.call("md_editor", "PATCH", "/api/knowledge/topics/contact",
                        json={"answers": {"ro": "x"}})  # fmt: skip
    assert md.status_code == 403
    assert (await api.call("md_editor", "GET", "/api/knowledge/topics/contact")).status_code == 200


async def test_administrators_correct_a_helpline_and_a_disclosure_is_shown_it(api: Api):
    listed = (await api.call("viewer", "GET", "/api/helplines")).json()
    assert "RO" in listed["unverified"] and "DEFAULT" in listed["unverified"]
    ro = await api.call("viewer", "GET", "/api/helplines/RO")
    assert ro.json()["number"] == "116 111" and ro.json()["verified_by"] is None
    line = {"name": "Child helpline", "number": "0800 11 22 33", "hours": "24/7",
            "emergency": ["112"], "verified": True}  # fmt: skip
    assert (await api.call("editor", "PUT", "/api/helplines/DEFAULT", json=line)).status_code == 403
    put = await api.call("admin", "PUT", "/api/helplines/DEFAULT", json=line)
    assert put.status_code == 200, put.text
    assert put.json()["verified_by"] == "admin@childpact.org" and put.json()["hours"] == "24/7"
    assert "DEFAULT" not in (await api.call("viewer", "GET", "/api/helplines")).json()["unverified"]
    disclosure = "my neighbour beats his little boy every night, he is in danger right now"

    async def shown() -> bool:
        found = await answered(api, disclosure, "en")
        return found["kind"] == "safeguarding" and "0800 11 22 33" in found["answer"]

    await eventually(shown, ANSWERED_WITHIN, 0.2)
    bad = await api.call("admin", "PUT", "/api/helplines/RO", json={**line, "number": "call me"})
    assert bad.status_code == 422
    async with api.service.db.session() as session:
        actions = list(await session.scalars(
            select(AuditEntry.action).where(AuditEntry.action.like("helpline.%"))
        ))  # fmt: skip
    assert actions == ["helpline.update"]


async def test_an_unanswered_question_is_taught_to_a_topic_or_starts_one_and_leaves_the_list(
    api: Api,
):
    from bot.secretariat.inbox import count_unanswered

    asked = [("ro", "unde pot găsi raportul anual al coaliției?"), ("en", "when is the forum?")]
    async with api.service.db.session() as session, session.begin():
        for locale, question in asked:
            await count_unanswered(session, locale, question, "RO")
    listed = (await api.call("viewer", "GET", "/api/unanswered")).json()["questions"]
    assert {q["question"] for q in listed} >= {q for _, q in asked}

    body = {"question": asked[0][1], "locale": "ro", "topic": "contact"}
    assert (await api.call("viewer", "POST", "/api/knowledge/teach", json=body)).status_code == 403
    taught = await api.call("editor", "POST", "/api/knowledge/teach", json=body)
    assert taught.status_code == 200, taught.text
    assert taught.json()["examples"]["ro"][-1] == asked[0][1]
    started = await api.call("editor", "POST", "/api/knowledge/teach", json={
        "question": asked[1][1], "locale": "en",
        "new": {"key": "forum", "title": "The forum", "answer": "The forum is on 14 May."},
    })  # fmt: skip
    assert started.status_code == 200, started.text
    assert started.json()["examples"] == {"en": [asked[1][1]]}
    listed = (await api.call("viewer", "GET", "/api/unanswered")).json()["questions"]
    assert not {q["question"] for q in listed} & {q for _, q in asked}
    await eventually(
        lambda: answers_with(api, "when is the forum?", "en", "forum", "14 May"),
        ANSWERED_WITHIN,
        0.2,
    )
    async with api.service.db.session() as session:
        actions = list(await session.scalars(
            select(AuditEntry.action).where(AuditEntry.action == "knowledge.teach")
        ))  # fmt: skip
    assert len(actions) == 2


# A topic the knowledge has nothing near, taught three questions a language; then asked in
# words written apart from the examples (before the matcher was ever run on them), none of their
# sentences: what a member would type. Of the six, three are recognised; the other three are
# kept below as what the matcher does not learn yet.
TRAININGS: dict[str, Any] = {
    "key": "trainings",
    "titles": {"en": "Trainings for member organisations", "ro": "Instruiri pentru membri"},
    "answers": {
        "en": "ChildPact runs online trainings for the staff of member organisations every "
        "quarter; the national coalition sends the invitations.",
        "ro": "ChildPact organizează în fiecare trimestru instruiri online pentru personalul "
        "organizațiilor membre; coaliția națională trimite invitațiile.",
    },
    "examples": {
        "en": [
            "Do you run trainings for member organisations?",
            "Are there online courses for our staff?",
            "How can our team take part in your capacity-building sessions?",
        ],
        "ro": [
            "Organizați instruiri pentru organizațiile membre?",
            "Există cursuri online pentru personalul nostru?",
            "Cum poate echipa noastră să participe la sesiunile de formare?",
        ],
    },
}
TRAINING_PARAPHRASES = [
    ("is there any training we could attend", "en"),
    ("pot să particip la un training organizat de voi?", "ro"),
    ("cum ne înscriem la o instruire online", "ro"),
]
NOT_LEARNT_YET = [
    # "workshops" is no example's word, and "offer" only out-of-scope examples have: abstains
    ("do u offer workshops for ngo staff", "en"),
    # "join" and "organise" are nearer the examples of get_involved
    ("can my colleagues join a course you organise?", "en"),
    # "angajați" (employees) only out-of-scope examples have (jobs): taken for out of scope
    ("aveți cursuri de formare pentru angajați?", "ro"),
]


async def _taught_trainings(api: Api) -> None:
    examples = {q.casefold() for qs in TRAININGS["examples"].values() for q in qs}
    asked = TRAINING_PARAPHRASES + NOT_LEARNT_YET
    assert not examples & {q.casefold() for q, _ in asked}
    for question, locale in asked:
        assert (await answered(api, question, locale))["topic"] != "trainings"
    made = await api.call("editor", "POST", "/api/knowledge/topics", json=TRAININGS)
    assert made.status_code == 201, made.text

    async def recognised() -> bool:
        return await answers_with(api, *TRAINING_PARAPHRASES[0], "trainings")

    await eventually(recognised, ANSWERED_WITHIN, 0.2)


async def recognitions(api: Api, asked: list[tuple[str, str]]) -> dict[str, tuple[str, str]]:
    found = {q: await answered(api, q, loc) for q, loc in asked}
    for f in found.values():
        assert f["topic"] != "trainings" or f["answer"] == TRAININGS["answers"][f["lang"]]
    return {q: (f["topic"], f["lang"]) for q, f in found.items()}


async def test_a_topic_taught_three_questions_a_language_is_recognised_in_other_words(api: Api):
    await _taught_trainings(api)
    assert await recognitions(api, TRAINING_PARAPHRASES) == {
        q: ("trainings", loc) for q, loc in TRAINING_PARAPHRASES
    }


@pytest.mark.xfail(
    strict=True,
    reason="issue 17: a word no example has (workshop, course, employees) is not learnt from "
    "three examples a language; passes, and must then be moved above, once the matcher does",
)
async def test_a_topic_taught_three_questions_is_not_yet_recognised_in_words_none_of_them_has(
    api: Api,
):
    await _taught_trainings(api)
    assert await recognitions(api, NOT_LEARNT_YET) == {
        q: ("trainings", loc) for q, loc in NOT_LEARNT_YET
    }


def test_the_contract_named_by_the_issue_is_in_the_openapi_document():
    document = create_app(Settings(_env_file=None)).openapi()
    paths, schemas = document["paths"], document["components"]["schemas"]
    wanted = {
        "/api/knowledge/topics": {"get", "post"},
        "/api/knowledge/topics/{key}": {"get", "patch"},
        "/api/knowledge/topics/{key}/archive": {"post"},
        "/api/knowledge/topics/{key}/restore": {"post"},
        "/api/helplines/{country}": {"get", "put"},
    }
    assert {path: set(paths[path]) & methods for path, methods in wanted.items()} == wanted

    def schema(ref: dict[str, Any]) -> dict[str, Any]:
        return schemas[ref["$ref"].rsplit("/", 1)[1]]

    def body(path: str, method: str) -> dict[str, Any]:
        return schema(paths[path][method]["requestBody"]["content"]["application/json"]["schema"])

    def answer(path: str, method: str) -> dict[str, Any]:
        found = next(r for code, r in paths[path][method]["responses"].items() if code[0] == "2")
        return schema(found["content"]["application/json"]["schema"])

    per_locale = {"type": "object", "additionalProperties": {"type": "string"}}
    examples = {
        "type": "object",
        "additionalProperties": {"type": "array", "items": {"type": "string"}},
    }

    def shaped(props: dict[str, Any], name: str, shape: dict[str, Any]) -> bool:
        found = props[name]
        options = found.get("anyOf", [found])  # a PATCH may leave any of them out
        return any(all(o.get(k) == v for k, v in shape.items()) for o in options)

    topic = answer("/api/knowledge/topics/{key}", "get")
    for one in (topic, body("/api/knowledge/topics", "post"),
                body("/api/knowledge/topics/{key}", "patch")):  # fmt: skip
        props = one["properties"]
        assert all(shaped(props, n, per_locale) for n in ("titles", "answers", "more"))
        assert shaped(props, "examples", examples)
    assert {"key", "titles", "answers", "more", "examples"} <= set(topic["required"])
    assert "key" in body("/api/knowledge/topics", "post")["required"]
    for path, method in (("/api/knowledge/topics/{key}/archive", "post"),
                         ("/api/knowledge/topics/{key}/restore", "post"),
                         ("/api/knowledge/topics/{key}", "patch"),
                         ("/api/knowledge/topics", "post")):  # fmt: skip
        assert answer(path, method) == topic
    listed = answer("/api/knowledge/topics", "get")["properties"]["topics"]["items"]
    assert schema(listed) == topic
    line = answer("/api/helplines/{country}", "get")
    assert answer("/api/helplines/{country}", "put") == line
    assert {"name", "number", "hours", "emergency", "verified_by", "verified_at"} <= set(
        line["properties"]
    )
    assert {"name", "number", "hours", "emergency", "verified"} <= set(
        body("/api/helplines/{country}", "put")["properties"]
    )
