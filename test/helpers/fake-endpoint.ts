/**
 * Tiny TCP servers on 127.0.0.1 that accept connections and are not Postgres,
 * for the tests of issue 7 §3 (how eve fails against them, and how often it
 * connects).
 */
import net from "node:net";

export interface FakeEndpoint {
  port: number;
  /** TCP connections accepted so far. */
  accepted: () => number;
  close: () => Promise<void>;
}

/** A server that runs `onConn` for every connection it accepts. */
export async function fakeEndpoint(onConn: (c: net.Socket) => void): Promise<FakeEndpoint> {
  let n = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((c) => {
    n++;
    sockets.add(c);
    c.on("error", () => {});
    c.on("close", () => sockets.delete(c));
    onConn(c);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    port: (server.address() as net.AddressInfo).port,
    accepted: () => n,
    close: () => new Promise<void>((r) => {
      for (const s of sockets) s.destroy();
      server.close(() => r());
    }),
  };
}
