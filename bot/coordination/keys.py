"""The names of everything processes share through the coordinator: locks, dedupe marks,
rate buckets and wake-up topics. Under Redis they are keys (below ``REDIS_PREFIX``), so their
shapes must not change while a deployment runs."""

from __future__ import annotations

import hashlib

# Topics a worker waits on and others notify.
OUTBOX = "outbox"  # new messages are queued, or a chat's previous one is recorded: send
BROADCASTS = "broadcasts"  # a broadcast is launched, approved or cancelled
SURVEYS = "surveys"  # a survey reminder is set
KNOWLEDGE = "knowledge"  # a topic or a helpline changed: every process reads the knowledge again

RETENTION = "retention"  # the lock of the daily clean-up, held by one process at a time


def contact_key(channel: str, address: str) -> str:
    """A lock or cache key for one contact that does not carry their phone number."""
    digest = hashlib.sha256(f"{channel}:{address}".encode()).hexdigest()[:20]
    return f"contact:{digest}"


def seen_key(channel: str, platform_id: str) -> str:
    """The mark that a platform's message was stored, so a repeat delivery is dropped early."""
    return f"seen:{channel}:{platform_id}"


def chat_rate_key(channel: str, address: str) -> str:
    """The rate bucket of one chat."""
    return f"rate:{contact_key(channel, address)}"


def channel_rate_key(channel: str) -> str:
    """The shared send schedule of a whole channel."""
    return f"rate:{channel}"


def web_chat_topic(channel: str, address: str) -> str:
    """Notified when a message for a web (or terminal) chat is sent: its page stops waiting."""
    return f"web:{contact_key(channel, address)}"


def broadcast_lock(broadcast_id: int) -> str:
    return f"broadcast:{broadcast_id}"


def survey_reminder_lock(survey_id: int) -> str:
    return f"survey-reminder:{survey_id}"


def _client_digest(client: str) -> str:
    return hashlib.sha256(f"client:{client}".encode()).hexdigest()[:20]


def web_visitor_rate_key(session: str) -> str:
    """The rate bucket of one web chat visitor (the page's session id)."""
    return f"rate:web-visitor:{contact_key('web', session)}"


def web_client_rate_key(client: str, kind: str) -> str:
    """The rate bucket of one client address on the web chat: ``send``, ``read`` or ``new``
    (new visitors). The address itself is not kept in the key."""
    return f"rate:web-client:{kind}:{_client_digest(client)}"
