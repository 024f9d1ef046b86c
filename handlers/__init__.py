"""The features: each module exposes one router."""

from __future__ import annotations

from bot.conversation.router import Router


def routers() -> list[Router]:
    """Every feature's router, in the order their free-text handlers are tried."""
    from handlers import (
        faq,
        handoff,
        linking,
        menu,
        onboarding,
        privacy,
        staff,
        survey,
        timezone,
        topics,
    )

    return [
        onboarding.router, menu.router, linking.router, privacy.router, topics.router,
        timezone.router, handoff.router, staff.router, survey.router, faq.router,
    ]  # fmt: skip
