"""An aiohttp transport for python-telegram-bot's Bot, for sending at broadcast rates.

PTB's default transport (httpx) spends most of its time managing its connection pool once
dozens of requests are in flight; this one uses aiohttp, which twilio already brings. It
implements PTB's documented extension point, ``telegram.request.BaseRequest``.
"""

from __future__ import annotations

import asyncio

import aiohttp
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

_JSON = {"Content-Type": "application/json"}


class AiohttpRequest(BaseRequest):
    """One aiohttp session with a bounded pool of keep-alive connections."""

    def __init__(
        self,
        *,
        connection_pool_size: int = 64,
        connect_timeout: float = 5.0,
        read_timeout: float = 10.0,
    ) -> None:
        self._pool = connection_pool_size
        self._connect_timeout = connect_timeout
        self._read_timeout = read_timeout
        self._session: aiohttp.ClientSession | None = None

    @property
    def read_timeout(self) -> float | None:
        return self._read_timeout

    async def initialize(self) -> None:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._pool, keepalive_timeout=60),
                headers={"User-Agent": self.USER_AGENT},
            )

    async def shutdown(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: float | None | object = BaseRequest.DEFAULT_NONE,
        write_timeout: float | None | object = BaseRequest.DEFAULT_NONE,
        connect_timeout: float | None | object = BaseRequest.DEFAULT_NONE,
        pool_timeout: float | None | object = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        await self.initialize()
        assert self._session is not None
        timeout = aiohttp.ClientTimeout(
            total=None,
            sock_connect=_seconds(connect_timeout, self._connect_timeout),
            sock_read=_seconds(read_timeout, self._read_timeout),
        )
        body: aiohttp.FormData | bytes | None = None
        headers: dict[str, str] | None = None
        if request_data is not None:
            files = request_data.multipart_data
            if files:
                body = aiohttp.FormData()
                for name, value in request_data.json_parameters.items():
                    body.add_field(name, value)
                for name, (filename, content, mimetype) in files.items():
                    body.add_field(name, content, filename=filename, content_type=mimetype)
            else:
                # The Bot API takes a JSON body; PTB has it ready, where a form would have to
                # be url-encoded field by field on every message.
                body, headers = request_data.json_payload, _JSON
        try:
            async with self._session.request(
                method, url, data=body, headers=headers, timeout=timeout
            ) as response:
                return response.status, await response.read()
        except TimeoutError as exc:
            raise TimedOut from exc
        except (aiohttp.ClientError, asyncio.CancelledError) as exc:
            if isinstance(exc, asyncio.CancelledError):
                raise
            raise NetworkError(f"aiohttp: {type(exc).__name__}") from exc


def _seconds(value: float | None | object, default: float) -> float | None:
    if value is BaseRequest.DEFAULT_NONE or not isinstance(value, int | float | type(None)):
        return default
    return value  # type: ignore[return-value]
