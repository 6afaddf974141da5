// The typed error of a failed call.

import { type Metadata, type ServiceError, status as Status } from "@grpc/grpc-js";

import { BadRequest } from "./gen/google/rpc/error_details";
import { Status as RpcStatus } from "./gen/google/rpc/status";

// Where a gRPC server puts the google.rpc.Status with the error's details.
const DETAILS_KEY = "grpc-status-details-bin";
const BAD_REQUEST_TYPE = "type.googleapis.com/google.rpc.BadRequest";

/** One rule a request broke, from the google.rpc.BadRequest of an INVALID_ARGUMENT answer. */
export interface FieldViolation {
  /** The request field, e.g. `new_password` or `users[3].username`. */
  readonly field: string;
  /** Why it was refused, for people, e.g. `too short: at least 15 characters`. */
  readonly description: string;
}

/**
 * A call that failed: the gRPC code, the server's message and the fields it refused.
 *
 * `error.message` is meant for people: `INVALID_ARGUMENT: the new password does not meet the
 * password policy (new_password: too short: at least 15 characters)`.
 */
export class GatehouseError extends Error {
  /** The gRPC status code, e.g. `status.UNAUTHENTICATED` (from `@grpc/grpc-js`). */
  readonly code: Status;
  /** The server's message (or the transport's, when the call never reached the server). */
  readonly details: string;
  /** The fields the request broke; empty unless the code is INVALID_ARGUMENT. */
  readonly fieldViolations: readonly FieldViolation[];

  constructor(code: Status, details: string, fieldViolations: readonly FieldViolation[] = []) {
    super(describe(code, details, fieldViolations));
    this.name = "GatehouseError";
    this.code = code;
    this.details = details;
    this.fieldViolations = fieldViolations;
  }

  /** The code's name, e.g. `UNAUTHENTICATED`. */
  get codeName(): string {
    return Status[this.code];
  }

  /** The error a failed call reported, with its BadRequest field violations decoded. */
  static fromServiceError(error: ServiceError): GatehouseError {
    return new GatehouseError(error.code, error.details, fieldViolations(error.metadata));
  }
}

function describe(code: Status, details: string, violations: readonly FieldViolation[]): string {
  let text = details ? `${Status[code]}: ${details}` : Status[code];
  // The server may repeat the violations in its message already; say them once.
  const unsaid = violations.filter((v) => !details.includes(v.description));
  if (unsaid.length > 0) {
    text += ` (${unsaid.map((v) => `${v.field}: ${v.description}`).join("; ")})`;
  }
  return text;
}

function fieldViolations(trailers: Metadata | undefined): FieldViolation[] {
  const violations: FieldViolation[] = [];
  for (const value of trailers?.get(DETAILS_KEY) ?? []) {
    if (typeof value === "string") continue; // a -bin key's values are always Buffers
    for (const detail of RpcStatus.decode(value).details) {
      if (detail.typeUrl !== BAD_REQUEST_TYPE) continue;
      for (const v of BadRequest.decode(detail.value).fieldViolations) {
        violations.push({ field: v.field, description: v.description });
      }
    }
  }
  return violations;
}
