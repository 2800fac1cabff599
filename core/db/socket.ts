/**
 * The TCP socket postgres.js connects through. It watches the first bytes of
 * each connection so that an endpoint that is not Postgres (an HTTP server, a
 * middlebox answering the SSL request, a port that accepts and closes) fails
 * the connection attempt with an error naming what answered.
 *
 * Why: postgres.js reconnects at once, without limit, whenever a socket closes
 * before the startup finished without an error event (connection.js `closed`:
 * `if (initial) return reconnect()`), and it waits forever for a message whose
 * "length" came from HTTP text. Against such endpoints eve made hundreds of
 * connections a second. Every startup close here becomes an error, so each
 * query costs at most one TCP connection (two after a TLS handshake, where the
 * plaintext is no longer visible: the second attempt fails with the reason).
 */
import net from "node:net";
import { Duplex } from "node:stream";

/** Error codes raised here; mapDbError turns them into exit 3 with the message. */
export const NOT_POSTGRES = "EVE_NOT_POSTGRES";
export const SSL_UNSUPPORTED = "EVE_SSL_UNSUPPORTED";
export const STARTUP_TIMEOUT = "EVE_STARTUP_TIMEOUT";

export class EndpointError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const SSL_REQUEST = 80877103;
const CANCEL_REQUEST = 80877102;
const GSS_REQUEST = 80877104;

/** What postgres.js hands the socket factory (its parsed options). */
interface PgOptions {
  host: string[];
  port: number[];
  path?: string | false;
  ssl?: unknown;
}

export interface GuardState {
  /** A startup that ended silently after TLS took over: the next attempt fails with this. */
  pending: EndpointError | null;
  /** TCP connections opened (for diagnostics and tests of the guard). */
  opened: number;
  /** When the server last closed a TLS connection of this pool right after its handshake (performance.now()). */
  tlsClosedAt?: number;
}

/**
 * A postgres.js `socket` option. `timeoutSec` bounds the startup (TCP connect
 * to the first ReadyForQuery) on plaintext connections.
 */
export function guardedSocketFactory(timeoutSec: number, state: GuardState = { pending: null, opened: 0 }) {
  let next = 0;
  return (options: PgOptions): Duplex => {
    if (state.pending) {
      const err = state.pending;
      state.pending = null;
      return failedSocket(err);
    }
    const i = next++ % Math.max(1, options.host.length);
    const host = options.host[i] ?? "localhost";
    const port = options.port[i] ?? options.port[0] ?? 5432;
    const socket = options.path ? net.connect(options.path) : net.connect(port, host);
    state.opened++;
    watch(socket, sslMode(options.ssl), timeoutSec, state, options.path ? String(options.path) : `${host}:${port}`);
    return socket;
  };
}

function sslMode(ssl: unknown): string | null {
  if (!ssl) return null;
  return typeof ssl === "string" ? ssl : "verify-full";
}

/** A stream that fails with `err` as soon as postgres.js listens to it. */
function failedSocket(err: Error): Duplex {
  const d = new Duplex({ read() {}, write(_c, _e, cb) { cb(); } });
  setImmediate(() => d.destroy(err));
  return d;
}

type Phase = "first-write" | "ssl-reply" | "startup-write" | "startup-reply" | "tls" | "cancel" | "ready";

function watch(socket: net.Socket, ssl: string | null, timeoutSec: number, state: GuardState, endpoint: string): void {
  let phase: Phase = "first-write";
  let received = Buffer.alloc(0);
  let connected = false;
  let tlsSince = 0;
  const fail = (err: EndpointError) => {
    phase = "ready";
    clearTimeout(timer);
    socket.destroy(err);
  };
  const timer = setTimeout(() => {
    if (phase === "ready" || phase === "cancel" || phase === "tls") return;
    fail(new EndpointError(STARTUP_TIMEOUT,
      connected
        ? `timed out after ${timeoutSec}s: the server accepted the connection but ${received.length ? "did not finish the Postgres startup" : "sent nothing"}`
        : `timed out after ${timeoutSec}s connecting`));
  }, Math.max(1, timeoutSec * 1000));
  timer.unref?.();
  socket.once("connect", () => void (connected = true));

  const write = socket.write.bind(socket) as (...a: unknown[]) => boolean;
  (socket as { write: unknown }).write = (chunk: unknown, ...rest: unknown[]) => {
    if ((phase === "first-write" || phase === "startup-write") && (chunk instanceof Uint8Array) && chunk.length >= 8) {
      const code = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length).readInt32BE(4);
      if (code === CANCEL_REQUEST) {
        phase = "cancel";
        clearTimeout(timer);
      } else if (code === SSL_REQUEST || code === GSS_REQUEST) phase = "ssl-reply";
      else phase = "startup-reply";
    }
    return write(chunk, ...rest);
  };

  const emit = socket.emit.bind(socket) as (event: string | symbol, ...a: unknown[]) => boolean;
  (socket as { emit: unknown }).emit = (event: string | symbol, ...args: unknown[]): boolean => {
    if (event === "error") {
      const code = (args[0] as { code?: string } | undefined)?.code;
      // A reset (RST) instead of a clean close: the same "closed without answering".
      if ((code === "ECONNRESET" || code === "EPIPE") && (phase === "ssl-reply" || phase === "startup-reply" || phase === "startup-write")) {
        args[0] = closedDuringStartup(phase, received);
      }
      phase = "ready";
      clearTimeout(timer);
    } else if (event === "data" && (phase === "ssl-reply" || phase === "startup-reply")) {
      const chunk = args[0] as Buffer;
      received = received.length ? Buffer.concat([received, chunk]) : Buffer.from(chunk);
      const err = phase === "ssl-reply" ? checkSslReply(received, ssl) : checkStartup(received);
      if (err) {
        fail(err);
        return true;
      }
      if (phase === "ssl-reply") {
        // 'S': TLS takes over the raw socket; 'N' (sslmode=prefer): plaintext startup follows.
        phase = received[0] === 0x53 ? "tls" : "startup-write";
        if (phase === "tls") {
          clearTimeout(timer);
          tlsSince = performance.now();
        }
        received = Buffer.alloc(0);
      } else if (startupDone(received)) {
        phase = "ready";
        clearTimeout(timer);
      }
    } else if (event === "close") {
      clearTimeout(timer);
      if (args[0] === true) {
        /* an error event came first and carries the reason */
      } else if (phase === "ssl-reply" || phase === "startup-reply" || phase === "startup-write") {
        const err = closedDuringStartup(phase, received);
        phase = "ready";
        if (socket.listenerCount("error") > 0) emit("error", err);
      } else if (phase === "tls") {
        // A TLS connection the server ends within moments of the handshake:
        // postgres.js reports the TLS socket's reset as a plain "connection
        // closed"; remember it so the error can name what happened.
        if (performance.now() - tlsSince < TLS_EARLY_CLOSE_MS) state.tlsClosedAt = performance.now();
        // Under TLS the startup is invisible here; if it never finished, postgres.js
        // will reconnect at once: make that attempt fail with this reason.
        state.pending = new EndpointError(NOT_POSTGRES, "the server closed the connection during the Postgres startup after the SSL handshake");
        // Consumed by the immediate reconnect; cleared later if none comes.
        setTimeout(() => (state.pending = null), 1000).unref?.();
      }
    }
    return emit(event, ...args);
  };
}

