"""Questions about the coalition: browse the topics, or ask in free text in any language."""

from __future__ import annotations

import logging

from bot.conversation.router import Context, Router
from bot.i18n import Translator
from bot.knowledge.answers import understand
from bot.messages import Button
from handlers.handoff import record_unanswered
from handlers.safeguarding import concern, safeguarding_alert
from handlers.ui import main_menu

router = Router("faq")
log = logging.getLogger(__name__)
PAGE = 8  # topics per page of the browser: a phone screen of buttons


@router.button("about")
async def browse(ctx: Context) -> None:
    """About ChildPact: the topics as buttons, a page at a time."""
    knowledge = ctx.services.knowledge
    ids = knowledge.topic_ids
    page = _page((ctx.payload or "").partition(":")[2], len(ids))
    topics = knowledge.topics[ctx.t.locale]
    rows = [[Button(topics[i].title, f"topic:{i}")] for i in ids[page * PAGE : (page + 1) * PAGE]]
    if (page + 1) * PAGE < len(ids):
        rows.append([Button(ctx.t("More topics"), f"about:{page + 1}")])
    rows.append([Button(ctx.t("Back to the menu"), "menu:main")])
    ctx.reply(ctx.t("What would you like to know about ChildPact?"), rows)


@router.button("topic")
async def show_topic(ctx: Context) -> None:
    send_topic(ctx, (ctx.payload or "").partition(":")[2], ctx.t)


@router.button("more")
async def show_more(ctx: Context) -> None:
    topic_id = (ctx.payload or "").partition(":")[2]
    topics = ctx.services.knowledge.topics[ctx.t.locale]
    if topic_id not in topics or not topics[topic_id].more:
        return await browse(ctx)
    ctx.reply(topics[topic_id].more, [[Button(ctx.t("Other topics"), "about:0")]])


def send_topic(ctx: Context, topic_id: str, t: Translator) -> None:
    topics = ctx.services.knowledge.topics[t.locale]
    if topic_id not in topics:
        return main_menu(ctx)
    topic = topics[topic_id]
    buttons = [[Button(t("Tell me more"), f"more:{topic_id}")]] if topic.more else []
    buttons.append([Button(t("Other topics"), "about:0"), Button(t("Menu"), "menu:main")])
    ctx.reply(topic.answer, buttons)


@router.text()
async def free_text(ctx: Context) -> None:
    """A question in free text, in whatever language the member writes."""
    if ctx.msg.kind == "media":
        return ctx.reply(ctx.t("I can only read text for now. Please type your message."))
    if not ctx.text:
        return main_menu(ctx)
    country = ctx.contact.country or ctx.contact.country_hint
    chat = ctx.settings.safeguarding_telegram_chat_id
    found = understand(ctx.services, ctx.text, ctx.t, country, alerted=bool(chat))
    if found.kind == "safeguarding" and found.finding:
        return safeguarding_alert(ctx, found.text, found.finding)
    if found.finding:
        # a possible disclosure: the helpline and the focal point first, then the answer
        concern(ctx, found.finding)
    t = Translator(found.lang, ctx.t.timezone)
    if found.kind == "smalltalk":
        return ctx.reply(found.text, [[Button(t("Menu"), "menu:main")]])
    if found.kind == "topic" and found.topic:
        send_topic(ctx, found.topic, t)
        if found.also:  # two questions in one message: both answered, in order
            send_topic(ctx, found.also, t)
        return None
    log.info("faq: no answer (score %.2f) for contact %s", found.score, ctx.contact.id)
    record_unanswered(ctx)
    topics = ctx.services.knowledge.topics[ctx.t.locale]
    near = [[Button(topics[i].title, f"topic:{i}")] for i in found.near if i in topics]
    ctx.reply(
        found.text,
        [
            *near,
            [Button(ctx.t("Talk to the secretariat"), "ask:secretariat")],
            [Button(ctx.t("About ChildPact"), "about:0"), Button(ctx.t("Menu"), "menu:main")],
        ],
    )


def _page(raw: str, count: int) -> int:
    page = int(raw) if raw.isdigit() else 0
    return min(page, max(0, (count - 1) // PAGE))
