"""The features: each module exposes one router (safeguarding and ui are shared by several)."""

from __future__ import annotations

from bot.conversation.router import Router


def routers() -> list[Router]:
    """Every feature's router. Their order is the order their gates run in (onboarding's
    consent gate first); commands, buttons and flows may not clash, and one router (faq)
    answers free text, so nothing else depends on it."""
    from handlers import (
        faq,
        handoff,
        linking,
        menu,
        onboarding,
        privacy,
        replies,
        staff,
        survey,
        timezone,
        topics,
    )

    return [
        onboarding.router, replies.router, menu.router, linking.router, privacy.router, topics.router,
        timezone.router, handoff.router, staff.router, survey.router, faq.router,
    ]  # fmt: skip
