"""Error reports to Sentry or a Sentry-compatible service (GlitchTip, self-hosted Sentry), when
SENTRY_DSN is set and sentry-sdk is installed (``pip install 'childpact-messenger[sentry]'``).

Reports are scrubbed the way log lines are (bot/logs.py): no phone number, token or secret,
no request body, no local variables, no cookies or client addresses.
"""

from __future__ import annotations

import logging
from typing import Any

from bot import logs
from bot.config import Settings

log = logging.getLogger(__name__)


def start_error_reports(settings: Settings, **options: Any) -> bool:
    """Start reporting errors; False when SENTRY_DSN is unset or sentry-sdk is missing."""
    if settings.sentry_dsn is None:
        return False
    try:
        import sentry_sdk
    except ImportError:
        log.warning(
            "SENTRY_DSN is set but sentry-sdk is not installed: "
            "pip install 'childpact-messenger[sentry]'"
        )
        return False
    dsn = settings.sentry_dsn.get_secret_value()
    logs.hide(dsn)
    sentry_sdk.init(
        dsn=dsn,
        environment=settings.sentry_environment,
        send_default_pii=False,  # no cookies, client addresses or user data
        include_local_variables=False,  # a frame's variables hold members' texts
        max_request_body_size="never",
        before_send=_scrubbed,
        before_send_transaction=_scrubbed,
        before_breadcrumb=_scrubbed,
        **options,
    )
    return True


def _scrubbed(event: Any, _hint: Any) -> Any:
    request = event.get("request") if isinstance(event, dict) else None
    if isinstance(request, dict):
        # The platforms' secret headers and the query string (chat session ids) stay here.
        request.pop("headers", None)
        request.pop("query_string", None)
        request.pop("cookies", None)
        request.pop("data", None)
    return logs.scrub_value(event)
