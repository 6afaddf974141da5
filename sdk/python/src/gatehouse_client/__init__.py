"""Python client for Gatehouse, the gRPC identity backend.

    from gatehouse_client import connect

    with connect("127.0.0.1:50051", ca="certs/ca.pem", cert="certs/client.pem",
                 key="certs/client.key") as client:
        admin = client.session("admin@gatehouse.example", password, new_password=chosen)
        reset = admin.reset_password("bob@contoso.example")
        print(reset.temporary_password)  # shown once

The generated messages and stubs are the modules ``gatehouse.v1.admin_pb2``, ``common_pb2``,
``self_service_pb2`` (and their ``_pb2_grpc``), built from the repository's proto/ when this
package is installed.
"""

from .client import BulkResetStream, Client, PasswordChangeRequired, UserLike, user_ref
from .connection import PemSource, connect
from .errors import FieldViolation, GatehouseError
from .results import BulkEvent, BulkReset, BulkResult, PasswordChanged, PasswordReset, SignedIn

__all__ = [
    "BulkEvent",
    "BulkReset",
    "BulkResetStream",
    "BulkResult",
    "Client",
    "FieldViolation",
    "GatehouseError",
    "PasswordChangeRequired",
    "PasswordChanged",
    "PasswordReset",
    "PemSource",
    "SignedIn",
    "UserLike",
    "connect",
    "user_ref",
]
