// Node client for Gatehouse, the gRPC identity backend.
//
//   import { connect } from "gatehouse-client";
//
//   const client = connect({ address: "127.0.0.1:50051", ca: "certs/ca.pem",
//                            cert: "certs/client.pem", key: "certs/client.key" });
//   const admin = await client.session("admin@gatehouse.example", password, { newPassword });
//   const reset = await admin.resetPassword("bob@contoso.example");
//   console.log(reset.temporaryPassword); // shown once
//
// The generated messages, enums and service definitions are re-exported as `admin`,
// `common` and `selfService` (gatehouse/v1/*.proto), built from the repository's proto/.

export {
  BulkResetStream,
  type BulkResetOptions,
  type CallSettings,
  Client,
  type Connection,
  type Method,
  PasswordChangeRequired,
  type UserLike,
  userRef,
} from "./client";
export { connect, type ConnectOptions, type PemSource } from "./connect";
export { type FieldViolation, GatehouseError } from "./errors";
export {
  type BulkEvent,
  type BulkReset,
  BulkResult,
  PasswordChanged,
  PasswordReset,
  SignedIn,
} from "./results";
export * as admin from "./gen/gatehouse/v1/admin";
export * as common from "./gen/gatehouse/v1/common";
export * as selfService from "./gen/gatehouse/v1/self_service";
export { status } from "@grpc/grpc-js";
