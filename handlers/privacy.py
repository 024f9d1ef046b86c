"""Privacy: a member gets everything stored about them ("my data"), or erases it ("delete me")."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from bot.channels.registry import capabilities
from bot.conversation.router import Context, Handled, Router
from bot.members import linking
from bot.messages import Button, OutboundMessage
from bot.privacy import erasure, export
from bot.secretariat.overview import ERASED_BY_MEMBER
from bot.storage import outbox
from bot.storage.models import AuditEntry, Contact, Inbound, utcnow
from bot.surveys.answers import meaning
from handlers.ui import expired, main_menu

router = Router("privacy")
FLOW = "erase"
SUMMARY_LIMIT = 1500  # within WhatsApp's 1,600 characters; Telegram takes 4,096


@router.command("mydata")
async def my_data(ctx: Context) -> None:
    ctx.end_flow()
    ctx.effects.append(lambda done: _send_data(ctx, done))


@router.command("deleteme")
async def delete_me(ctx: Context) -> None:
    _ = ctx.t
    ctx.start_flow(FLOW)
    ctx.reply(
        _(
            "Do you want me to delete everything I keep about you: your profile, our messages "
            "and your survey answers? This cannot be undone."
        )
        + "\n\n"
        + _(
            "One exception: if you told us that a child may be at risk, that report stays with "
            "ChildPact's safeguarding focal point, because child protection requires it. It is "
            "kept without your contact details."
        ),
        [
            [Button(_("Yes, delete everything"), "erase:yes")],
            [Button(_("No, keep it"), "erase:no")],
        ],
    )


@router.button("privacy")
async def on_privacy(ctx: Context) -> None:
    choice = (ctx.payload or "").partition(":")[2]
    await (my_data(ctx) if choice == "data" else delete_me(ctx))


@router.button("erase")
async def on_erase(ctx: Context) -> None:
    if ctx.payload == "erase:yes" and ctx.contact.flow == FLOW:
        return _erase(ctx)
    if ctx.payload == "erase:yes":  # the question of an earlier "delete me", answered since
        expired(ctx)
        return main_menu(ctx)
    _keep(ctx)


@router.flow(FLOW)
async def typed_answer(ctx: Context) -> None:
    """On a channel without buttons the member may type "yes" (in their language)."""
    if meaning(ctx.text) == "yes":
        return _erase(ctx)
    _keep(ctx)


def _keep(ctx: Context) -> None:
    ctx.end_flow()
    main_menu(ctx, ctx.t("All right, I deleted nothing."))


def _erase(ctx: Context) -> None:
    ctx.end_flow()
    ctx.effects.append(lambda done: _erase_now(ctx, done))


def _queue(
    ctx: Context,
    done: Handled,
    out: OutboundMessage,
    priority: int = outbox.REPLY,
    *,
    erased: bool = False,
) -> None:
    """Put one reply in the outbox; after an erasure it names neither the member nor the
    message it answers, only the chat it goes to."""
    to = outbox.Chat(ctx.msg.channel, ctx.msg.address) if out.ephemeral else ctx.contact
    inbound_id = None if erased else done.inbound_id
    outbox.enqueue(done.session, to, out, priority=priority, inbound_id=inbound_id)


async def _send_data(ctx: Context, done: Handled) -> None:
    """The summary, then the file; both rows leave the outbox once sent, so no second copy of
    the member's data stays behind."""
    _ = ctx.t
    ids = await linking.person_contact_ids(done.session, ctx.contact)
    sections = await export.collect(done.session, ids)
    _queue(ctx, done, OutboundMessage(export.readable(sections, _, SUMMARY_LIMIT), ephemeral=True))
    can = capabilities(ctx.msg.channel)
    # The JSON file by link where the platform fetches one, else as plain text (its content is
    # JSON) where it takes that; a platform that takes neither gets the file with the message.
    suffix = next((kind for kind in ("json", "txt") if can.takes_by_link(kind)), "json")
    url = export.link(ctx.settings, ctx.contact.id, suffix, relative=can.reads_outbox)
    if url is None:
        _queue(ctx, done, OutboundMessage(_("Sorry, I cannot prepare the file right now.")))
        return
    document = {"filename": export.FILENAME, "url": url}
    if not can.takes_by_link(suffix):
        document["content"] = export.as_json(sections)
    caption = _("Your data as a file (JSON).")
    _queue(ctx, done, OutboundMessage(caption, document=document, ephemeral=True))


async def _erase_now(ctx: Context, done: Handled) -> None:
    """Erase the member, say goodbye once, and count it for the secretariat, without them."""
    session = done.session
    goodbye = ctx.t(
        "Done: I deleted everything I kept about you. Goodbye, and thank you! "
        "If you write to me again, we start afresh."
    )
    erased = await erasure.erase(session, await linking.person_contact_ids(session, ctx.contact))
    if erased.kept:
        goodbye = ctx.t(
            "Done: I deleted everything I kept about you, except your report about a child's "
            "safety, which stays with the safeguarding focal point without your contact "
            "details. Goodbye, and thank you! If you write to me again, we start afresh."
        )
    _forget_loaded(session, ctx.contact, done.inbound_id)
    done.forget += erased.keys
    if ctx.msg.callback_id:
        _queue(
            ctx,
            done,
            OutboundMessage("", callback_id=ctx.msg.callback_id, ephemeral=True),
            outbox.CALLBACK,
            erased=True,
        )
    _queue(ctx, done, OutboundMessage(goodbye, ephemeral=True, farewell=True), erased=True)
    session.add(
        AuditEntry(at=utcnow(), actor="member", action=ERASED_BY_MEMBER, target=None, detail={})
    )


def _forget_loaded(session: AsyncSession, contact: Contact, inbound_id: int) -> None:
    """The engine holds the contact and the message being handled: they are gone now."""
    message = next(
        (
            row
            for row in session.sync_session.identity_map.values()
            if isinstance(row, Inbound) and row.id == inbound_id
        ),
        None,
    )
    for held in (contact, message):
        if held is not None and held in session:
            session.expunge(held)
