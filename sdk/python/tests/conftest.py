"""A real Gatehouse server for the tests, named by the environment scripts/test-sdks sets.

    GH_TEST_ADDRESS         host:port of a fresh `gatehouse serve --dev`
    GH_TEST_CERTS           its certs/ directory (ca.pem, client.pem, client.key)
    GH_TEST_ADMIN_PASSWORD  the bootstrap admin's one-time password, not yet changed

The bootstrap admin's forced change is made once, by the `bootstrap` fixture, so the tests
need a server of their own.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest

from gatehouse_client import Client, GatehouseError, SignedIn, connect

ADMIN = "admin@gatehouse.example"
ADMIN_PASSWORD = "a long passphrase of my own"


def _setting(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        pytest.exit(f"{name} is not set: run scripts/test-sdks from the repository root, "
                    "which starts a server and sets it", returncode=2)
    return value


@pytest.fixture(scope="session")
def certs() -> Path:
    return Path(_setting("GH_TEST_CERTS"))


@pytest.fixture(scope="session")
def client(certs: Path) -> Iterator[Client]:
    with connect(
        _setting("GH_TEST_ADDRESS"),
        ca=certs / "ca.pem",
        cert=certs / "client.pem",
        key=certs / "client.key",
    ) as client:
        wait_until_serving(client)
        yield client


def wait_until_serving(client: Client, seconds: float = 10.0) -> None:
    """Health reports SERVING once the server's first database check passed."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            if client.health() == "SERVING":
                return
        except GatehouseError as error:
            if error.code != grpc.StatusCode.UNAVAILABLE or time.monotonic() > deadline:
                raise
        if time.monotonic() > deadline:
            pytest.fail(f"the server is not SERVING after {seconds} s")
        time.sleep(0.1)


@dataclass(frozen=True)
class Bootstrap:
    first_sign_in: SignedIn
    """The sign-in with the one-time password."""
    admin: Client
    """A full session of the bootstrap admin, after the forced change."""


@pytest.fixture(scope="session")
def bootstrap(client: Client) -> Bootstrap:
    one_time = _setting("GH_TEST_ADMIN_PASSWORD")
    first = client.sign_in(ADMIN, one_time)
    changed = client.with_session(first.token).change_password(one_time, ADMIN_PASSWORD)
    return Bootstrap(first_sign_in=first, admin=client.with_session(changed.token))


@pytest.fixture
def admin(bootstrap: Bootstrap) -> Client:
    return bootstrap.admin
