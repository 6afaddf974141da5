"""Connecting over mutual TLS."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import grpc

from .client import Client

PemSource = bytes | str | os.PathLike[str]
"""PEM text as bytes, or the path of a file holding it."""


def connect(
    address: str,
    *,
    ca: PemSource,
    cert: PemSource,
    key: PemSource,
    server_name: str | None = None,
    timeout: float = 15.0,
    options: Sequence[tuple[str, Any]] = (),
) -> Client:
    """A client for the Gatehouse server at ``address`` (``host:port``), over mutual TLS.

    ``ca`` is the CA that issued the server's certificate; ``cert`` and ``key`` are the
    client certificate (issued by the server's client CA) and its private key. With
    ``gatehouse serve --dev`` they are ``gatehouse-data/certs/ca.pem``, ``client.pem`` and
    ``client.key``. ``server_name`` checks the server's certificate against another name than
    the address's host. ``timeout`` is each unary call's deadline in seconds (a sign-in or a
    password change spends an Argon2id hash on the server). ``options`` are further
    ``grpc.secure_channel`` options.

    The channel connects on the first call; a server that cannot be reached, or a TLS
    handshake that fails, is then a GatehouseError with code UNAVAILABLE.
    """
    credentials = grpc.ssl_channel_credentials(
        root_certificates=_pem(ca), private_key=_pem(key), certificate_chain=_pem(cert)
    )
    channel_options = list(options)
    if server_name:
        channel_options.append(("grpc.ssl_target_name_override", server_name))
    return Client(grpc.secure_channel(address, credentials, options=channel_options),
                  timeout=timeout)


def _pem(source: PemSource) -> bytes:
    return source if isinstance(source, bytes) else Path(source).read_bytes()
