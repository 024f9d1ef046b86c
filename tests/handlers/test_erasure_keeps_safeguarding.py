"""Child protection is an exception to erasure: after "delete me", an open safeguarding alert
and the disclosure stay for the focal point, without the member's contact details; the member
is told so before confirming, and everything else goes as before."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from bot.i18n import Translator
from bot.secretariat.overview import overview
from bot.secretariat.staff import Staff
from bot.storage.models import (
    Consent,
    Contact,
    Conversation,
    ConversationMessage,
    Inbound,
    SafeguardingFlag,
)
from tests.dialog import Member, texts
from tests.handlers.test_menu import contact_of, onboard
from tests.harness import eventually, running

ALERTS = "-1001234567890"
ADMIN = Staff(1, "admin@example.org", "Ana", "admin", None, "en")
DISCLOSURE = "Vecinul își bate copilul în fiecare seară, aud cum plânge"


@pytest.mark.parametrize("channel", ["telegram", "whatsapp"])
async def test_delete_me_with_an_open_alert_keeps_the_alert_for_the_focal_point(backend, channel):
    # The review's finding 16: "2 open safeguarding alerts" became 1 after "më fshi".
    async with running(backend, safeguarding_telegram_chat_id=ALERTS) as stack:
        member = Member(stack, channel, lang="ro", country_code="40")
        t = Translator("ro")
        await onboard(member, "ro", "RO")
        contact_id = (await contact_of(member)).id
        await member.say(DISCLOSURE)
        await eventually(lambda: stack.telegram.messages_to(ALERTS))
        async with stack.service.db.session() as session:
            assert (await overview(session, ADMIN)).attention.open_safeguarding == 1

        asked = await member.say("/deleteme" if channel == "telegram" else "delete me")
        assert t(
            "One exception: if you told us that a child may be at risk, that report stays with "
            "ChildPact's safeguarding focal point, because child protection requires it. It is "
            "kept without your contact details."
        ) in texts(asked)
        if channel == "whatsapp":
            await member.say("da")
        else:
            await member.tap("erase:yes")

        async def gone() -> bool:
            async with stack.service.db.session() as session:
                row = await session.get(Contact, contact_id)
                return row is not None and row.status == "erased"

        await eventually(gone)
        async with stack.service.db.session() as session:
            kept = await session.get(Contact, contact_id)
            assert kept is not None
            assert kept.address == f"erased-{contact_id}" and kept.organisation is None
            assert kept.consent_at is None and kept.country == "RO"
            flags = list(await session.scalars(select(SafeguardingFlag)))
            assert [f.text for f in flags] == [DISCLOSURE]
            thread = await session.scalar(select(Conversation))
            assert thread is not None and thread.kind == "safeguarding"
            assert thread.status == "open"
            said = list(await session.scalars(select(ConversationMessage.text)))
            assert DISCLOSURE in said
            counts = await overview(session, ADMIN)
            assert counts.attention.open_safeguarding == 1  # did not drop
            # No longer a member: counted among those who erased themselves, not as "erased".
            assert (counts.members, counts.erased_by_members) == (0, 1)
            assert "erased" not in counts.by_status and counts.by_country == {}
            # The rest went: the chat address, the messages as received, the consents.
            for table in (Inbound, Consent):
                assert await session.scalar(select(func.count()).select_from(table)) == 0
            assert await session.scalar(
                select(func.count()).select_from(Contact).where(
                    Contact.address == member.address
                )
            ) == 0  # fmt: skip

        member.cursor = 0
        again = await member.say("hello")  # a stranger now: welcomed afresh
        assert again[-1].payloads == ["consent:yes", "consent:no"]
