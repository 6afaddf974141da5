// The common flows against a real server (see server.ts).

import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, test } from "node:test";
import { inspect } from "node:util";

import {
  admin as pb,
  BulkResult,
  type Client,
  common,
  GatehouseError,
  PasswordChangeRequired,
  status,
  userRef,
} from "../src";
import {
  ADMIN,
  type Bootstrap,
  bootstrap,
  connectToServer,
  unique,
  waitUntilServing,
} from "./server";

let client: Client;
let boot: Bootstrap;
let admin: Client;

before(async () => {
  client = connectToServer();
  await waitUntilServing(client);
  boot = await bootstrap(client);
  admin = boot.admin;
});

after(() => client.close());

/** Resolves to the GatehouseError the promise rejects with; fails if it resolves. */
async function refusal(promise: Promise<unknown>): Promise<GatehouseError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof GatehouseError, `not a GatehouseError: ${error}`);
    return error;
  }
  assert.fail("the call succeeded");
}

async function userWithTemporaryPassword(name: string): Promise<[string, string]> {
  const username = unique(name);
  await admin.createUser(username, name);
  const reset = await admin.resetPassword(username);
  assert.ok(reset.temporaryPassword);
  return [username, reset.temporaryPassword];
}

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const all: T[] = [];
  for await (const item of items) all.push(item);
  return all;
}

test("health is SERVING", async () => {
  assert.equal(await client.health(), "SERVING");
  assert.equal(await client.health("gatehouse.v1.SelfService"), "SERVING");
});

test("the bootstrap admin changes the one-time password first", async () => {
  const first = boot.firstSignIn;
  assert.ok(first.mustChangePassword);
  assert.equal(first.kind, common.SessionKind.SESSION_KIND_PASSWORD_CHANGE_ONLY);
  assert.equal(first.changeReasonName, "PASSWORD_CHANGE_REASON_TEMPORARY_PASSWORD");
  const me = await admin.me();
  assert.equal(me.user?.username, ADMIN);
  assert.equal(me.sessionKind, common.SessionKind.SESSION_KIND_FULL);
  assert.ok(me.user?.roles.includes(common.Role.ROLE_GLOBAL_ADMIN));
});

test("a reset user signs in change-only and completes the forced change", async () => {
  const username = unique("bob");
  const created = await admin.createUser(username, "Bob");
  assert.equal(created.username, username);

  const reset = await admin.resetPassword(username);
  assert.ok(reset.temporaryPassword && reset.mustChange && reset.expireTime);
  assert.ok(!inspect(reset).includes(reset.temporaryPassword));
  assert.ok(!JSON.stringify(reset).includes(reset.temporaryPassword));

  const signedIn = await client.signIn(username, reset.temporaryPassword);
  assert.ok(signedIn.mustChangePassword);
  assert.equal(signedIn.changeReasonName, "PASSWORD_CHANGE_REASON_TEMPORARY_PASSWORD");
  assert.equal(signedIn.userId, created.id);
  assert.ok(!inspect(signedIn).includes(signedIn.token));
  const changeOnly = client.withSession(signedIn.token);
  const denied = await refusal(collect(changeOnly.listUsers()));
  assert.equal(denied.code, status.PERMISSION_DENIED);

  const chosen = "my very own long passphrase";
  const changed = await changeOnly.changePassword(reset.temporaryPassword, chosen);
  const me = await client.withSession(changed.token).me();
  assert.equal(me.sessionKind, common.SessionKind.SESSION_KIND_FULL);
  assert.ok(!(await client.signIn(username, chosen)).mustChangePassword);
  const old = await refusal(client.signIn(username, reset.temporaryPassword));
  assert.equal(old.code, status.UNAUTHENTICATED);
});

