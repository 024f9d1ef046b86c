"""A broadcast's photo on Telegram: fetched by Telegram from its URL once, then sent by the
file_id Telegram gave it, to every later member."""

from __future__ import annotations

from bot.storage.models import Broadcast
from tests.broadcasts.test_broadcasts import _is, add_members, launch, status_of
from tests.broadcasts.test_whatsapp_window import compose
from tests.conftest import Backend
from tests.harness import eventually, running

PHOTO = "https://childpact.org/forum-2026.jpg"


async def test_a_broadcast_photo_is_fetched_once_then_sent_by_its_file_id(
    backend: Backend,
) -> None:
    # Would catch the URL given to Telegram for every member (a fetch each time, and every
    # member failing once the host is slow), or a file_id not kept for the later ones.
    async with running(backend) as stack:
        stack.telegram.host_photo(PHOTO)
        chats = [str(680000000 + n) for n in range(8)]
        await add_members(stack, *({"address": c, "locale": "en", "country": "MD"} for c in chats))
        broadcast_id = await compose(stack, image_url=PHOTO)
        await launch(stack, broadcast_id)
        await eventually(lambda: _is(status_of(stack, broadcast_id), "sent"), timeout=60)

        photos = [m for m in stack.telegram.messages if m.method == "sendPhoto"]
        assert sorted(m.chat_id for m in photos) == chats
        assert stack.telegram.photo_fetches == [PHOTO]  # Telegram fetched it once
        first, *later = photos
        assert first.photo == PHOTO
        async with stack.service.db.session() as session:
            broadcast = await session.get(Broadcast, broadcast_id)
        assert broadcast is not None and broadcast.photo_file_id
        assert {m.photo for m in later} == {broadcast.photo_file_id}
        assert stack.telegram.file_ids[broadcast.photo_file_id] == PHOTO  # the same photo
        assert stack.telegram.refused == []
