"""A real S3-compatible HTTP server on loopback (moto's server mode) for the ``s3://`` source tests.

Tests talk to it over TCP with real requests, signatures and pagination, as they would to S3; nothing is
patched inside boto3. moto is imported only when a server starts, so a missing ``moto[server]`` makes the
S3 tests skip instead of breaking the whole test session.
"""

from __future__ import annotations

import json
import logging
import socket
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import boto3

FAKE_ACCESS_KEY = "AKIATRAILSMITHTEST00"
FAKE_SECRET_KEY = "trailsmith-test-secret"
REGION = "us-east-1"


@dataclass
class S3Server:
    """A running server: its endpoint, clients bound to it, and the environment that points boto3 at it."""

    endpoint: str
    _server: Any

    def client(
        self, service: str = "s3", *, access_key: str = FAKE_ACCESS_KEY, secret_key: str = FAKE_SECRET_KEY
    ) -> Any:
        """A client with explicit settings, independent of the process environment (for test set-up)."""
        session = boto3.session.Session(
            aws_access_key_id=access_key, aws_secret_access_key=secret_key, region_name=REGION
        )
        return session.client(service, endpoint_url=self.endpoint)

    def environment(self, config_dir: str) -> dict[str, str]:
        """AWS variables that point the code under test at this server (see :func:`aws_environment`)."""
        return aws_environment(self.endpoint, config_dir)

    @contextmanager
    def iam_enforced(self) -> Iterator[None]:
        """Make the server check signatures and IAM policies, as S3 does, for the duration of the block."""
        self._post("/moto-api/reset-auth", b"0")
        try:
            yield
        finally:
            self._post("/moto-api/reset-auth", b"inf")

    def stop(self) -> None:
        self._server.stop()

    def _post(self, path: str, body: bytes) -> dict[str, Any]:
        # Bypass any proxy from the developer's environment: the server is on loopback.
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        # Not a form: werkzeug would parse a form body away and moto would find no data.
        request = urllib.request.Request(
            self.endpoint + path, data=body, method="POST", headers={"Content-Type": "text/plain"}
        )
        with opener.open(request) as response:
            result: dict[str, Any] = json.loads(response.read())
            return result


def aws_environment(endpoint: str, config_dir: str) -> dict[str, str]:
    """AWS variables for code under test: fake keys, ``endpoint``, and no way to reach real AWS.

    ``config_dir`` should not hold AWS files: the config and credentials files point there so that the
    developer's ``~/.aws`` is never read, and instance metadata is off so no request leaves the host.
    """
    return {
        "AWS_ACCESS_KEY_ID": FAKE_ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": FAKE_SECRET_KEY,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ENDPOINT_URL_S3": endpoint,
        "AWS_CONFIG_FILE": f"{config_dir}/aws-config",
        "AWS_SHARED_CREDENTIALS_FILE": f"{config_dir}/aws-credentials",
        "AWS_EC2_METADATA_DISABLED": "true",
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
    }


def start_s3_server() -> S3Server:
    """Start moto's threaded server on 127.0.0.1, on a port the kernel picks so parallel runs never clash."""
    from moto.server import ThreadedMotoServer

    # werkzeug logs every request at INFO; thousands of lines would bury a failing test's output.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    return S3Server(endpoint=f"http://{host}:{port}", _server=server)


def closed_port() -> int:
    """A loopback port nothing listens on, for 'endpoint unreachable' tests."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port
