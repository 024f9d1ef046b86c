"""The dashboard's tests sign in many times: a cheap argon2 keeps them quick. The real
parameters are bot.secretariat.passwords' own, tested with it."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher

from bot.secretariat import passwords


@pytest.fixture(autouse=True)
def quick_passwords(monkeypatch: pytest.MonkeyPatch) -> None:
    cheap = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    monkeypatch.setattr(passwords, "_hasher", cheap)
    monkeypatch.setattr(passwords, "_DUMMY_HASH", cheap.hash("not anyone's password"))