test("session changes a temporary password when given the new one", async () => {
  const [username, temporary] = await userWithTemporaryPassword("carol");
  await assert.rejects(client.session(username, temporary), (error) => {
    assert.ok(error instanceof PasswordChangeRequired);
    assert.equal(error.reason, "PASSWORD_CHANGE_REASON_TEMPORARY_PASSWORD");
    return true;
  });

  const session = await client.session(username, temporary, {
    newPassword: "a quiet harbour at dawn in june",
  });
  assert.equal((await session.me()).sessionKind, common.SessionKind.SESSION_KIND_FULL);
  await session.signOut();
  assert.equal((await refusal(session.me())).code, status.UNAUTHENTICATED);
});

test("a too-short new password is refused with field violations", async () => {
  const [username, temporary] = await userWithTemporaryPassword("dave");
  const changeOnly = client.withSession((await client.signIn(username, temporary)).token);
  const error = await refusal(changeOnly.changePassword(temporary, "short"));
  assert.equal(error.code, status.INVALID_ARGUMENT);
  assert.equal(error.codeName, "INVALID_ARGUMENT");
  const tooShort = error.fieldViolations.filter(
    (v) => v.field === "new_password" && v.description.includes("too short"),
  );
  assert.equal(tooShort.length, 1, inspect(error.fieldViolations));
  assert.match(error.message, /too short: at least 15 characters/);
});

test("a policy failure on a chosen reset password names the field", async () => {
  const username = unique("erin");
  await admin.createUser(username, "Erin");
  const error = await refusal(admin.resetPassword(username, { password: "tiny" }));
  assert.equal(error.code, status.INVALID_ARGUMENT);
  assert.deepEqual(new Set(error.fieldViolations.map((v) => v.field)), new Set(["password"]));
});

test("a wrong password is UNAUTHENTICATED", async () => {
  const error = await refusal(client.signIn(ADMIN, "not the password at all"));
  assert.equal(error.code, status.UNAUTHENTICATED);
  assert.deepEqual(error.fieldViolations, []);
});

test("a bulk reset reads started, one result per user and the summary", async () => {
  const usernames = ["frank", "grace", "heidi"].map(unique);
  for (const username of usernames) await admin.createUser(username, "Bulk");
  const ghost = unique("ghost");

  const done = await admin
    .bulkReset([...usernames, ghost], { idempotencyKey: randomUUID() })
    .readAll();

  assert.ok(done.jobId);
  assert.deepEqual(done.results.map((r) => r.index).sort(), [0, 1, 2, 3]);
  const byRef = new Map(done.results.map((r) => [r.userRef.replace(/^username:/, ""), r]));
  for (const username of usernames) {
    const result = byRef.get(username);
    assert.equal(result?.outcomeName, "BULK_OUTCOME_RESET", inspect(result));
    assert.ok(result.temporaryPassword && result.expireTime);
    assert.ok(!inspect(result).includes(result.temporaryPassword));
  }
  assert.equal(byRef.get(ghost)?.outcome, pb.BulkOutcome.BULK_OUTCOME_NOT_FOUND);
  assert.equal(byRef.get(ghost)?.temporaryPassword, undefined);
  const { jobId, total, reset, notFound } = done.summary;
  assert.deepEqual(
    { jobId, total, reset, notFound },
    { jobId: done.jobId, total: 4, reset: 3, notFound: 1 },
  );

  const temporary = byRef.get(usernames[0])?.temporaryPassword;
  assert.ok(temporary);
  assert.ok((await client.signIn(usernames[0], temporary)).mustChangePassword);
  assert.equal(await admin.acknowledgeBulkResults(done.jobId), 3);
});

test("a bulk reset streams started first and the summary last", async () => {
  const usernames = ["ivan", "judy"].map(unique);
  for (const username of usernames) await admin.createUser(username, "Bulk");

  const events = await collect(admin.bulkReset(usernames, { idempotencyKey: randomUUID() }));

  const [started, ...rest] = events;
  const summary = rest.pop();
  assert.equal(started?.type, "started");
  assert.equal(started.started.total, 2);
  assert.deepEqual(rest.map((e) => e.type), ["result", "result"]);
  assert.ok(rest.every((e) => e.type === "result" && e.result instanceof BulkResult));
  assert.equal(summary?.type, "summary");
  assert.deepEqual([summary.summary.jobId, summary.summary.reset], [started.started.jobId, 2]);
});

