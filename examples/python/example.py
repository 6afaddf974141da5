#!/usr/bin/env python3
"""Gatehouse from Python: connect over mutual TLS, check health, sign in, list the users.

    pip install ./sdk/python                        # the client package, once (see README.md)
    GH_PASSWORD='<one-time password>' GH_NEW_PASSWORD='a long passphrase of my own' \
        python examples/python/example.py

Settings come from flags, else environment variables, else the defaults of
`gatehouse serve --dev` run in the current directory:

    --address  GH_ADDRESS   127.0.0.1:50051
    --certs    GH_CERTS     gatehouse-data/certs  (ca.pem, client.pem, client.key;
                                                   --ca/--cert/--key name other files)
               GH_USERNAME  admin@gatehouse.example (the dev bootstrap admin)
               GH_PASSWORD  required
               GH_NEW_PASSWORD  needed when the password must be changed first

(The variables are not GATEHOUSE_*: the server reads that prefix as its own settings and
warns about names it does not know.)

The signed-in person needs an admin role (any of them) to list users. Exits 0 on success,
1 with a one-line message on stderr when a step fails.
"""

import argparse
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import grpc
from gatehouse.v1 import common_pb2
from gatehouse_client import GatehouseError, connect


class Failure(Exception):
    """A step that failed; main prints it and exits 1."""


@contextmanager
def step(what: str) -> Iterator[None]:
    """Turns a failed call inside into a Failure naming the step."""
    try:
        yield
    except GatehouseError as error:
        hint = ""
        if error.code == grpc.StatusCode.UNAVAILABLE:
            hint = (" (is the server running there, did the CA in --ca sign its certificate,"
                    " and does it accept our client certificate?)")
        raise Failure(f"{what} failed: {error}{hint}") from None


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--address", default=os.environ.get("GH_ADDRESS", "127.0.0.1:50051"))
    parser.add_argument("--certs", default=os.environ.get("GH_CERTS", "gatehouse-data/certs"),
                        help="directory with ca.pem, client.pem and client.key")
    parser.add_argument("--ca", help="CA of the server certificate (default: CERTS/ca.pem)")
    parser.add_argument("--cert", help="client certificate (default: CERTS/client.pem)")
    parser.add_argument("--key", help="client private key (default: CERTS/client.key)")
    args = parser.parse_args()
    args.ca = args.ca or os.path.join(args.certs, "ca.pem")
    args.cert = args.cert or os.path.join(args.certs, "client.pem")
    args.key = args.key or os.path.join(args.certs, "client.key")
    return args


def main() -> None:
    args = parse_args()
    username = os.environ.get("GH_USERNAME", "admin@gatehouse.example")
    password = os.environ.get("GH_PASSWORD")
    if not password:
        raise Failure("set GH_PASSWORD to the password of " + username)

    # 1. Mutual TLS: we check the server against the CA, and the server accepts only clients
    #    whose certificate that CA signed. The dev server certificate names both localhost and
    #    127.0.0.1, so either works as the address.
    try:
        client = connect(args.address, ca=args.ca, cert=args.cert, key=args.key)
    except OSError as err:
        raise Failure(f"cannot read {err.filename}: {err.strerror} (start `gatehouse serve "
                      "--dev` in this directory, or pass --certs)") from None
    with client:
        # 2. Health: an empty service name asks about the server as a whole. It is SERVING
        #    once migrations ran and while the database answers.
        with step("health check"):
            status = client.health()
        if status != "SERVING":
            raise Failure(f"server at {args.address} is not serving: {status}")
        print(f"{args.address}: SERVING")

        # 3. Sign in. A wrong password and an unknown user get the same UNAUTHENTICATED answer.
        with step("sign-in"):
            signed_in = client.sign_in(username, password)
        session = client.with_session(signed_in.token)

        # A one-time, temporary or expired password opens a change-only session: it may call
        # ChangePassword (and GetMe, SignOut) but nothing else. Changing the password revokes
        # it and returns a new, full session.
        if signed_in.must_change_password:
            reason = signed_in.change_reason_name
            new_password = os.environ.get("GH_NEW_PASSWORD")
            if not new_password:
                raise Failure(f"{username} must change their password first ({reason}): "
                              "set GH_NEW_PASSWORD")
            with step("password change"):
                changed = session.change_password(password, new_password)
            session = client.with_session(changed.token)
            print(f"signed in as {username}; changed the password ({reason}); "
                  "from now on GH_PASSWORD is the new one")
        else:
            print(f"signed in as {username}")

        # 4. List users: list_users reads the pages (of 100) as the loop reaches them.
        with step("listing users"):
            users = list(session.list_users())
        print(f"users ({len(users)}):")
        for user in users:
            roles = ", ".join(common_pb2.Role.Name(r) for r in user.roles) or "no role"
            state = common_pb2.UserState.Name(user.state)
            print(f"  {user.username:<32} {user.display_name:<24} {state:<26} {roles}")

        # 5. Sign out: the session would otherwise stay valid until it expires.
        with step("sign-out"):
            session.sign_out()


if __name__ == "__main__":
    try:
        main()
    except Failure as failure:
        sys.exit(f"error: {failure}")
