"""MCP over streamable HTTP by hand, for tests that need what an SDK hides: the session id, a
request on someone else's session, a GET stream left unread, a session walked away from."""

from __future__ import annotations

import json
import itertools

import httpx2

from spoken import capture_text

HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
PROTOCOL = "2025-06-18"
NO_SESSION = "Not Found: Session not found"


def sse_messages(body: str) -> list[dict]:
    """The JSON-RPC messages of an SSE body (priming events carry no data)."""
    out = []
    for line in body.splitlines():
        if line.startswith("data:") and line[5:].strip():
            out.append(json.loads(line[5:]))
    return out


class Raw:
    """One operator's HTTP client; `sid` is the session it speaks on, its own or not."""

    def __init__(self, url: str, token: str | None = None, sid: str | None = None):
        self.url = url
        self.headers = dict(HEADERS)
        if token:
            self.headers["Authorization"] = f"Bearer {token}"
        self.sid = sid
        self.ids = itertools.count(1)
        self.http = httpx2.AsyncClient(timeout=httpx2.Timeout(30, read=60))

    async def __aenter__(self) -> "Raw":
        return self

    async def __aexit__(self, *_):
        await self.http.aclose()

    def _headers(self, sid: str | None) -> dict:
        h = dict(self.headers)
        if sid:
            h["Mcp-Session-Id"] = sid
            h["MCP-Protocol-Version"] = PROTOCOL
        return h

    async def open(self) -> str:
        """initialize + notifications/initialized; returns the new session's id."""
        init = {"jsonrpc": "2.0", "id": next(self.ids), "method": "initialize",
                "params": {"protocolVersion": PROTOCOL, "capabilities": {}, "clientInfo": {"name": "raw", "version": "1"}}}
        r = await self.http.post(self.url, json=init, headers=self.headers)
        assert r.status_code == 200, (r.status_code, r.text)
        self.sid = r.headers["mcp-session-id"]
        r = await self.http.post(self.url, json={"jsonrpc": "2.0", "method": "notifications/initialized"},
                                 headers=self._headers(self.sid))
        assert r.status_code == 202, (r.status_code, r.text)
        return self.sid

    async def post(self, message: dict, sid: str | None = None) -> httpx2.Response:
        return await self.http.post(self.url, json=message, headers=self._headers(sid or self.sid))

    async def call(self, name: str, args: dict | None = None, sid: str | None = None):
        """tools/call on the session; returns (HTTP status, the tool result or None, body text)."""
        msg = {"jsonrpc": "2.0", "id": next(self.ids), "method": "tools/call",
               "params": {"name": name, "arguments": args or {}}}
        r = await self.post(msg, sid)
        if r.status_code != 200:
            return r.status_code, None, r.text
        results = [m for m in sse_messages(r.text) if m.get("id") == msg["id"]]
        for m in results:
            res = m.get("result") or {}
            for c in res.get("content") or []:
                if c.get("type") == "text":
                    capture_text(name, c.get("text", ""), "refusal" if res.get("isError") else "result")
        # No answer on the stream: the session closed while the request was in flight.
        return 200, results[0].get("result") if results else None, r.text

    async def ok(self, name: str, args: dict | None = None) -> dict:
        status, result, body = await self.call(name, args)
        assert status == 200 and result and not result.get("isError"), (status, body)
        return result["structuredContent"]

    async def get(self, sid: str | None = None) -> httpx2.Response:
        """Opens the session's GET stream; the caller reads it (or not) and closes it."""
        h = self._headers(sid or self.sid)
        h["Accept"] = "text/event-stream"
        request = self.http.build_request("GET", self.url, headers=h)
        return await self.http.send(request, stream=True)

    async def delete(self, sid: str | None = None) -> httpx2.Response:
        return await self.http.delete(self.url, headers=self._headers(sid or self.sid))


def answer(r: httpx2.Response) -> tuple:
    """What a client can tell from an HTTP answer: status, body, and headers other than the date."""
    headers = {k: v for k, v in r.headers.items() if k.lower() not in ("date",)}
    return r.status_code, r.text, headers
