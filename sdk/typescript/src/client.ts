// The client: typed calls for the common flows over the generated stubs.

import * as grpc from "@grpc/grpc-js";

import { GatehouseError } from "./errors";
import {
  AcknowledgeBulkResultsRequest,
  AdminServiceClient,
  AdminServiceService,
  BulkResetPasswordsRequest,
  type BulkResetPasswordsResponse,
  type BulkResetSummary,
  CreateUserRequest,
  GetUserRequest,
  ListUsersRequest,
  ResetDelivery,
  ResetPasswordRequest,
} from "./gen/gatehouse/v1/admin";
import { type User, UserRef, UserState } from "./gen/gatehouse/v1/common";
import {
  ChangePasswordRequest,
  GetMeRequest,
  type GetMeResponse,
  SelfServiceClient,
  SelfServiceService,
  SignInRequest,
  SignOutRequest,
} from "./gen/gatehouse/v1/self_service";
import {
  HealthCheckRequest,
  healthCheckResponse_ServingStatusToJSON,
  HealthService,
} from "./gen/grpc/health/v1/health";
import {
  type BulkEvent,
  type BulkReset,
  BulkResult,
  PasswordChanged,
  PasswordReset,
  SignedIn,
} from "./results";

/** A user: a UserRef, or a string that is a username when it holds an `@` and else an id. */
export type UserLike = string | UserRef;

/** A UserRef for a username (it always holds an `@`) or else a user id. */
export function userRef(user: UserLike): UserRef {
  if (typeof user !== "string") return user;
  if (user.includes("@")) return { kind: { $case: "username", username: user } };
  return { kind: { $case: "id", id: user } };
}

/** The parts of a generated method definition (`AdminServiceService.getUser`, …) a call needs. */
export type Method<Request, Response> = Pick<
  grpc.MethodDefinition<Request, Response>,
  "path" | "requestSerialize" | "responseDeserialize"
>;

/** Per-call settings. */
export interface CallSettings {
  /** The call's deadline in milliseconds; default: the client's (unary) or none (streams). */
  readonly timeoutMs?: number;
}

/** `Client.session` was not given the new password a change-only sign-in needs. */
export class PasswordChangeRequired extends Error {
  /** Why, e.g. `PASSWORD_CHANGE_REASON_TEMPORARY_PASSWORD`. */
  readonly reason: string;

  constructor(username: string, reason: string) {
    super(`${username} must change their password first (${reason})`);
    this.name = "PasswordChangeRequired";
    this.reason = reason;
  }
}

/** The channel a client and every client made from it with sessions share. */
export interface Connection {
  readonly address: string;
  readonly credentials: grpc.ChannelCredentials;
  readonly channel: grpc.Channel;
}

/**
 * Calls Gatehouse over one mutual-TLS channel, with or without a person's session.
 *
 * Make one with `connect`. `withSession` gives a client that sends a session token
 * (`authorization: Bearer <token>`) on the same channel.
 *
 * The convenience methods reject with `GatehouseError` when a call fails. For the RPCs they do
 * not cover, `call` and `stream` run any method of the generated service definitions with
 * this client's session, deadline and typed errors, e.g.
 * `client.call(AdminServiceService.assignRole, AssignRoleRequest.fromPartial({…}))`; the
 * generated callback-style stubs are `admin` and `selfService` (pass them `metadata()`).
 */
export class Client {
  /** The generated `gatehouse.v1.AdminService` stub, on this client's channel. */
  readonly admin: AdminServiceClient;
  /** The generated `gatehouse.v1.SelfService` stub, on this client's channel. */
  readonly selfService: SelfServiceClient;
  readonly #connection: Connection;
  readonly #transport: grpc.Client;
  readonly #timeoutMs: number;
  readonly #token: string | undefined;

