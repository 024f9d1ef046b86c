"""The container stack as far as this machine can check it without a container engine: the
compose file is valid Compose, and the image and the stack run the Procfile's commands."""

from __future__ import annotations

import ipaddress
import json
import re
import shlex
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = Path(__file__).resolve().parent / "compose-spec" / "compose-spec.json"
# The schema names draft 2019-09 by an address jsonschema does not know it by.
VALIDATOR = jsonschema.Draft201909Validator


def procfile() -> dict[str, list[str]]:
    found = {}
    for line in (ROOT / "Procfile").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, command = line.partition(":")
            found[name.strip()] = shlex.split(command)
    return found


def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "compose.yaml").read_text(encoding="utf-8"))


def dockerfile_instructions() -> list[tuple[str, str]]:
    """The final stage's instructions, continuation lines joined."""
    text = re.sub(r"\\\n\s*", " ", (ROOT / "Dockerfile").read_text(encoding="utf-8"))
    stages = re.split(r"^FROM ", text, flags=re.MULTILINE)
    lines = [line.strip() for line in ("FROM " + stages[-1]).splitlines()]
    return [
        (line.split(" ", 1)[0].upper(), line.split(" ", 1)[1] if " " in line else "")
        for line in lines
        if line and not line.startswith("#")
    ]


def test_compose_file_validates_against_the_compose_specification():
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    validator = VALIDATOR
    validator.check_schema(schema)
    errors = sorted(validator(schema).iter_errors(compose()), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors)


def test_the_schema_catches_a_wrong_compose_file():
    """The validation is no formality: a misspelt key fails it."""
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    broken = compose()
    broken["services"]["web"]["comand"] = broken["services"]["web"].pop("command")
    with pytest.raises(jsonschema.ValidationError):
        VALIDATOR(schema).validate(broken)


def test_the_stack_runs_the_procfiles_commands():
    services = compose()["services"]
    for name, command in procfile().items():
        assert services[name]["command"] == command, name


def test_the_stack_has_its_parts_in_order():
    services = compose()["services"]
    assert {"postgres", "redis", "release", "web", "worker", "caddy"} <= set(services)
    for name in ("web", "worker"):
        after = services[name]["depends_on"]
        assert after["release"]["condition"] == "service_completed_successfully"
        assert after["postgres"]["condition"] == "service_healthy"
        assert services[name]["environment"]["DATABASE_URL"].startswith("postgresql://")
        assert services[name]["environment"]["REDIS_URL"].startswith("redis://")
    # Only the proxy faces the internet, on the ports certificates are obtained through.
    published = {name for name, s in services.items() if s.get("ports")}
    assert published == {"caddy"}
    assert {"80:80", "443:443"} <= set(services["caddy"]["ports"])
    caddyfile = (ROOT / "deploy" / "Caddyfile").read_text(encoding="utf-8")
    assert "{$PUBLIC_URL}" in caddyfile and "reverse_proxy web:8000" in caddyfile


def test_the_image_is_non_root_checks_its_health_and_runs_the_procfiles_web():
    steps = dockerfile_instructions()
    kinds = [kind for kind, _ in steps]
    user = [arg for kind, arg in steps if kind == "USER"]
    assert user and user[-1] not in ("root", "0")
    assert kinds.index("USER") < kinds.index("CMD")
    (health,) = [arg for kind, arg in steps if kind == "HEALTHCHECK"]
    assert "/healthz" in health
    (cmd,) = [arg for kind, arg in steps if kind == "CMD"]
    assert json.loads(cmd) == procfile()["web"]
    assert "slim" in steps[0][1] or "alpine" in steps[0][1]  # a small base
    # the safeguarding model is trained into the volume's path when the image is built, by the
    # service's user: a new container does not spend its first half-minute training it
    train = steps.index(("RUN", "childpact knowledge train"))
    assert kinds.index("USER") < train < kinds.index("CMD")
    assert any(kind == "ENV" and "XDG_CACHE_HOME=/app/var/" in arg for kind, arg in steps[:train])


def test_the_example_environment_names_only_real_settings():
    from bot.config import Settings

    known = {name.upper() for name in Settings.model_fields} | {"POSTGRES_PASSWORD"}
    example = (ROOT / "deploy" / "env.example").read_text(encoding="utf-8")
    named = set(re.findall(r"^#?([A-Z][A-Z_]+)=", example, flags=re.MULTILINE))
    assert named and named <= known, named - known


def test_the_web_service_believes_caddy_and_nobody_else():
    # Without it every member and staff member would look like Caddy's address, and share one
    # set of sign-in and web chat limits.
    web = compose()["services"]["web"]
    networks = [
        ipaddress.ip_network(n.strip()) for n in web["environment"]["TRUSTED_PROXIES"].split(",")
    ]
    caddy_on_a_compose_network = ipaddress.ip_address("172.18.0.5")
    assert any(caddy_on_a_compose_network in n for n in networks)
    assert not any(ipaddress.ip_address("203.0.113.7") in n for n in networks)
    assert "ports" not in web  # only Caddy can reach it
