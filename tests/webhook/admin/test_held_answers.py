"""An answer to a WhatsApp member outside the 24-hour window is held until they write: the
inbox says so to staff, on the dashboard and in the API, until it has gone."""

from __future__ import annotations

from datetime import timedelta

from bot.storage.models import utcnow
from tests.harness import eventually
from tests.webhook.admin.dashboard import dashboard
from tests.webhook.api.test_api_inbox import token_of

EDITOR = "editor@childpact.org"
NOTICE = "HX" + "c" * 32
HELD_LINE = "Answer held until the member writes"
HELD_NOTE = "Your answer is held: the member last wrote more than 24 hours ago"


async def test_staff_see_that_an_answer_waits_for_the_member_to_write(backend) -> None:
    # Would catch staff left believing their answer arrived when only the notice did.
    async with dashboard(backend, whatsapp_notice_templates=f"ro={NOTICE}") as board:
        stack = board.stack
        address = "whatsapp:+37360000501"
        two_days = timedelta(days=2)
        member = await board.member(
            "MD", channel="whatsapp", address=address, locale="ro", consent_version="1",
            consent_at=utcnow() - two_days, last_inbound_at=utcnow() - two_days,
        )  # fmt: skip
        stack.twilio.received(address, ago=two_days.total_seconds())
        conversation = await board.conversation(member)
        api = await token_of(stack, "api@childpact.org", "viewer")
        editor = await board.sign_in(EDITOR)

        async def held() -> int:
            found = await stack.http.get(f"/api/inbox/{conversation}", headers=api)
            assert found.status_code == 200, found.text
            return int(found.json()["held_answers"])

        assert await held() == 0
        assert HELD_LINE not in (await editor.get("/admin/inbox/list?show=open")).text
        answered = await editor.post(f"/admin/inbox/{conversation}/reply", {"text": "Vă sunăm."})
        assert answered.status_code in (200, 303), answered.text
        await eventually(lambda: stack.twilio.to(address))
        [notice] = stack.twilio.to(address)
        assert notice.content_sid == NOTICE  # only the notice reached them
        await eventually(held)
        assert HELD_LINE in (await editor.get("/admin/inbox/list?show=open")).text
        assert HELD_LINE in (await editor.get("/admin/inbox")).text
        assert HELD_NOTE in (await editor.get(f"/admin/inbox/{conversation}")).text

        # They write: the answer goes, and the inbox no longer says it waits.
        await stack.post_whatsapp(From=address, Body="Bună ziua")
        await eventually(lambda: any("Vă sunăm." in m.text for m in stack.twilio.to(address)))
        await eventually(lambda: _is_zero(held()))
        assert HELD_LINE not in (await editor.get("/admin/inbox/list?show=open")).text
        assert HELD_NOTE not in (await editor.get(f"/admin/inbox/{conversation}")).text
        await editor.close()


async def _is_zero(count) -> bool:  # type: ignore[no-untyped-def]
    return await count == 0