  /** A client on an open connection (see `connect`); `timeoutMs` is each unary call's deadline. */
  constructor(connection: Connection, timeoutMs: number, token?: string) {
    const { address, credentials, channel } = connection;
    const shared = { channelOverride: channel };
    this.admin = new AdminServiceClient(address, credentials, shared);
    this.selfService = new SelfServiceClient(address, credentials, shared);
    this.#transport = new grpc.Client(address, credentials, shared);
    this.#connection = connection;
    this.#timeoutMs = timeoutMs;
    this.#token = token;
  }

  /** Closes the channel, which every client made from this one with sessions shares. */
  close(): void {
    this.#connection.channel.close();
  }

  // --- Sessions ----------------------------------------------------------------------------

  /** A client on the same channel whose calls carry this session token. */
  withSession(token: string): Client {
    return new Client(this.#connection, this.#timeoutMs, token);
  }

  /** A client on the same channel whose calls carry no session (a service's calls). */
  withoutSession(): Client {
    return new Client(this.#connection, this.#timeoutMs);
  }

  /** Whether this client's calls carry a session token. */
  get hasSession(): boolean {
    return this.#token !== undefined;
  }

  /** The metadata of this client's calls: the session token, when it has one. */
  metadata(): grpc.Metadata {
    const metadata = new grpc.Metadata();
    if (this.#token !== undefined) metadata.set("authorization", `Bearer ${this.#token}`);
    return metadata;
  }

  // --- Any RPC -----------------------------------------------------------------------------

  /** Runs a unary method with this client's session and deadline; rejects with GatehouseError. */
  call<Request, Response>(
    method: Method<Request, Response>,
    request: Request,
    settings: CallSettings = {},
  ): Promise<Response> {
    return this.#unary(method, request, this.metadata(), settings.timeoutMs ?? this.#timeoutMs);
  }

  /**
   * Starts a server-streaming method with this client's session; no deadline unless one is
   * given. Reading the messages throws GatehouseError where the stream fails; stopping early
   * cancels the call.
   */
  stream<Request, Response>(
    method: Method<Request, Response>,
    request: Request,
    settings: CallSettings = {},
  ): AsyncGenerator<Response> {
    const options: grpc.CallOptions = {};
    if (settings.timeoutMs !== undefined) options.deadline = Date.now() + settings.timeoutMs;
    const call = this.#transport.makeServerStreamRequest(
      method.path,
      method.requestSerialize,
      method.responseDeserialize,
      request,
      this.metadata(),
      options,
    );
    return typedErrors(call);
  }

  #unary<Request, Response>(
    method: Method<Request, Response>,
    request: Request,
    metadata: grpc.Metadata,
    timeoutMs: number,
  ): Promise<Response> {
    return new Promise((resolve, reject) => {
      this.#transport.makeUnaryRequest(
        method.path,
        method.requestSerialize,
        method.responseDeserialize,
        request,
        metadata,
        { deadline: Date.now() + timeoutMs },
        (error, response) => {
          if (error) reject(GatehouseError.fromServiceError(error));
          else resolve(response as Response);
        },
      );
    });
  }

  // --- Health ------------------------------------------------------------------------------

