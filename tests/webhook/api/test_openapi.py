"""The OpenAPI document describes every /api operation completely, and schemathesis, calling
each with generated requests as an administrator, never gets a server error."""

from __future__ import annotations

import asyncio
from typing import Any

import schemathesis
from hypothesis import HealthCheck, Phase, given, settings

from app.service import Service
from app.web import create_app
from bot.config import Settings
from bot.coordination import create_coordinator
from tests.conftest import Backend
from tests.harness import start_service
from tests.webhook.api.conftest import Api, seed

EXAMPLES = 6  # per operation: enough to try each parameter's edges, quick on both backends


def test_every_api_operation_is_described_with_its_refusals():
    document = create_app(Settings(_env_file=None)).openapi()
    schemes = document["components"]["securitySchemes"]
    assert schemes["HTTPBearer"]["scheme"] == "bearer" and schemes["HTTPBearer"]["description"]
    operations = [
        (path, method, op)
        for path, ops in document["paths"].items()
        if path.startswith("/api/")
        for method, op in ops.items()
    ]
    assert len(operations) >= 20
    for path, method, op in operations:
        where = f"{method.upper()} {path}"
        assert op.get("summary") and op.get("description"), where
        assert op.get("tags"), where
        assert {"HTTPBearer": []} in op["security"], where
        assert "401" in op["responses"], where
        success = next(code for code in op["responses"] if code.startswith("2"))
        assert op["responses"][success].get("description"), where
        if method != "get":
            assert "403" in op["responses"], where
        if "{" in path:
            assert "404" in op["responses"], where
    problem = document["paths"]["/api/members/{member_id}"]["get"]["responses"]["404"]
    assert problem["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Problem"
    }
    csv = document["paths"]["/api/members.csv"]["get"]["responses"]["200"]["content"]
    assert "text/csv" in csv


def _fuzz(app: Any, token: str) -> list[str]:
    """Generated requests against every operation; the ones answered with a 5xx."""
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    operations = [op for op in operations if op.path.startswith("/api/")]
    # Revoking tokens last: the token these requests carry may be among those revoked.
    operations.sort(key=lambda op: op.method.upper() == "DELETE" and "tokens" in op.path)
    failures: list[str] = []
    headers = {"Authorization": f"Bearer {token}"}
    for operation in operations:

        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            derandomize=True,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy())
        def call(case: Any) -> None:
            response = case.call(headers=headers)
            if response.status_code >= 500:
                failures.append(f"{case.method} {case.formatted_path}: {response.status_code}")

        call()
    return failures


async def test_schemathesis_finds_no_server_error(backend: Backend):
    config = Settings(
        _env_file=None, database_url=backend.database_url, redis_url=backend.redis_url
    )
    service = await start_service(backend, config, workers=False)
    api = Api(service, None)  # type: ignore[arg-type]
    await seed(api)
    await service.stop()
    # Schemathesis runs the app, its lifespan included, on its own event loop in a thread.
    fresh = Service(
        config,
        coordinator=create_coordinator(backend.redis_url, prefix=backend.redis_prefix),
        db_schema=backend.schema,
    )
    app = create_app(config, service=fresh, workers=False)
    try:
        failures = await asyncio.to_thread(_fuzz, app, api.tokens["admin"])
    finally:
        await asyncio.to_thread(schemathesis.python.asgi.shutdown_lifespans)
    assert failures == []
