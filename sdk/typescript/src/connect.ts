// Connecting over mutual TLS.

import { readFileSync } from "node:fs";

import * as grpc from "@grpc/grpc-js";

import { Client } from "./client";

/** PEM text as a Buffer, or the path of a file holding it. */
export type PemSource = Buffer | string;

/** Where the server is and the three PEMs of mutual TLS. */
export interface ConnectOptions {
  /** `host:port` of the server, e.g. `127.0.0.1:50051`. */
  readonly address: string;
  /** The CA that issued the server's certificate. */
  readonly ca: PemSource;
  /** The client certificate, issued by the server's client CA. */
  readonly cert: PemSource;
  /** The client certificate's private key. */
  readonly key: PemSource;
  /** Check the server's certificate against this name instead of the address's host. */
  readonly serverName?: string;
  /**
   * Each unary call's deadline in milliseconds (default 15,000: a sign-in or a password change
   * spends an Argon2id hash on the server).
   */
  readonly timeoutMs?: number;
  /** Further grpc-js channel options. */
  readonly channelOptions?: grpc.ChannelOptions;
}

/**
 * A client for the Gatehouse server at `address`, over mutual TLS. With
 * `gatehouse serve --dev` the PEMs are `gatehouse-data/certs/ca.pem`, `client.pem` and
 * `client.key`.
 *
 * The channel connects on the first call; a server that cannot be reached, or a TLS handshake
 * that fails, is then a GatehouseError with code UNAVAILABLE.
 */
export function connect(options: ConnectOptions): Client {
  const credentials = grpc.credentials.createSsl(
    pem(options.ca),
    pem(options.key),
    pem(options.cert),
  );
  const channelOptions: grpc.ChannelOptions = { ...options.channelOptions };
  if (options.serverName) channelOptions["grpc.ssl_target_name_override"] = options.serverName;
  const channel = new grpc.Channel(options.address, credentials, channelOptions);
  const connection = { address: options.address, credentials, channel };
  return new Client(connection, options.timeoutMs ?? 15_000);
}

function pem(source: PemSource): Buffer {
  return typeof source === "string" ? readFileSync(source) : source;
}
