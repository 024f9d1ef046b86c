"""What the bot knows, over HTTP: the topics it answers with their texts per language, their
history, a trial question, and the child helplines per country. Everyone reads; editors of the
whole coalition change topics; administrators change helplines. A change is answered by every
process within seconds."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import LOCALES, Translator
from bot.knowledge import helplines, library
from bot.knowledge.answers import understand
from bot.knowledge.helplines import HelplineError
from bot.knowledge.library import KnowledgeEditError, TopicRecord
from bot.knowledge.live import changed
from bot.secretariat.audit import record
from bot.secretariat.inbox import askers, forget_unanswered
from bot.secretariat.relay import tell_answer
from bot.secretariat.staff import Staff
from webhook.api.common import READ, errors
from webhook.auth import AdminDep, EditorDep, StaffDep
from webhook.deps import ServiceDep

router = APIRouter(prefix="/api", tags=["knowledge"])
CHANGE = errors(401, 403, 404, 409, 422)
KEY_PATTERN = r"^[a-z][a-z0-9_]{0,39}$"
TopicKey = Annotated[str, Path(pattern=KEY_PATTERN, description="the topic's key, e.g. forum")]
Country = Annotated[
    str, Path(pattern=r"^(?:[A-Z]{2}|DEFAULT)$", description="ISO code, or DEFAULT")
]
PER_LOCALE = "per language code (en, ro, ru...); English is what members without their own read"


class Texts(BaseModel):
    titles: dict[str, str] = Field(
        default_factory=dict, description="the topic's button, " + PER_LOCALE
    )
    answers: dict[str, str] = Field(
        default_factory=dict, description="what the bot answers, " + PER_LOCALE
    )
    more: dict[str, str] = Field(default_factory=dict, description='"Tell me more", ' + PER_LOCALE)
    examples: dict[str, list[str]] = Field(
        default_factory=dict, description="questions the bot learns to recognise, " + PER_LOCALE
    )


class KnowledgeTopicOut(Texts):
    # every text map is always in an answer, if empty: the contract says so
    model_config = ConfigDict(json_schema_serialization_defaults_required=True)

    key: str = Field(description="names the topic for good; never changes")
    position: int = Field(description="order in the members' list")
    archived: bool = Field(description="archived: the bot no longer answers with it")
    missing: list[str] = Field(
        description="languages without a title or answer (members read English)"
    )
    stale: list[str] = Field(description="languages written before the English last changed")
    updated_at: datetime | None


class KnowledgeTopics(BaseModel):
    topics: list[KnowledgeTopicOut]


class KnowledgeTopicIn(Texts):
    key: str = Field(pattern=KEY_PATTERN, description="lower-case letters, digits and _")
    position: int | None = Field(default=None, ge=0, le=10_000, description="default: last")


class KnowledgeTopicPatch(BaseModel):
    """Only what is given changes: texts merge per language (an empty text removes that
    language's); a language's examples are replaced by the list given."""

    titles: dict[str, str] | None = None
    answers: dict[str, str] | None = None
    more: dict[str, str] | None = None
    examples: dict[str, list[str]] | None = None
    position: int | None = Field(default=None, ge=0, le=10_000)


class ChangeOut(BaseModel):
    id: int
    at: datetime
    actor: str
    action: str = Field(description="create, update, archive, restore or revert")
    languages: list[str] = Field(description="whose texts it changed")
    before: dict[str, Any] | None
    after: dict[str, Any]


class History(BaseModel):
    changes: list[ChangeOut]


class TrialIn(BaseModel):
    question: str = Field(min_length=1, max_length=600)
    locale: str = Field(default="en", description="the member's language")


class TrialOut(BaseModel):
    kind: str = Field(description="topic, smalltalk, safeguarding or unknown")
    topic: str | None
    score: float
    lang: str = Field(description="the language answered in")
    answer: str
    runner_up: str | None = Field(description="the next closest topic")
    runner_up_score: float | None
    threshold: float = Field(description="below this score the bot does not answer")


class HelplineIn(BaseModel):
    name: str | None = Field(default=None, max_length=200)
    number: str | None = Field(default=None, max_length=64, description="the child helpline")
    hours: str | None = Field(default=None, max_length=200, description="e.g. 24/7")
    emergency: list[str] = Field(default_factory=list, description="most general first")
    note: str | None = Field(default=None, max_length=2000)
    verified: bool = Field(default=False, description="true: you checked it with the operator now")


class HelplineOut(BaseModel):
    country: str
    name: str | None
    number: str | None
    hours: str | None
    emergency: list[str]
    source: str | None
    note: str | None
    verified_by: str | None = Field(
        description="who checked it with the operator; null: nobody yet"
    )
    verified_at: datetime | None


class Helplines(BaseModel):
    helplines: list[HelplineOut]
    unverified: list[str]


class NewTopic(BaseModel):
    key: str = Field(pattern=KEY_PATTERN)
    title: str = Field(min_length=1, max_length=200, description="in English")
    answer: str = Field(min_length=1, max_length=4000, description="in English")
    local_title: str | None = Field(
        default=None, max_length=200, description="in the language the question was asked in"
    )
    local_answer: str | None = Field(
        default=None, max_length=4000,
        description="in the language the question was asked in; without it, its members read "
        "the English",
    )  # fmt: skip


class TeachIn(BaseModel):
    """A question the bot could not answer, taught: an example of an existing topic, or the
    first example of a new one."""

    question: str = Field(min_length=1, max_length=300)
    locale: str = Field(description="the language the question was asked in")
    topic: str | None = Field(default=None, pattern=KEY_PATTERN, description="an existing topic")
    new: NewTopic | None = Field(default=None, description="or a new topic started from it")
    tell: bool = Field(
        default=True,
        description="tell the members who asked it the topic's answer, in their language (or "
        "English), on the chat they asked from; on WhatsApp outside the 24-hour window the "
        "notice template goes first, or the answer waits for their next message",
    )


class TaughtOut(KnowledgeTopicOut):
    told: int = Field(description="members who asked the question and are being told the answer")


def topic_out(found: TopicRecord) -> KnowledgeTopicOut:
    return KnowledgeTopicOut(
        key=found.key, position=found.position, archived=found.archived, titles=found.titles,
        answers=found.answers, more=found.more, examples=found.examples, missing=found.missing,
        stale=found.stale, updated_at=found.updated_at,
    )  # fmt: skip


def helpline_out(row: Any) -> HelplineOut:
    return HelplineOut(
        country=row.country, name=row.name, number=row.number, hours=row.hours,
        emergency=list(row.emergency or ()), source=row.source, note=row.note,
        verified_by=row.verified_by, verified_at=row.verified_at,
    )  # fmt: skip


def coalition(staff: Staff) -> None:
    """The knowledge is the whole coalition's: a country coordinator reads it."""
    if staff.country is not None:
        raise HTTPException(403, "what the bot knows is the whole coalition's; ask the secretariat")


def refused(exc: KnowledgeEditError | HelplineError) -> HTTPException:
    status = {"exists": 409, "missing": 404}.get(exc.code, 422)
    return HTTPException(status, str(exc))


async def _read(session: AsyncSession, key: str) -> TopicRecord:
    try:
        return await library.get(session, key)
    except KnowledgeEditError as exc:
        raise refused(exc) from None


@router.get("/knowledge/topics", response_model=KnowledgeTopics, responses=READ)
async def list_topics(
    service: ServiceDep, staff: StaffDep, archived: bool = False
) -> KnowledgeTopics:
    """The topics in the members' order, with each language's texts and what is missing or
    stale; ``archived=true`` lists archived ones too."""
    async with service.db.session() as session:
        found = await library.listed(session, archived=archived)
    return KnowledgeTopics(topics=[topic_out(t) for t in found])


@router.post(
    "/knowledge/topics", response_model=KnowledgeTopicOut, status_code=201, responses=CHANGE
)
async def create_topic(
    body: KnowledgeTopicIn, service: ServiceDep, staff: EditorDep
) -> KnowledgeTopicOut:
    """A new topic: the English title and answer are required; the bot answers with it, in
    every process, within seconds."""
    coalition(staff)
    texts = body.model_dump(include={"titles", "answers", "more", "examples"})
    try:
        async with service.db.session() as session, session.begin():
            await library.create(session, staff.email, body.key, texts, body.position)
            await record(session, staff, "knowledge.create", f"knowledge:{body.key}")
            found = await library.get(session, body.key)
    except KnowledgeEditError as exc:
        raise refused(exc) from None
    await changed(service.coordinator)
    return topic_out(found)


@router.get("/knowledge/topics/{key}", response_model=KnowledgeTopicOut, responses=errors(401, 404))
async def get_topic(key: TopicKey, service: ServiceDep, staff: StaffDep) -> KnowledgeTopicOut:
    """One topic by its key, archived or not, with every language's texts."""
    async with service.db.session() as session:
        return topic_out(await _read(session, key))


@router.patch("/knowledge/topics/{key}", response_model=KnowledgeTopicOut, responses=CHANGE)
async def change_topic(
    key: TopicKey, body: KnowledgeTopicPatch, service: ServiceDep, staff: EditorDep
) -> KnowledgeTopicOut:
    """Change texts, examples or the order."""
    coalition(staff)
    given = body.model_dump(exclude_unset=True, exclude={"position"})
    try:
        async with service.db.session() as session, session.begin():
            found = await library.change(session, staff.email, key, given, body.position)
            await record(session, staff, "knowledge.update", f"knowledge:{key}",
                         fields=sorted(body.model_fields_set))  # fmt: skip
    except KnowledgeEditError as exc:
        raise refused(exc) from None
    await changed(service.coordinator)
    return topic_out(found)


async def _archive(key: str, archived: bool, service: Any, staff: Staff) -> KnowledgeTopicOut:
    coalition(staff)
    try:
        async with service.db.session() as session, session.begin():
            await library.set_archived(session, staff.email, key, archived)
            action = "knowledge.archive" if archived else "knowledge.restore"
            await record(session, staff, action, f"knowledge:{key}")
            found = await library.get(session, key)
    except KnowledgeEditError as exc:
        raise refused(exc) from None
    await changed(service.coordinator)
    return topic_out(found)


@router.post("/knowledge/topics/{key}/archive", response_model=KnowledgeTopicOut, responses=CHANGE)
async def archive_topic(key: TopicKey, service: ServiceDep, staff: EditorDep) -> KnowledgeTopicOut:
    """The bot stops answering with the topic; nothing is deleted, and /restore brings it back."""
    return await _archive(key, True, service, staff)


@router.post("/knowledge/topics/{key}/restore", response_model=KnowledgeTopicOut, responses=CHANGE)
async def restore_topic(key: TopicKey, service: ServiceDep, staff: EditorDep) -> KnowledgeTopicOut:
    """Answer with an archived topic again."""
    return await _archive(key, False, service, staff)


@router.get("/knowledge/topics/{key}/history", response_model=History, responses=errors(401, 404))
async def topic_history(key: TopicKey, service: ServiceDep, staff: StaffDep) -> History:
    """Every change of the topic, newest first: who, when, and the texts before and after."""
    try:
        async with service.db.session() as session:
            found = await library.history(session, key)
    except KnowledgeEditError as exc:
        raise refused(exc) from None
    return History(changes=[ChangeOut(**vars(c)) for c in found])


@router.post(
    "/knowledge/topics/{key}/history/{change_id}/revert",
    response_model=KnowledgeTopicOut, responses=CHANGE,
)  # fmt: skip
async def revert_change(
    key: TopicKey, change_id: Annotated[int, Path(ge=1, le=2**62)], service: ServiceDep,
    staff: EditorDep,
) -> KnowledgeTopicOut:  # fmt: skip
    """The topic's texts as they were before that change (reverting its creation archives it)."""
    coalition(staff)
    try:
        async with service.db.session() as session, session.begin():
            await library.revert(session, staff.email, key, change_id)
            await record(session, staff, "knowledge.revert", f"knowledge:{key}", change=change_id)
            found = await library.get(session, key)
    except KnowledgeEditError as exc:
        raise refused(exc) from None
    await changed(service.coordinator)
    return topic_out(found)


async def teach(service: Any, staff: Staff, body: TeachIn) -> tuple[TopicRecord, int]:
    """The question becomes an example (of ``topic``, or of a new topic) and leaves the list
    of unanswered questions; every process answers it within seconds. With ``tell``, the
    members who asked it are told the answer; the topic, and how many were told."""
    coalition(staff)
    if (body.topic is None) == (body.new is None):
        raise HTTPException(422, "name an existing topic, or a new one")
    try:
        async with service.db.session() as session, session.begin():
            if body.new is not None:
                key = body.new.key
                await library.create(session, staff.email, key, _new_texts(body.new, body))
            else:
                key = str(body.topic)
                await library.add_examples(session, staff.email, key, body.locale, [body.question])
            found = await library.get(session, key)
            asked = await askers(session, body.locale, body.question) if body.tell else []
            await forget_unanswered(session, body.locale, body.question)
            await record(session, staff, "knowledge.teach", f"knowledge:{key}", locale=body.locale)
            told = sum(
                tell_answer(session, service.settings, contact, question, found.answers)
                for contact, question in asked
            )
            if told:
                await record(session, staff, "knowledge.tell", f"knowledge:{key}",
                             locale=body.locale, members=told)  # fmt: skip
    except KnowledgeEditError as exc:
        raise refused(exc) from None
    await changed(service.coordinator)
    return found, told


def _new_texts(new: NewTopic, body: TeachIn) -> dict[str, Any]:
    texts: dict[str, Any] = {"titles": {"en": new.title}, "answers": {"en": new.answer},
                             "examples": {body.locale: [body.question]}}  # fmt: skip
    if body.locale != "en" and (new.local_answer or "").strip():
        texts["answers"][body.locale] = new.local_answer
        texts["titles"][body.locale] = new.local_title or new.title
    return texts


@router.post("/knowledge/teach", response_model=TaughtOut, responses=CHANGE)
async def teach_question(body: TeachIn, service: ServiceDep, staff: EditorDep) -> TaughtOut:
    """From unanswered to known: a question the bot could not answer becomes an example of a
    topic (or starts one) and leaves the list of unanswered questions; the members who asked
    it are told the answer (unless ``tell`` is false). Erased members are never told."""
    found, told = await teach(service, staff, body)
    return TaughtOut(**topic_out(found).model_dump(), told=told)


def trial(service: Any, question: str, locale: str) -> TrialOut:
    """What this process would answer, with the score and the runner-up."""
    if locale not in LOCALES:
        raise HTTPException(422, "not a language the bot speaks")
    features = service.features
    found = understand(features, question, Translator(locale), None, alerted=False)
    ranked = features.matcher.ranked(question)
    runner = next(((s, k) for s, k in ranked if k != found.topic), None)
    return TrialOut(
        kind=found.kind, topic=found.topic, score=round(found.score, 4), lang=found.lang,
        answer=found.text, runner_up=runner[1] if runner else None,
        runner_up_score=round(runner[0], 4) if runner else None,
        threshold=features.matcher.threshold,
    )  # fmt: skip


@router.post("/knowledge/try", response_model=TrialOut, responses=errors(401, 403, 422))
async def try_question(body: TrialIn, service: ServiceDep, staff: StaffDep) -> TrialOut:
    """What the bot would answer to a question in a language, right now; nothing is stored."""
    return trial(service, body.question, body.locale)


@router.get("/helplines", response_model=Helplines, responses=READ)
async def list_helplines(service: ServiceDep, staff: StaffDep) -> Helplines:
    """Every country's helpline, and the countries whose entry nobody has verified yet."""
    async with service.db.session() as session:
        rows = await helplines.listed(session)
    return Helplines(helplines=[helpline_out(r) for r in rows],
                     unverified=[r.country for r in rows if r.verified_at is None])  # fmt: skip


@router.get("/helplines/{country}", response_model=HelplineOut, responses=errors(401, 404))
async def get_helpline(country: Country, service: ServiceDep, staff: StaffDep) -> HelplineOut:
    """A country's helpline, as a member who discloses harm there is shown it."""
    async with service.db.session() as session:
        row = await helplines.get(session, country)
    if row is None:
        raise HTTPException(404, "no helpline for that country: members there are shown DEFAULT's")
    return helpline_out(row)


@router.put("/helplines/{country}", response_model=HelplineOut, responses=CHANGE)
async def put_helpline(
    country: Country, body: HelplineIn, service: ServiceDep, staff: AdminDep
) -> HelplineOut:
    """Write a country's helpline whole (administrators); ``verified`` records that you checked
    it with the operator now, else it is marked unverified."""
    if staff.country is not None and staff.country != country:
        raise HTTPException(403, "an administrator of a country changes that country's helpline")
    fields = body.model_dump(exclude={"verified"}, exclude_unset=False)
    try:
        async with service.db.session() as session, session.begin():
            row = await helplines.put(session, staff.email, country, fields, verified=body.verified)
            await record(session, staff, "helpline.update", f"helpline:{country}",
                         verified=body.verified)  # fmt: skip
            out = helpline_out(row)
    except HelplineError as exc:
        raise refused(exc) from None
    await changed(service.coordinator)
    return out