  /**
   * The `grpc.health.v1` status name of the server (or of one service): `SERVING` once
   * migrations ran and while the database answers, else `NOT_SERVING`.
   */
  async health(service = ""): Promise<string> {
    const response = await this.#unary(
      HealthService.check,
      HealthCheckRequest.fromPartial({ service }),
      new grpc.Metadata(),
      this.#timeoutMs,
    );
    return healthCheckResponse_ServingStatusToJSON(response.status);
  }

  // --- SelfService -------------------------------------------------------------------------

  /**
   * Checks a username and password and opens a session.
   *
   * A wrong password, an unknown user and an account that may not sign in are all the same
   * UNAUTHENTICATED error. When the password is temporary, must change or has expired, the
   * session is change-only (`mustChangePassword`): call `changePassword` with it. `tenant`
   * (an id or name) defaults to the one the username's domain names.
   */
  async signIn(
    username: string,
    password: string,
    options: { readonly tenant?: string } = {},
  ): Promise<SignedIn> {
    const request = SignInRequest.fromPartial({ username, password, ...options });
    return new SignedIn(await this.call(SelfServiceService.signIn, request));
  }

  /**
   * Replaces the password of this client's session holder (a full or change-only session).
   *
   * A new password the policy refuses is INVALID_ARGUMENT with one field violation per broken
   * rule. Every session of the person is revoked, this one too; the result holds the new full
   * session.
   */
  async changePassword(currentPassword: string, newPassword: string): Promise<PasswordChanged> {
    const request = ChangePasswordRequest.fromPartial({ currentPassword, newPassword });
    return new PasswordChanged(await this.call(SelfServiceService.changePassword, request));
  }

  /**
   * Signs in and returns a client carrying a full session.
   *
   * When the sign-in is change-only (a one-time, temporary or expired password), the password
   * is first changed to `newPassword`; without one, the change-only session is signed out and
   * the promise rejects with PasswordChangeRequired.
   */
  async session(
    username: string,
    password: string,
    options: { readonly newPassword?: string; readonly tenant?: string } = {},
  ): Promise<Client> {
    const signedIn = await this.signIn(username, password, { tenant: options.tenant });
    const session = this.withSession(signedIn.token);
    if (!signedIn.mustChangePassword) return session;
    if (options.newPassword === undefined) {
      await session.signOut();
      throw new PasswordChangeRequired(username, signedIn.changeReasonName);
    }
    const changed = await session.changePassword(password, options.newPassword);
    return this.withSession(changed.token);
  }

  /** Revokes this client's session. */
  async signOut(): Promise<void> {
    await this.call(SelfServiceService.signOut, SignOutRequest.fromPartial({}));
  }

  /** The signed-in person, the kind of their session and when it ends. */
  me(): Promise<GetMeResponse> {
    return this.call(SelfServiceService.getMe, GetMeRequest.fromPartial({}));
  }

  // --- AdminService ------------------------------------------------------------------------

  /** Creates an active user without a password; give one with `resetPassword`. */
  async createUser(
    username: string,
    displayName: string,
    options: { readonly contactEmail?: string } = {},
  ): Promise<User> {
    const request = CreateUserRequest.fromPartial({ username, displayName, ...options });
    return required((await this.call(AdminServiceService.createUser, request)).user);
  }

  /** Reads one user of the tenant by username or id. */
  async getUser(user: UserLike): Promise<User> {
    const request = GetUserRequest.fromPartial({ user: userRef(user) });
    return required((await this.call(AdminServiceService.getUser, request)).user);
  }

  /**
   * Every user of the tenant (optionally in one state), ordered by username; pages are
   * fetched as the iteration reaches them.
   */
  async *listUsers(
    options: { readonly state?: UserState; readonly pageSize?: number } = {},
  ): AsyncGenerator<User> {
    const { state = UserState.USER_STATE_UNSPECIFIED, pageSize = 100 } = options;
    let pageToken = "";
    do {
      const request = ListUsersRequest.fromPartial({ pageSize, pageToken, state });
      const page = await this.call(AdminServiceService.listUsers, request);
      yield* page.users;
      pageToken = page.nextPageToken;
    } while (pageToken);
  }

  /**
   * Gives a user a new password and revokes their sessions.
   *
   * By default the server generates a temporary password, returned once in
   * `temporaryPassword`, which the user must change at next sign-in. `password` chooses it
   * instead (checked against the policy); `requireChange: false` makes it a lasting one;
   * RESET_DELIVERY_INVITATION emails the person a code instead.
   */
  async resetPassword(
    user: UserLike,
    options: {
      readonly password?: string;
      readonly requireChange?: boolean;
      readonly delivery?: ResetDelivery;
    } = {},
  ): Promise<PasswordReset> {
    const request = ResetPasswordRequest.fromPartial({ user: userRef(user), ...options });
    return new PasswordReset(await this.call(AdminServiceService.resetPassword, request));
  }

  /**
   * Resets the passwords of many users (`users`, or `allUsers` in `state`).
   *
   * Iterate the result (`for await`) for each event as it arrives, or call `readAll()` for the
   * job, every result and the summary. Give an `idempotencyKey`: after a cut stream, the same
   * call with the same key continues where the first stopped, resets nobody twice and hands
   * out the passwords not yet acknowledged again. Once every result is stored, call
   * `acknowledgeBulkResults` with the job id.
   */
  bulkReset(users: Iterable<UserLike>, options: BulkResetOptions = {}): BulkResetStream {
    const { timeoutMs, ...fields } = options;
    const request = BulkResetPasswordsRequest.fromPartial({
      users: [...users].map(userRef),
      ...fields,
    });
    const messages = this.stream(AdminServiceService.bulkResetPasswords, request, { timeoutMs });
    return new BulkResetStream(messages);
  }

  /**
   * Says every result of a bulk job is stored: the passwords kept for re-delivery are erased.
   * Resolves to how many were.
   */
  async acknowledgeBulkResults(jobId: string): Promise<number> {
    const request = AcknowledgeBulkResultsRequest.fromPartial({ jobId });
    return (await this.call(AdminServiceService.acknowledgeBulkResults, request)).passwordsErased;
  }
}

