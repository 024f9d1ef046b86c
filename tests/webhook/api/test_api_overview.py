"""The overview API: counts within the country scope, weekly activity, what needs attention."""

from __future__ import annotations

from datetime import timedelta

from bot.storage.models import Contact, Delivery, utcnow


async def test_the_overview_counts_what_each_person_may_see(api):
    async with api.service.db.session() as session, session.begin():
        session.add(
            Contact(
                channel="web",
                address="web-old",
                status="stopped",
                country="RO",
                created_at=utcnow() - timedelta(weeks=3),
            )  # fmt: skip
        )
        session.add(
            Delivery(
                contact_id=api.members["md"],
                channel="whatsapp",
                address="x",
                message={"text": "x"},
                status="failed",
            )  # fmt: skip
        )
    everything = (await api.call("viewer", "GET", "/api/overview")).json()
    assert everything["members"] == 3
    assert everything["by_country"] == {"RO": 2, "MD": 1}
    assert everything["by_locale"] == {"ro": 1, "ru": 1, "unknown": 1}
    assert everything["by_channel"] == {"telegram": 1, "web": 1, "whatsapp": 1}
    assert everything["by_status"] == {"active": 2, "stopped": 1}
    weeks = everything["activity"]
    assert len(weeks) == 8 and weeks[-1]["messages_in"] == 2 and weeks[-1]["messages_out"] == 3
    assert weeks[-1]["new_members"] == 2 and sum(w["new_members"] for w in weeks) == 3
    assert everything["attention"] == {
        "open_conversations": 2,
        "open_safeguarding": 1,
        "failed_deliveries_7d": 1,
    }
    moldova = (await api.call("md_editor", "GET", "/api/overview")).json()
    assert moldova["by_country"] == {"MD": 1} and moldova["members"] == 1
    assert moldova["attention"]["open_conversations"] == 1
    assert moldova["activity"][-1]["messages_out"] == 2
    assert (await api.call(None, "GET", "/api/overview")).status_code == 401
