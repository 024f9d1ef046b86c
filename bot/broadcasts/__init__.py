"""Broadcasts: a text written once with its translations, an audience, a preview of who gets
what, and the sending itself, as rows in the outbox that the sender delivers within limits.

The package owns a broadcast from draft to sent. The names below are its public face; the
modules behind them are ``model`` (the audience and the statuses), ``texts`` (the words per
locale), ``audience`` (who it reaches), ``plan`` (what each member gets, and the preview),
``sending`` (the outbox, page by page, and the progress) and ``lifecycle`` (launch,
approval, cancelling, follow-ups). Beside them: ``actions`` (what the secretariat does, each
audited: the front ends call these), ``series`` and ``repeats`` (repeating broadcasts),
``quiet`` (members' quiet hours), ``saved`` (audiences kept by name), ``fallback`` (another
chat when one is lost), ``worker`` (the loop that sends) and ``progress_message`` (the staff
chat's progress message)."""

from bot.broadcasts.audience import audience_query, excluded_members, scoped, visible
from bot.broadcasts.lifecycle import approve, cancel, changed, copied, follow_up, launch
from bot.broadcasts.model import (
    DELIVERED,
    EDITABLE,
    PAGE,
    SKIP_REASONS,
    Audience,
    BroadcastError,
    digest,
    due,
)
from bot.broadcasts.plan import (
    People,
    Plan,
    Preview,
    Readers,
    UntranslatedButton,
    choose,
    plan,
    preview,
)
from bot.broadcasts.sending import done_shares, expand, finish_if_done, progress, queue_test
from bot.broadcasts.texts import (
    Seen,
    as_seen,
    check,
    locales_written,
    member_locale,
    message_for,
    pick_text,
    set_text,
    stale_locales,
    test_message,
    text_of,
    untranslated_buttons,
)

__all__ = [
    "DELIVERED",
    "EDITABLE",
    "PAGE",
    "SKIP_REASONS",
    "Audience",
    "BroadcastError",
    "People",
    "Plan",
    "Preview",
    "Readers",
    "Seen",
    "UntranslatedButton",
    "approve",
    "as_seen",
    "audience_query",
    "cancel",
    "changed",
    "check",
    "choose",
    "copied",
    "digest",
    "done_shares",
    "due",
    "excluded_members",
    "expand",
    "finish_if_done",
    "follow_up",
    "launch",
    "locales_written",
    "member_locale",
    "message_for",
    "pick_text",
    "plan",
    "preview",
    "progress",
    "queue_test",
    "scoped",
    "set_text",
    "stale_locales",
    "test_message",
    "text_of",
    "untranslated_buttons",
    "visible",
]
