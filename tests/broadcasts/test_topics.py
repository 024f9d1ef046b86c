"""A broadcast to a topic reaches who receives it: by their own choice, or by the topic's
default when they have made none. A survey's invitation follows the "surveys" topic."""

from __future__ import annotations

from sqlalchemy import insert, select

from bot import broadcasts
from bot.broadcasts import Audience
from bot.members import topics
from bot.secretariat.staff import Staff
from bot.storage.models import Broadcast, Contact, Delivery, Survey, Topic
from bot.surveys import launch as surveys_launch
from tests.conftest import Backend
from tests.harness import running

EDITOR = Staff(id=1, email="editor@childpact.org", name="", role="editor", country=None,
               locale="en")  # fmt: skip
# address: (status, {topic: choice}); "jobs" is a new topic, off unless chosen.
MEMBERS = {
    "81": ("active", {}),  # never chose: the defaults
    "82": ("active", {"events": False}),
    "83": ("active", {"events": True, "news": False, "jobs": True}),
    "84": ("stopped", {}),  # counted, and skipped: "stop" stops everything
    "85": ("active", {"surveys": False}),
}


async def seed(session) -> dict[str, int]:
    await topics.create(session, "jobs", {"en": "Jobs"}, default_on=False)
    await session.execute(
        insert(Contact),
        [{"channel": "telegram", "address": a, "status": s, "locale": "en", "country": "RO",
          "flow_data": {}, "choices": []} for a, (s, _) in MEMBERS.items()],
    )  # fmt: skip
    ids = dict((await session.execute(select(Contact.address, Contact.id))).all())
    keys = dict((await session.execute(select(Topic.key, Topic.id))).all())
    for address, (_, chosen) in MEMBERS.items():
        for key, on in chosen.items():
            await topics.choose(session, ids[address], keys[key], on)
    return ids


async def outbox(session, audience: Audience) -> dict[str, str]:
    b = Broadcast(title="", base_locale="en", texts={}, buttons=[], templates={},
                  audience=audience.to_json())  # fmt: skip
    session.add(b)
    broadcasts.set_text(b, "en", "News")
    await session.flush()
    while await broadcasts.expand(session, b, {}):
        pass
    rows = await session.execute(
        select(Delivery.address, Delivery.status).where(Delivery.broadcast_id == b.id)
    )
    return dict(rows.all())


async def test_a_broadcast_to_a_topic_reaches_only_who_receives_it(backend: Backend) -> None:
    async with running(backend, workers=False) as stack:
        async with stack.service.db.session() as session, session.begin():
            await seed(session)
            assert await outbox(session, Audience(topics=["events"])) == {
                "81": "queued", "83": "queued", "84": "skipped", "85": "queued",
            }  # fmt: skip
            assert await outbox(session, Audience(topics=["news"])) == {
                "81": "queued", "82": "queued", "84": "skipped", "85": "queued",
            }  # fmt: skip
            # A topic off by default reaches only who switched it on.
            assert await outbox(session, Audience(topics=["jobs"])) == {"83": "queued"}
            # Any of several topics.
            assert set(await outbox(session, Audience(topics=["jobs", "events"]))) == {
                "81", "83", "84", "85",
            }  # fmt: skip
            # Without a topic: everyone, as before.
            assert set(await outbox(session, Audience())) == set(MEMBERS)

            b = Broadcast(title="", base_locale="en", texts={}, buttons=[], templates={},
                          audience=Audience(topics=["events"]).to_json())  # fmt: skip
            session.add(b)
            broadcasts.set_text(b, "en", "News")
            seen = await broadcasts.preview(session, b, None, {})
            assert seen.recipients == 3 and seen.skipped == {"stopped": 1}


async def test_a_new_topic_needs_no_rows_for_the_members_already_there(backend: Backend) -> None:
    async with running(backend, workers=False) as stack:
        async with stack.service.db.session() as session, session.begin():
            await seed(session)
            await topics.create(session, "trainings", {"en": "Trainings"})  # on by default
            reached = await outbox(session, Audience(topics=["trainings"]))
            assert set(reached) == set(MEMBERS)


async def test_a_survey_invitation_goes_to_who_receives_surveys(backend: Backend) -> None:
    async with running(backend, workers=False) as stack:
        async with stack.service.db.session() as session, session.begin():
            await seed(session)
            survey = Survey(name="pulse", base_locale="en", title={"en": "Pulse"}, intro={},
                            closing={}, reminder={})  # fmt: skip
            session.add(survey)
            await session.flush()
            b = await surveys_launch.launch(session, survey, EDITOR, Audience(), templates={},
                                            approval_above=None)  # fmt: skip
            assert Audience.from_json(b.audience).topics == ["surveys"]
            while await broadcasts.expand(session, b, {}):
                pass
            invited = set(
                await session.scalars(select(Delivery.address).where(Delivery.broadcast_id == b.id))
            )
            assert invited == {"81", "82", "83", "84"}  # 85 switched surveys off


async def test_a_deleted_member_leaves_no_choice_behind(backend: Backend) -> None:
    from bot.secretariat import members

    async with running(backend, workers=False) as stack:
        async with stack.service.db.session() as session, session.begin():
            ids = await seed(session)
            contact = await session.get(Contact, ids["83"])
            assert contact is not None
            await members.delete_member(session, contact)
        async with stack.service.db.session() as session:
            assert await topics.choices(session, ids["83"]) == {}
            assert await topics.choices(session, ids["82"]) != {}