/** The options of `Client.bulkReset`; see BulkResetPasswordsRequest in admin.proto. */
export interface BulkResetOptions extends CallSettings {
  /** Every user of the tenant instead of a list (pass no users). */
  readonly allUsers?: boolean;
  /** With allUsers: only users in this state. */
  readonly state?: UserState;
  /** Makes a retried call continue the first one. Strongly recommended. */
  readonly idempotencyKey?: string;
  /** Report what would happen; change nothing. */
  readonly dryRun?: boolean;
  /** Whether users must change the password at next sign-in (default true). */
  readonly requireChange?: boolean;
  /** How each person gets back in (default: a password shown once, here). */
  readonly delivery?: ResetDelivery;
}

/**
 * The events of a bulk reset as they arrive: the job that started (not for a dry run), one
 * result per user, then the summary. Reading throws GatehouseError where the stream fails.
 */
export class BulkResetStream implements AsyncIterable<BulkEvent> {
  readonly #messages: AsyncGenerator<BulkResetPasswordsResponse>;

  constructor(messages: AsyncGenerator<BulkResetPasswordsResponse>) {
    this.#messages = messages;
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<BulkEvent> {
    for await (const { event } of this.#messages) {
      switch (event?.$case) {
        case "started":
          yield { type: "started", started: event.started };
          break;
        case "result":
          yield { type: "result", result: new BulkResult(event.result) };
          break;
        case "summary":
          yield { type: "summary", summary: event.summary };
          break;
        // Anything else is a message of a newer server that this client does not know.
      }
    }
  }

  /** Reads the stream to its end: the job id, every user's result and the summary. */
  async readAll(): Promise<BulkReset> {
    let jobId = "";
    let summary: BulkResetSummary | undefined;
    const results: BulkResult[] = [];
    for await (const event of this) {
      if (event.type === "started") jobId = event.started.jobId;
      else if (event.type === "result") results.push(event.result);
      else summary = event.summary;
    }
    if (summary === undefined) {
      throw new GatehouseError(grpc.status.UNKNOWN, "the bulk reset ended without a summary");
    }
    return { jobId: jobId || summary.jobId, results, summary };
  }
}

async function* typedErrors<Response>(
  call: grpc.ClientReadableStream<Response>,
): AsyncGenerator<Response> {
  try {
    for await (const message of call) yield message as Response;
  } catch (error) {
    throw GatehouseError.fromServiceError(error as grpc.ServiceError);
  } finally {
    call.cancel(); // a no-op once the call ended; otherwise the reader stopped early
  }
}

// A response message field the server always sets (proto3 makes every message field optional).
function required<T>(value: T | undefined): T {
  if (value === undefined) {
    throw new GatehouseError(grpc.status.INTERNAL, "the server's answer lacks a field");
  }
  return value;
}
