"""A plain python-telegram-bot webhook bot: the yardstick of `bench_vs_ptb`.

    python -m bench.ptb_bot --port 8443 --api http://127.0.0.1:8081 --data /tmp/ptb.pickle

What a small coalition would write first, following python-telegram-bot's own example of a
custom webhook server: Starlette under uvicorn puts each update in the application's queue and
answers 200 at once, the application handles the updates one at a time (its default), answers
a few keywords, counts each chat's questions in ``chat_data`` and keeps that with
``PicklePersistence`` (written every ``--flush`` seconds and at shutdown, its default way).
It acknowledges an update before it is stored anywhere: an update in the queue when the
process dies is lost. That is the trade this bench measures us against.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from telegram import Update
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    PicklePersistence,
    filters,
)

ANSWERS = (
    (("member", "join", "coalition"), "Organisations join the coalition by writing to the "
     "secretariat with their statutes and a letter of intent; the board decides each quarter."),
    (("meeting", "regional", "event"), "The next regional meeting is announced in the "
     "newsletter a month before; members receive the invitation by e-mail."),
    (("report", "annual"), "The annual report is on the website in English, Romanian and "
     "Russian; the other languages follow within a month."),
    (("funding", "grant", "money"), "Small grants open twice a year; the call says who may "
     "apply and how."),
    (("contact", "person", "who"), "Each country has a focal point; the secretariat gives "
     "their name and address on request."),
)  # fmt: skip
FALLBACK = "Thank you for your message; the secretariat will answer it."
HELP = "Ask about membership, meetings, reports, funding or contacts."


def answer_for(text: str) -> str:
    words = text.lower()
    for keys, answer in ANSWERS:
        if any(key in words for key in keys):
            return answer
    return FALLBACK


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.effective_chat is not None
    context.chat_data["started"] = True  # type: ignore[index]
    await context.bot.send_message(update.effective_chat.id, "Welcome! " + HELP)


async def help_(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.effective_chat is not None
    await context.bot.send_message(update.effective_chat.id, HELP)


async def question(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.effective_chat is not None and update.effective_message is not None
    data = context.chat_data
    assert data is not None
    data["asked"] = data.get("asked", 0) + 1
    text = update.effective_message.text or ""
    await context.bot.send_message(update.effective_chat.id, answer_for(text))


async def button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.callback_query is not None and update.effective_chat is not None
    await update.callback_query.answer()
    context.chat_data["last_button"] = update.callback_query.data  # type: ignore[index]
    await context.bot.send_message(update.effective_chat.id, HELP)


def build(api: str, token: str, data: str, flush: float, concurrent: bool) -> Application:
    persistence = PicklePersistence(data, update_interval=flush)
    application = (
        Application.builder()
        .token(token)
        .base_url(f"{api}/bot")
        .base_file_url(f"{api}/file/bot")
        .persistence(persistence)
        .updater(None)  # our own web server puts the updates in the queue
        .concurrent_updates(concurrent)
        .build()
    )
    application.add_handler(CommandHandler("start", start))
    application.add_handler(CommandHandler("help", help_))
    application.add_handler(CallbackQueryHandler(button))
    application.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, question))
    return application


async def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.ptb_bot", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--api", required=True, help="the Bot API's address (the fake's)")
    parser.add_argument("--token", required=True)
    parser.add_argument("--secret", required=True)
    parser.add_argument("--data", required=True, help="the pickle file of its persistence")
    parser.add_argument("--flush", type=float, default=60.0, help="seconds between writes (60)")
    parser.add_argument("--concurrent", action="store_true", help="handle updates concurrently")
    args = parser.parse_args(argv)
    application = build(args.api, args.token, args.data, args.flush, args.concurrent)

    async def telegram(request: Request) -> Response:
        if request.headers.get("X-Telegram-Bot-Api-Secret-Token") != args.secret:
            return Response(status_code=403)
        update = Update.de_json(json.loads(await request.body()), application.bot)
        await application.update_queue.put(update)
        return Response()

    async def ready(_: Request) -> Response:
        return Response("ok")

    web = uvicorn.Server(
        uvicorn.Config(
            Starlette(routes=[
                Route("/webhook/telegram", telegram, methods=["POST"]),
                Route("/readyz", ready, methods=["GET"]),
            ]),
            host=args.host, port=args.port, log_level="warning", access_log=False,
        )
    )  # fmt: skip
    web.install_signal_handlers = lambda: None  # type: ignore[method-assign]
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with application:
        await application.start()
        serving = asyncio.create_task(web.serve())
        await stop.wait()
        web.should_exit = True
        with contextlib.suppress(Exception):
            await serving
        await application.stop()


if __name__ == "__main__":
    asyncio.run(main())
