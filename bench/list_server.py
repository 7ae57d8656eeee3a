"""A fast, read-only S3 LIST server on loopback for listing benchmarks (reusable).

moto re-sorts the whole bucket on every LIST page and serves ~2,000-4,000 keys/s, so with moto every
client measures moto. This serves ListObjectsV2 (prefix, delimiter, max-keys, start-after,
continuation-token, encoding-type) and an empty ListMultipartUploads from a fixed, sorted key list
in a few milliseconds per page, so the client's own cost shows. It ignores signatures.
"""

from __future__ import annotations

import bisect
import threading
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, quote, urlsplit
from xml.sax.saxutils import escape

MODIFIED = datetime(2025, 6, 1, tzinfo=UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


class ListServer:
    def __init__(self, bucket: str, objects: list[tuple[str, int]]) -> None:
        self.bucket = bucket
        items = sorted(objects)
        self.keys = [k for k, _ in items]
        self.sizes = [s for _, s in items]
        self.requests = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                server.requests += 1
                body, status = server.answer(self.path)
                self.send_response(status)
                self.send_header("Content-Type", "application/xml")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_HEAD(self) -> None:
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        class Server(ThreadingHTTPServer):
            request_queue_size = 256  # socketserver's default of 5 drops bursts of parallel connects (1 s SYN retry)

        self.httpd = Server(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    @property
    def port(self) -> int:
        return int(self.httpd.server_address[1])

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def answer(self, path: str) -> tuple[bytes, int]:
        parts = urlsplit(path)
        query = {k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        if parts.path.strip("/") != self.bucket:
            return b"<Error><Code>NoSuchBucket</Code></Error>", 404
        if "uploads" in query:
            xml = f"<ListMultipartUploadsResult><Bucket>{self.bucket}</Bucket><IsTruncated>false</IsTruncated>"
            return (xml + "</ListMultipartUploadsResult>").encode(), 200
        if "location" in query:
            return b"<LocationConstraint>auto</LocationConstraint>", 200
        prefix = query.get("prefix", "")
        delimiter = query.get("delimiter", "")
        max_keys = min(1000, int(query.get("max-keys", "1000") or 1000))
        after = query.get("continuation-token") or query.get("start-after") or query.get("marker") or ""
        v2 = query.get("list-type") == "2"
        enc = query.get("encoding-type") == "url"

        def shown(text: str) -> str:
            return escape(quote(text, safe="/") if enc else text)

        i = bisect.bisect_right(self.keys, after) if after else bisect.bisect_left(self.keys, prefix)
        contents: list[str] = []
        prefixes: list[str] = []
        last = ""
        while i < len(self.keys) and len(contents) + len(prefixes) < max_keys:
            key = self.keys[i]
            if not key.startswith(prefix):
                break
            rest = key[len(prefix) :]
            if delimiter and delimiter in rest:
                common = prefix + rest.split(delimiter, 1)[0] + delimiter
                prefixes.append(f"<CommonPrefixes><Prefix>{shown(common)}</Prefix></CommonPrefixes>")
                last = common + "\U0010ffff"  # skip past every key of this common prefix
                i = bisect.bisect_right(self.keys, last)
                continue
            contents.append(
                f"<Contents><Key>{shown(key)}</Key><LastModified>{MODIFIED}</LastModified>"
                f'<ETag>"0"</ETag><Size>{self.sizes[i]}</Size><StorageClass>STANDARD</StorageClass></Contents>'
            )
            last = key
            i += 1
        truncated = i < len(self.keys) and self.keys[i].startswith(prefix)
        head = [
            '<?xml version="1.0" encoding="UTF-8"?>',
            '<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">',
            f"<Name>{self.bucket}</Name><Prefix>{shown(prefix)}</Prefix><MaxKeys>{max_keys}</MaxKeys>",
            f"<IsTruncated>{'true' if truncated else 'false'}</IsTruncated>",
        ]
        if delimiter:
            head.append(f"<Delimiter>{escape(delimiter)}</Delimiter>")
        if enc:
            head.append("<EncodingType>url</EncodingType>")
        if v2:
            head.append(f"<KeyCount>{len(contents) + len(prefixes)}</KeyCount>")
            if truncated:
                head.append(f"<NextContinuationToken>{escape(last)}</NextContinuationToken>")
        elif truncated:
            head.append(f"<NextMarker>{shown(last)}</NextMarker>")
        return "".join([*head, *contents, *prefixes, "</ListBucketResult>"]).encode("utf-8"), 200


def main() -> None:
    """`python -m bench.list_server BUCKET FOLDERS PER_FOLDER`: serve f00/img-00000.jpg... in its own
    process (so the server never competes with the client for one GIL); prints the port."""
    import sys
    import time

    bucket, folders, per_folder = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    items = [(f"f{p:02d}/img-{i:05d}.jpg", 1000 + i) for p in range(folders) for i in range(per_folder)]
    server = ListServer(bucket, items)
    print(server.port, flush=True)
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main()
