// A real Gatehouse server for the tests, named by the environment scripts/test-sdks sets.
//
//   GH_TEST_ADDRESS         host:port of a fresh `gatehouse serve --dev`
//   GH_TEST_CERTS           its certs/ directory (ca.pem, client.pem, client.key)
//   GH_TEST_ADMIN_PASSWORD  the bootstrap admin's one-time password, not yet changed
//
// The bootstrap admin's forced change is made once, by `bootstrap`, so the tests need a server
// of their own.

import { randomUUID } from "node:crypto";
import { join } from "node:path";
import { setTimeout } from "node:timers/promises";

import { type Client, connect, GatehouseError, type SignedIn, status } from "../src";

export const ADMIN = "admin@gatehouse.example";
export const ADMIN_PASSWORD = "a long passphrase of my own";

function setting(name: string): string {
  const value = process.env[name];
  if (!value) {
    throw new Error(
      `${name} is not set: run scripts/test-sdks from the repository root, which starts a ` +
        "server and sets it",
    );
  }
  return value;
}

export const certs = setting("GH_TEST_CERTS");

/** A client for the test server, without a session. */
export function connectToServer(address = setting("GH_TEST_ADDRESS"), timeoutMs?: number): Client {
  return connect({
    address,
    ca: join(certs, "ca.pem"),
    cert: join(certs, "client.pem"),
    key: join(certs, "client.key"),
    timeoutMs,
  });
}

/** Resolves once health reports SERVING (after the server's first database check passed). */
export async function waitUntilServing(client: Client, seconds = 10): Promise<void> {
  const deadline = Date.now() + seconds * 1_000;
  for (;;) {
    try {
      if ((await client.health()) === "SERVING") return;
    } catch (error) {
      if (!(error instanceof GatehouseError && error.code === status.UNAVAILABLE)) throw error;
      if (Date.now() > deadline) throw error;
    }
    if (Date.now() > deadline) throw new Error(`the server is not SERVING after ${seconds} s`);
    await setTimeout(100);
  }
}

export interface Bootstrap {
  /** The sign-in with the one-time password. */
  readonly firstSignIn: SignedIn;
  /** A full session of the bootstrap admin, after the forced change. */
  readonly admin: Client;
}

/** Signs the bootstrap admin in with the one-time password and makes the forced change. */
export async function bootstrap(client: Client): Promise<Bootstrap> {
  const oneTime = setting("GH_TEST_ADMIN_PASSWORD");
  const firstSignIn = await client.signIn(ADMIN, oneTime);
  const changeOnly = client.withSession(firstSignIn.token);
  const changed = await changeOnly.changePassword(oneTime, ADMIN_PASSWORD);
  return { firstSignIn, admin: client.withSession(changed.token) };
}

/** A username that no other test (nor an earlier run against the same server) uses. */
export function unique(name: string): string {
  return `${name}-${randomUUID().slice(0, 8)}@contoso.example`;
}
