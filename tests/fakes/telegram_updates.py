"""Realistic Telegram Update JSON for one member, as the Bot API posts it to our webhook."""

from __future__ import annotations

import itertools
import time
from typing import Any

JSON = dict[str, Any]


class UpdateBuilder:
    """Realistic Update JSON for one member, with increasing update and message ids."""

    def __init__(
        self,
        *,
        chat_id: int = 412345678,
        first_name: str = "Ana",
        username: str | None = "ana_childpact",
        language_code: str | None = "ro",
        first_update_id: int = 783421001,
    ) -> None:
        self.chat_id = chat_id
        self.user: JSON = {"id": chat_id, "is_bot": False, "first_name": first_name}
        if username:
            self.user["username"] = username
        if language_code:
            self.user["language_code"] = language_code
        self._update_ids = itertools.count(first_update_id)
        self._message_ids = itertools.count(101)

    def _chat(self) -> JSON:
        chat = {"id": self.chat_id, "first_name": self.user["first_name"], "type": "private"}
        if "username" in self.user:
            chat["username"] = self.user["username"]
        return chat

    def _message(self, chat: JSON | None = None, **content: Any) -> JSON:
        message = {
            "message_id": next(self._message_ids),
            "from": self.user,
            "chat": chat or self._chat(),
            "date": int(time.time()),
        }
        message.update(content)
        return message

    def _update(self, **body: Any) -> JSON:
        return {"update_id": next(self._update_ids), **body}

    def message(self, text: str) -> JSON:
        content: JSON = {"text": text}
        if text.startswith("/"):
            length = len(text.split()[0])
            content["entities"] = [{"offset": 0, "length": length, "type": "bot_command"}]
        return self._update(message=self._message(**content))

    def edited_message(self, text: str, message_id: int = 100) -> JSON:
        message = self._message(text=text, edit_date=int(time.time()))
        message["message_id"] = message_id
        return self._update(edited_message=message)

    def callback_query(self, data: str, *, query_id: str | None = None) -> JSON:
        origin = self._message(
            text="Choose a language",
            reply_markup={"inline_keyboard": [[{"text": "Română", "callback_data": data}]]},
        )
        origin["from"] = {
            "id": 123456789,
            "is_bot": True,
            "first_name": "ChildPact",
            "username": "childpact_test_bot",
        }
        query = {
            "id": query_id or str(1770000000000000000 + next(self._message_ids)),
            "from": self.user,
            "message": origin,
            "chat_instance": "-8801234567890123456",
            "data": data,
        }
        return self._update(callback_query=query)

    def sticker(self) -> JSON:
        sticker = {
            "file_id": "CAACAgIAAxkBAAEBcdFlx",
            "file_unique_id": "AgADcw4AAm5u",
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
            "emoji": "👍",
            "set_name": "HotCherry",
            "file_size": 23040,
        }
        return self._update(message=self._message(sticker=sticker))

    def photo(self, caption: str | None = None) -> JSON:
        sizes = [
            {
                "file_id": f"AgACAgIAAxkBAAIB{w}",
                "file_unique_id": f"AQAD{w}",
                "file_size": w * 40,
                "width": w,
                "height": w * 3 // 4,
            }
            for w in (90, 320, 800, 1280)
        ]
        content: JSON = {"photo": sizes}
        if caption:
            content["caption"] = caption
        return self._update(message=self._message(**content))

    def voice(self, duration: int = 4) -> JSON:
        voice = {
            "duration": duration,
            "mime_type": "audio/ogg",
            "file_id": "AwACAgIAAxkBAAIBV2",
            "file_unique_id": "AgADVx8AAp",
            "file_size": 15872,
        }
        return self._update(message=self._message(voice=voice))

    def group_message(self, text: str, *, chat_id: int = -1001876543210) -> JSON:
        kind = "supergroup" if str(chat_id).startswith("-100") else "group"
        chat = {"id": chat_id, "title": "ChildPact coalition", "type": kind}
        return self._update(message=self._message(chat, text=text))

    def my_chat_member(self, status: str = "kicked") -> JSON:
        change = {
            "chat": self._chat(),
            "from": self.user,
            "date": int(time.time()),
            "old_chat_member": {"user": self._bot_user(), "status": "member"},
            "new_chat_member": {
                "user": self._bot_user(),
                "status": status,
                **({"until_date": 0} if status == "kicked" else {}),
            },
        }
        return self._update(my_chat_member=change)

    @staticmethod
    def _bot_user() -> JSON:
        return {
            "id": 123456789,
            "is_bot": True,
            "first_name": "ChildPact",
            "username": "childpact_test_bot",
        }
