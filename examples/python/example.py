#!/usr/bin/env python3
"""Gatehouse from Python: connect over mutual TLS, check health, sign in, list the users.

    examples/python/generate.sh                     # the stubs, once (see README.md)
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
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

# The stubs generate.sh wrote: gatehouse/v1/*_pb2.py live under generated/ next to this file.
sys.path.insert(0, str(Path(__file__).resolve().parent / "generated"))
try:
    from gatehouse.v1 import (
        admin_pb2,
        admin_pb2_grpc,
        common_pb2,
        self_service_pb2,
        self_service_pb2_grpc,
    )
except ImportError as err:
    sys.exit(f"error: cannot import the gatehouse.v1 stubs ({err}); "
             "run examples/python/generate.sh")

# Each call's deadline. Sign-in and password changes spend an Argon2id hash on the server.
TIMEOUT_SECONDS = 15


class Failure(Exception):
    """A step that failed; main prints it and exits 1."""


def call(what, method, request, token=None):
    """Calls one unary RPC; a session token goes in the `authorization` metadata."""
    metadata = [("authorization", f"Bearer {token}")] if token else None
    try:
        return method(request, timeout=TIMEOUT_SECONDS, metadata=metadata)
    except grpc.RpcError as err:
        hint = ""
        if err.code() == grpc.StatusCode.UNAVAILABLE:
            hint = (" (is the server running there, did the CA in --ca sign its certificate,"
                    " and does it accept our client certificate?)")
        raise Failure(f"{what} failed: {err.code().name}: {err.details()}{hint}") from None


def read(path):
    try:
        return Path(path).read_bytes()
    except OSError as err:
        raise Failure(
            f"cannot read {path}: {err.strerror} (start `gatehouse serve --dev` in this "
            "directory, or pass --certs)"
        ) from None


def parse_args():
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


def main():
    args = parse_args()
    username = os.environ.get("GH_USERNAME", "admin@gatehouse.example")
    password = os.environ.get("GH_PASSWORD")
    if not password:
        raise Failure("set GH_PASSWORD to the password of " + username)

    # 1. Mutual TLS: we check the server against the CA, and the server accepts only clients
    #    whose certificate that CA signed. The dev server certificate names both localhost and
    #    127.0.0.1, so either works as the address.
    credentials = grpc.ssl_channel_credentials(
        root_certificates=read(args.ca),
        private_key=read(args.key),
        certificate_chain=read(args.cert),
    )
    with grpc.secure_channel(args.address, credentials) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        me = self_service_pb2_grpc.SelfServiceStub(channel)
        admin = admin_pb2_grpc.AdminServiceStub(channel)

        # 2. Health: an empty service name asks about the server as a whole. It is SERVING
        #    once migrations ran and while the database answers.
        status = call("health check", health.Check, health_pb2.HealthCheckRequest()).status
        if status != health_pb2.HealthCheckResponse.SERVING:
            raise Failure(f"server at {args.address} is not serving: "
                          f"{health_pb2.HealthCheckResponse.ServingStatus.Name(status)}")
        print(f"{args.address}: SERVING")

        # 3. Sign in. A wrong password and an unknown user get the same UNAUTHENTICATED answer.
        signed_in = call("sign-in", me.SignIn,
                         self_service_pb2.SignInRequest(username=username, password=password))
        token = signed_in.session_token

        # A one-time, temporary or expired password opens a change-only session: it may call
        # ChangePassword (and GetMe, SignOut) but nothing else. Changing the password revokes
        # it and returns a new, full session.
        if signed_in.session_kind == common_pb2.SESSION_KIND_PASSWORD_CHANGE_ONLY:
            reason = common_pb2.PasswordChangeReason.Name(signed_in.change_reason)
            new_password = os.environ.get("GH_NEW_PASSWORD")
            if not new_password:
                raise Failure(f"{username} must change their password first ({reason}): "
                              "set GH_NEW_PASSWORD")
            changed = call("password change", me.ChangePassword,
                           self_service_pb2.ChangePasswordRequest(
                               current_password=password, new_password=new_password),
                           token=token)
            token = changed.session_token
            print(f"signed in as {username}; changed the password ({reason}); "
                  "from now on GH_PASSWORD is the new one")
        else:
            print(f"signed in as {username}")

        # 4. List users, a page at a time (page tokens are opaque; an empty one ends the list).
        users, page_token = [], ""
        while True:
            page = call("listing users", admin.ListUsers,
                        admin_pb2.ListUsersRequest(page_size=100, page_token=page_token),
                        token=token)
            users.extend(page.users)
            page_token = page.next_page_token
            if not page_token:
                break
        print(f"users ({len(users)}):")
        for user in users:
            roles = ", ".join(common_pb2.Role.Name(r) for r in user.roles) or "no role"
            state = common_pb2.UserState.Name(user.state)
            print(f"  {user.username:<32} {user.display_name:<24} {state:<26} {roles}")

        # 5. Sign out: the session would otherwise stay valid until it expires.
        call("sign-out", me.SignOut, self_service_pb2.SignOutRequest(), token=token)


if __name__ == "__main__":
    try:
        main()
    except Failure as failure:
        sys.exit(f"error: {failure}")
