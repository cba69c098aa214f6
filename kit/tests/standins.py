"""Local HTTP stand-ins on 127.0.0.1 that record every request: DataHub's GMS and a Slack webhook."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class StandIn:
    url: str
    requests: list[Request] = field(default_factory=list)
    status: int = 200
    # Bodies to answer with, in order; then {"value": "ok"}.
    replies: list[Any] = field(default_factory=list)

    def proposals(self) -> list[dict[str, Any]]:
        """GMS: every ingestProposal's proposal, with its aspect value decoded."""
        out = []
        for r in self.requests:
            if r.method == "POST" and r.path == "/aspects?action=ingestProposal":
                proposal = dict(r.body["proposal"])
                proposal["aspect"] = json.loads(proposal["aspect"]["value"])
                out.append(proposal)
        return out


@contextmanager
def stand_in() -> Iterator[StandIn]:
    """A server answering every GET and POST with `status` and a small JSON body, recording requests."""
    server_state: dict[str, StandIn] = {}

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            state = server_state["s"]
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                body = raw.decode(errors="replace")
            state.requests.append(Request(self.command, self.path, dict(self.headers), body))
            data = json.dumps(state.replies.pop(0) if state.replies else {"value": "ok"}).encode()
            self.send_response(state.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            self._answer()

        def do_POST(self) -> None:
            self._answer()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server_state["s"] = StandIn(url=f"http://127.0.0.1:{server.server_address[1]}")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server_state["s"]
    finally:
        server.shutdown()
        server.server_close()
