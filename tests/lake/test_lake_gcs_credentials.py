"""The GCS lake's staging filesystem gets an access token made from the connection's service account key.

No stand-in serves Google's OAuth token endpoint, so this test runs a small HTTP server on loopback
that speaks its protocol (a JWT-bearer grant POSTed as a form, a JSON token back) and points the
key's `token_uri` at it. What is checked is the real google-auth exchange and the pyarrow
filesystem built from its result; the bucket side is covered by the delta-rs/GCS limitation noted
in docs/connectors.md.
"""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, HTTPServer
from urllib.parse import parse_qs

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from headwater.lake import storage


@pytest.fixture
def token_endpoint():
    grants: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (http.server's naming)
            body = self.rfile.read(int(self.headers["Content-Length"])).decode()
            grants.append(parse_qs(body))
            answer = json.dumps({"access_token": "ya29.test-token", "expires_in": 3600, "token_type": "Bearer"})
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(answer.encode())

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/token", grants
    server.shutdown()


def _service_account_key(token_uri: str) -> dict:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return {
        "type": "service_account", "project_id": "p", "private_key_id": "k1", "private_key": pem.decode(),
        "client_email": "lake@p.iam.gserviceaccount.com", "client_id": "1", "token_uri": token_uri,
    }


@pytest.mark.parametrize("inline", [True, False], ids=["keyfile_dict", "key_path"])
def test_gcs_staging_filesystem_uses_a_token_from_the_service_account(token_endpoint, monkeypatch, tmp_path, inline):
    import pyarrow.fs as pafs

    url, grants = token_endpoint
    key = _service_account_key(url)
    if inline:
        extra = {"keyfile_dict": key}
    else:
        (tmp_path / "key.json").write_text(json.dumps(key))
        extra = {"key_path": str(tmp_path / "key.json")}
    options = storage.options_from_connection("google_cloud_platform", None, None, extra, "lake")
    monkeypatch.setattr(storage, "connection_options", lambda: options)

    fs, path = storage.filesystem("gs://lake-bucket/headwater/_staging")

    assert isinstance(fs, pafs.GcsFileSystem) and path == "lake-bucket/headwater/_staging"
    [grant] = grants
    assert grant["grant_type"] == ["urn:ietf:params:oauth:grant-type:jwt-bearer"]
    assert grant["assertion"][0].count(".") == 2  # a signed JWT
    # the filesystem carries the token the endpoint handed out, and when it expires (about an hour)
    settings = fs.__reduce__()[1][0]
    assert settings["access_token"] == "ya29.test-token" and not settings["anonymous"]
    assert 3500 < (settings["credential_token_expiration"] - datetime.now(UTC)).total_seconds() <= 3600
