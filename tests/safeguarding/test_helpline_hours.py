"""A helpline's hours, once the secretariat knows them, reach the member who is shown the line:
after a disclosure and with a possible concern, in the member's own language; on both
backends."""

from __future__ import annotations

from tests.dialog import Member, texts
from tests.handlers.test_menu import onboard
from tests.harness import eventually, running
from tests.webhook.api.test_api_inbox import token_of

LINES = {
    "RO": {"name": "Telefonul Copilului", "number": "116 111", "hours": "24/7",
           "emergency": ["112"], "verified": True},
    "MD": {"name": "Telefonul Copilului", "number": "116 111", "hours": "09:00-18:00",
           "emergency": ["112"], "verified": True},
}  # fmt: skip


async def test_the_helplines_hours_are_shown_in_the_members_language(backend):
    async with running(backend) as stack:
        admin = await token_of(stack, "admin@childpact.org", "admin")
        for country, line in LINES.items():
            put = await stack.http.put(f"/api/helplines/{country}", json=line, headers=admin)
            assert put.status_code == 200, put.text
        # every process reads the change within seconds; this one first
        await eventually(
            lambda: stack.service.features.safeguarding.helpline("MD").hours == "09:00-18:00"
        )

        ro = Member(stack, "telegram", lang="ro")
        await onboard(ro, "ro", "RO")
        told = texts(await ro.say("Vecinul își bate copilul în fiecare seară, aud cum plânge"))
        assert (
            "Puteți suna și la linia telefonică pentru copii Telefonul Copilului: 116 111. "
            "Linia este deschisă zi și noapte, în fiecare zi."
        ) in told, told

        ru = Member(stack, "whatsapp", lang="ru", country_code="373")
        await onboard(ru, "ru", "MD")
        told = texts(await ru.say("отчим избивает мальчика, ему 9 лет"))
        assert "116 111. Часы работы линии: 09:00-18:00." in told, told

        # A possible concern: the gentle line, with the hours
        en = Member(stack, "web", lang="en")
        await onboard(en, "en", "RO")
        told = texts(
            await en.say(
                "hi, how do i join the coalition? the kids next door have been alone since friday"
            )
        )
        assert (
            "If you are worried about a child, you can call the child helpline "
            "Telefonul Copilului: 116 111. The helpline is open day and night, every day."
        ) in told, told

        # Hours not known: nothing is said about them.
        put = await stack.http.put(
            "/api/helplines/RO", json={**LINES["RO"], "hours": None}, headers=admin
        )
        assert put.status_code == 200, put.text
        await eventually(lambda: stack.service.features.safeguarding.helpline("RO").hours is None)
        again = texts(await ro.say("Vecinul își bate copilul în fiecare seară, aud cum plânge"))
        assert "Telefonul Copilului: 116 111." in again and "Linia este deschisă" not in again
