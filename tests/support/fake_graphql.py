"""A local stand-in for Cloudflare's GraphQL Analytics API, and an answer of the shape it gives."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

TOKEN = "cf-token-SHOULD-NOT-APPEAR-0123456789"
ACCOUNT = "0123456789abcdef0123456789abcdef"


class FakeGraphQL:
    """A local stand-in for Cloudflare's GraphQL endpoint: records requests, returns a set answer."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.status = 200
        self.answer: dict[str, Any] = {}
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                fake.requests.append({"path": self.path, "auth": self.headers.get("Authorization"), "body": body})
                data = json.dumps(fake.answer).encode()
                self.send_response(fake.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/client/v4"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


ANSWER = {
    "data": {
        "viewer": {
            "accounts": [
                {
                    "r2StorageAdaptiveGroups": [
                        {
                            "max": {
                                "objectCount": 1234,
                                "payloadSize": 5_000_000,
                                "metadataSize": 1000,
                                "uploadCount": 2,
                            },
                            "dimensions": {"datetime": "2026-11-27T00:00:00Z"},
                        }
                    ],
                    "r2OperationsAdaptiveGroups": [
                        {"sum": {"requests": 300}, "dimensions": {"actionType": "ListObjects"}},
                        {"sum": {"requests": 20}, "dimensions": {"actionType": "PutObject"}},
                        {"sum": {"requests": 9000}, "dimensions": {"actionType": "GetObject"}},
                        {"sum": {"requests": 40}, "dimensions": {"actionType": "HeadObject"}},
                        {"sum": {"requests": 5}, "dimensions": {"actionType": "DeleteObject"}},
                    ],
                }
            ]
        }
    },
    "errors": None,
}