test("a dry run resets nobody", async () => {
  const [username, temporary] = await userWithTemporaryPassword("mallory");
  const done = await admin.bulkReset([username], { dryRun: true }).readAll();
  assert.equal(done.jobId, "");
  assert.deepEqual(done.results.map((r) => r.outcomeName), ["BULK_OUTCOME_WOULD_RESET"]);
  assert.equal(done.results[0]?.temporaryPassword, undefined);
  assert.ok((await client.signIn(username, temporary)).mustChangePassword);
});

test("listUsers reads every page", async () => {
  const created = ["kim", "lee", "max"].map(unique);
  for (const username of created) await admin.createUser(username, "Lister");
  const listed = (await collect(admin.listUsers({ pageSize: 2 }))).map((u) => u.username);
  for (const username of [...created, ADMIN]) assert.ok(listed.includes(username), username);
  assert.deepEqual(listed, [...listed].sort());
});

test("a tenant requiring security info opens registration-only sessions", async () => {
  const [username, temporary] = await userWithTemporaryPassword("rita");
  const require = (on: boolean) =>
    admin.call(pb.AdminServiceService.updatePasswordPolicy, {
      update: common.PasswordPolicyUpdate.fromPartial({ requireRegistration: on }),
    });
  await require(true);
  const chosen = "a quiet harbour at dusk in may";
  try {
    // The password to change comes first; the session the change opens asks to register.
    const first = await client.signIn(username, temporary);
    assert.ok(first.mustChangePassword && !first.mustRegister);
    assert.equal(
      first.registration?.state,
      common.RegistrationState.REGISTRATION_STATE_NOT_REGISTERED,
    );
    const changed = await client.withSession(first.token).changePassword(temporary, chosen);
    assert.equal(changed.kind, common.SessionKind.SESSION_KIND_REGISTRATION_ONLY);
    const again = await client.signIn(username, chosen);
    assert.ok(again.mustRegister);
    assert.equal(again.registration?.snoozesLeft, 3);
    const denied = await refusal(collect(client.withSession(again.token).listUsers()));
    assert.equal(denied.code, status.PERMISSION_DENIED);
  } finally {
    await require(false);
  }
  assert.equal((await client.signIn(username, chosen)).registration, undefined);
});

test("any RPC runs with the session through call", async () => {
  const { policy } = await admin.call(pb.AdminServiceService.getPasswordPolicy, {});
  assert.equal(policy?.minLength, 15);
  const nobody = { user: userRef(unique("nobody")) };
  const missing = await refusal(admin.call(pb.AdminServiceService.getUser, nobody));
  assert.equal(missing.code, status.NOT_FOUND);
});

test("the raw stubs carry the session with metadata()", async () => {
  const request = { user: { kind: { $case: "username" as const, username: ADMIN } } };
  const response = await new Promise<common.User | undefined>((resolve, reject) => {
    admin.admin.getUser(request, admin.metadata(), (error, answer) =>
      error ? reject(error) : resolve(answer.user),
    );
  });
  assert.equal(response?.username, ADMIN);
});

test("calls without a session are refused", async () => {
  assert.ok(!client.hasSession);
  // The dev client certificate's identity holds no role.
  assert.equal((await refusal(collect(client.listUsers()))).code, status.PERMISSION_DENIED);
});

test("a server we cannot reach is UNAVAILABLE", async () => {
  const nowhere = connectToServer("127.0.0.1:1", 5_000);
  try {
    assert.equal((await refusal(nowhere.health())).code, status.UNAVAILABLE);
  } finally {
    nowhere.close();
  }
});
