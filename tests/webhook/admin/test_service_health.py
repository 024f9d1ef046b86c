"""The overview shows administrators the service's own health: Telegram's webhook errors,
WhatsApp failures by Twilio's error code, the outbox backlog and the last backup."""

from __future__ import annotations

import time

from bot.secretariat import audit
from bot.secretariat.service_health import BACKUP_ACTION
from bot.storage.models import Delivery
from tests.harness import PUBLIC
from tests.webhook.admin.dashboard import dashboard

ADMIN, VIEWER = "admin@childpact.org", "viewer@childpact.org"


async def test_administrators_see_the_services_health(backend):
    # No sender in this process: what waits in the outbox stays there for the page to count.
    async with dashboard(backend, workers=False) as board:
        stack = board.stack
        stack.telegram.webhook = {
            "url": f"{PUBLIC}/webhook/telegram",
            "max_connections": 40,
            "last_error_date": int(time.time()) - 600,
            "last_error_message": "Connection timed out",
            "pending_update_count": 17,
        }
        admin = await board.sign_in(ADMIN)
        page = (await admin.get("/admin")).text
        assert "Service health" in page
        assert "none recorded: run childpact backup" in page
        assert "63016" not in page
        assert "Telegram&#39;s last delivery failed" in page and "Connection timed out" in page
        assert "17 updates waiting" in page

        async with stack.service.db.session() as session, session.begin():
            for n, (status, code) in enumerate(
                [("failed", "63016"), ("undelivered", "63016"), ("failed", "21610"),
                 ("queued", None), ("queued", None), ("sent", None)]
            ):  # fmt: skip
                session.add(Delivery(channel="whatsapp", address=f"whatsapp:+4072200{n:04d}",
                                     message={"text": "x"}, status=status, error_code=code))  # fmt: skip
            await audit.record(session, None, BACKUP_ACTION, None,
                               file="childpact-2026-12-05.backup", bytes=4096)  # fmt: skip
        page = (await admin.get("/admin")).text
        assert "63016: 2" in page and "21610: 1" in page
        waiting = page.split("Messages waiting to be sent", 1)[1].split("</dd>", 1)[0]
        assert ">2 · the oldest since" in waiting.replace("<dd>", ">")
        assert "childpact-2026-12-05.backup" in page
        assert "none recorded" not in page
        await admin.close()

        viewer = await board.sign_in(VIEWER)
        assert "Service health" not in (await viewer.get("/admin")).text
        await viewer.close()
