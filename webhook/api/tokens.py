"""Personal API tokens over HTTP: everyone lists, creates and revokes their own."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, HTTPException, Response
from pydantic import BaseModel, Field

from bot.secretariat.audit import record
from bot.secretariat.staff import AccountError
from bot.secretariat.tokens import create_api_token, list_api_tokens, revoke_api_token
from bot.storage.models import ApiToken
from webhook.api.common import READ, ItemId, errors
from webhook.auth import SignedInDep, StaffDep
from webhook.deps import ServiceDep

router = APIRouter(prefix="/api", tags=["tokens"])


class TokenOut(BaseModel):
    id: int
    name: str
    prefix: str = Field(description="the token's first characters, to tell tokens apart")
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class Tokens(BaseModel):
    tokens: list[TokenOut]


class NewToken(BaseModel):
    name: str = Field(min_length=1, max_length=100, description="what will use it")


class CreatedToken(TokenOut):
    token: str = Field(description="the token itself: shown this once, never again")


def token_out(row: ApiToken) -> TokenOut:
    return TokenOut.model_validate(row, from_attributes=True)


@router.get("/tokens", response_model=Tokens, summary="List my API tokens", responses=READ)
async def list_tokens(person: StaffDep, service: ServiceDep) -> Tokens:
    """Your own tokens, revoked ones too, newest first."""
    async with service.db.session() as session:
        found = await list_api_tokens(session, person)
    return Tokens(tokens=[token_out(t) for t in found])


@router.post(
    "/tokens",
    response_model=CreatedToken,
    status_code=201,
    summary="Create an API token",
    responses=errors(401, 403, 422),
)
async def create(body: NewToken, person: SignedInDep, service: ServiceDep) -> CreatedToken:
    """A personal token that acts with your role and country scope, for every role. Send it
    as `Authorization: Bearer <token>`. Only a hash is kept: copy it now. Made from a
    signed-in dashboard session only (403 with a token): a token cannot make tokens that
    would outlive it."""
    async with service.db.session() as session, session.begin():
        try:
            row, token = await create_api_token(session, person, body.name)
        except AccountError as exc:
            raise HTTPException(422, str(exc)) from None
        await record(session, person, "token.create", f"token:{row.id}")
    return CreatedToken(**token_out(row).model_dump(), token=token)


@router.delete(
    "/tokens/{token_id}",
    status_code=204,
    response_class=Response,
    summary="Revoke an API token",
    responses=errors(401, 403, 404),
)
async def revoke(token_id: ItemId, person: StaffDep, service: ServiceDep) -> Response:
    """Revoke one of your tokens (an administrator of every country may revoke anyone's); it
    stops working at once. 404 when there is no such token you may revoke, or it is revoked
    already."""
    async with service.db.session() as session, session.begin():
        if not await revoke_api_token(session, person, token_id):
            raise HTTPException(404, "no such token")
        await record(session, person, "token.revoke", f"token:{token_id}")
    return Response(status_code=204)
