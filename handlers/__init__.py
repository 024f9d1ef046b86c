"""The features: each module exposes one router."""

from __future__ import annotations

from bot.router import Router


def routers() -> list[Router]:
    """Every feature's router, in the order their free-text handlers are tried."""
    from handlers import faq, handoff, menu, onboarding, staff, survey, timezone, topics

    return [
        onboarding.router, menu.router, topics.router, timezone.router, handoff.router,
        staff.router, survey.router, faq.router,
    ]  # fmt: skip