const TLS_EARLY_CLOSE_MS = 2000;

/**
 * The reason to give for a "connection closed" error of the pool whose guard
 * is `state`, when the server just closed one of its TLS connections before
 * the Postgres startup could finish; null otherwise. Per pool: a long-running
 * server's pools never read each other's history.
 */
export function earlyTlsCloseReason(state: GuardState | undefined): string | null {
  if (state?.tlsClosedAt === undefined || performance.now() - state.tlsClosedAt > 10_000) return null;
  return "the server closed the connection during the Postgres startup after the SSL handshake: not a Postgres server?";
}

function closedDuringStartup(phase: Phase, received: Buffer): EndpointError {
  const what = phase === "ssl-reply" ? "the SSL request" : "the startup message";
  return new EndpointError(NOT_POSTGRES,
    received.length
      ? `the server closed the connection in the middle of the Postgres startup (${describeBytes(received)}): not a Postgres server?`
      : `the server closed the connection without answering ${what}: not a Postgres server?`);
}

/** The reply to SSLRequest is exactly one byte: 'S' or 'N'. */
function checkSslReply(b: Buffer, ssl: string | null): EndpointError | null {
  const c = b[0]!;
  if (c === 0x53 || (c === 0x4e && (ssl === "prefer" || ssl === "allow"))) {
    if (b.length > 1) return new EndpointError(NOT_POSTGRES, `received an invalid response to SSL negotiation (${describeBytes(b)}): not a Postgres server?`);
    return null;
  }
  if (c === 0x4e) return new EndpointError(SSL_UNSUPPORTED, `the server does not support SSL, but sslmode=${ssl} requires it`);
  if (c === 0x45) return new EndpointError(SSL_UNSUPPORTED, "the server rejected the SSL request (a very old or non-Postgres server?)");
  return new EndpointError(NOT_POSTGRES, `received an invalid response to SSL negotiation (${describeBytes(b)}): not a Postgres server?`);
}

/** Startup replies: Authentication (R), ErrorResponse (E), NegotiateProtocolVersion (v), NoticeResponse (N). */
function checkStartup(b: Buffer): EndpointError | null {
  const c = b[0]!;
  const known = c === 0x52 || c === 0x45 || c === 0x76 || c === 0x4e;
  const length = b.length >= 5 ? b.readUInt32BE(1) : null;
  if (!known || (length !== null && (length < 4 || length > 65536))) {
    return new EndpointError(NOT_POSTGRES, `${describeAnswer(b)}: not a Postgres server?`);
  }
  return null;
}

/** True once the plaintext stream holds a ReadyForQuery ('Z') message. */
function startupDone(b: Buffer): boolean {
  let at = 0;
  while (at + 5 <= b.length) {
    if (b[at] === 0x5a) return true;
    at += 1 + b.readUInt32BE(at + 1);
  }
  return false;
}

function describeAnswer(b: Buffer): string {
  const text = b.subarray(0, 200).toString("latin1");
  const http = /^HTTP\/\d(?:\.\d)? \d{3}[^\r\n]*/.exec(text);
  if (http) return `the server answered with HTTP (${printable(http[0])})`;
  if (/^SSH-/.test(text)) return "the server answered with SSH";
  if (b[0] === 0x15 || b[0] === 0x16) return "the server answered with TLS (a TLS-only port? try sslmode=require)";
  return `the server answered with something that is not the Postgres protocol (${describeBytes(b)})`;
}

function describeBytes(b: Buffer): string {
  const head = b.subarray(0, 16);
  const text = head.toString("latin1");
  return /^[\x20-\x7e\r\n\t]+$/.test(text) ? `"${printable(text)}${b.length > 16 ? "…" : ""}"` : `bytes ${head.toString("hex").replace(/(..)(?!$)/g, "$1 ")}${b.length > 16 ? " …" : ""}`;
}

function printable(s: string): string {
  return s.replace(/[^\x20-\x7e]/g, " ").trim().slice(0, 60);
}
