"""The secretariat's side: who its people are and what they may see (staff), their passwords,
accounts, sign-in and API tokens, the audit log, their linked Telegram chats (staff_chat), the
inbox of members' questions, what passes between members and the staff chat (relay), the
overview figures and the member directory."""
