// Typed results of the common flows.
//
// Session tokens and generated passwords are private fields behind getters, so that
// console.log, util.inspect and JSON.stringify of a result leave them out; read the getter to
// use one.

import {
  type BulkOutcome,
  bulkOutcomeToJSON,
  type BulkResetResult,
  type BulkResetStarted,
  type BulkResetSummary,
  type ResetPasswordResponse,
} from "./gen/gatehouse/v1/admin";
import {
  type PasswordChangeReason,
  passwordChangeReasonToJSON,
  type RegistrationStatus,
  SessionKind,
} from "./gen/gatehouse/v1/common";
import type { ChangePasswordResponse, SignInResponse } from "./gen/gatehouse/v1/self_service";

/** A new session, from `Client.signIn`. */
export class SignedIn {
  readonly #token: string;
  /**
   * SESSION_KIND_FULL; SESSION_KIND_PASSWORD_CHANGE_ONLY when the password must change;
   * SESSION_KIND_REGISTRATION_ONLY when the tenant requires security info not yet registered.
   */
  readonly kind: SessionKind;
  /** Why the session is change-only; PASSWORD_CHANGE_REASON_UNSPECIFIED for a full one. */
  readonly changeReason: PasswordChangeReason;
  /** When the session ends. */
  readonly expireTime: Date | undefined;
  /** The signed-in user's id. */
  readonly userId: string;
  /** Where the person stands with the security info the tenant requires (when it does). */
  readonly registration: RegistrationStatus | undefined;

  constructor(response: SignInResponse) {
    this.#token = response.sessionToken;
    this.kind = response.sessionKind;
    this.changeReason = response.changeReason;
    this.expireTime = response.expireTime;
    this.userId = response.userId;
    this.registration = response.registration;
  }

  /** The bearer token: pass it to `Client.withSession`. */
  get token(): string {
    return this.#token;
  }

  /** True when the session only allows ChangePassword, GetMe and SignOut. */
  get mustChangePassword(): boolean {
    return this.kind === SessionKind.SESSION_KIND_PASSWORD_CHANGE_ONLY;
  }

  /** True when the session only allows registering security info (or SnoozeRegistration). */
  get mustRegister(): boolean {
    return this.kind === SessionKind.SESSION_KIND_REGISTRATION_ONLY;
  }

  /** The change reason's name, e.g. `PASSWORD_CHANGE_REASON_TEMPORARY_PASSWORD`. */
  get changeReasonName(): string {
    return passwordChangeReasonToJSON(this.changeReason);
  }
}

/** A new session, from `Client.changePassword`; every earlier one is revoked. */
export class PasswordChanged {
  readonly #token: string;
  /** When the session ends. */
  readonly expireTime: Date | undefined;
  /** Full, or registration-only as at sign-in. */
  readonly kind: SessionKind;
  /** As in `SignedIn.registration`. */
  readonly registration: RegistrationStatus | undefined;

  constructor(response: ChangePasswordResponse) {
    this.#token = response.sessionToken;
    this.expireTime = response.expireTime;
    this.kind = response.sessionKind;
    this.registration = response.registration;
  }

  /** The bearer token of the new session. */
  get token(): string {
    return this.#token;
  }
}

/** The result of `Client.resetPassword`. */
export class PasswordReset {
  readonly #temporaryPassword: string | undefined;
  /** Whether the user must change it at next sign-in. */
  readonly mustChange: boolean;
  /** When a temporary password (or an invitation's code) stops working. */
  readonly expireTime: Date | undefined;
  /** How many of the user's sessions were revoked. */
  readonly revokedSessions: number;
  /** Whether an invitation was queued instead of showing a password. */
  readonly invitationSent: boolean;

  constructor(response: ResetPasswordResponse) {
    this.#temporaryPassword = response.generatedPassword || undefined;
    this.mustChange = response.passwordChangeRequired;
    this.expireTime = response.expireTime;
    this.revokedSessions = response.revokedSessions;
    this.invitationSent = response.invitationSent;
  }

  /** The generated password, shown only here; undefined for an invitation or a chosen one. */
  get temporaryPassword(): string | undefined {
    return this.#temporaryPassword;
  }
}

/** One user's result in a bulk reset. */
export class BulkResult {
  readonly #temporaryPassword: string | undefined;
  /** The user's position in the request (or in the job, for all users). */
  readonly index: number;
  /** The user as the request named them: `username:…` or `id:…`. */
  readonly userRef: string;
  /** The user's id, when found. */
  readonly userId: string;
  /** What happened, e.g. BULK_OUTCOME_RESET or BULK_OUTCOME_NOT_FOUND. */
  readonly outcome: BulkOutcome;
  /** When the temporary password stops working. */
  readonly expireTime: Date | undefined;
  /** Why, for refusals, failures and earlier settlements. */
  readonly reason: string;
  /** Whether an invitation was queued instead. */
  readonly invitationSent: boolean;
  /** The same password an earlier, unacknowledged call with the same key handed out. */
  readonly redelivered: boolean;

  constructor(result: BulkResetResult) {
    this.#temporaryPassword = result.generatedPassword || undefined;
    this.index = result.index;
    this.userRef = result.userRef;
    this.userId = result.userId;
    this.outcome = result.outcome;
    this.expireTime = result.expireTime;
    this.reason = result.reason;
    this.invitationSent = result.invitationSent;
    this.redelivered = result.redelivered;
  }

  /** For BULK_OUTCOME_RESET: the new temporary password, shown once. */
  get temporaryPassword(): string | undefined {
    return this.#temporaryPassword;
  }

  /** The outcome's name, e.g. `BULK_OUTCOME_RESET`. */
  get outcomeName(): string {
    return bulkOutcomeToJSON(this.outcome);
  }
}

/** One message of a bulk reset: the job that started, one user's result, or the summary. */
export type BulkEvent =
  | { readonly type: "started"; readonly started: BulkResetStarted }
  | { readonly type: "result"; readonly result: BulkResult }
  | { readonly type: "summary"; readonly summary: BulkResetSummary };

/** A bulk reset read to the end of its stream, from `BulkResetStream.readAll`. */
export interface BulkReset {
  /** The stored job (GetBulkJob, AcknowledgeBulkResults); empty for a dry run. */
  readonly jobId: string;
  /** One result per user, in the order they completed (`index` is the request order). */
  readonly results: readonly BulkResult[];
  /** The totals. */
  readonly summary: BulkResetSummary;
}
