import { expect, test } from "bun:test";
import { readFrames } from "../../core/http/wire.ts";

function streamOf(chunks: string[]): ReadableStream<Uint8Array> {
  const enc = new TextEncoder();
  return new ReadableStream({
    start(c) {
      for (const ch of chunks) c.enqueue(enc.encode(ch));
      c.close();
    },
  });
}

test("frames split anywhere (mid-line, mid-character, many per chunk) come out whole and in order", async () => {
  const frames = [{ event: { type: "a", s: "é€😀" } }, { event: { n: 1 } }, { result: { ok: true, big: "x".repeat(100_000) } }];
  const text = frames.map((f) => JSON.stringify(f) + "\n").join("");
  const bytes = new TextEncoder().encode(text);
  for (const size of [1, 3, 7, 4096, bytes.length]) {
    const parts: Uint8Array[] = [];
    for (let i = 0; i < bytes.length; i += size) parts.push(bytes.slice(i, i + size));
    const s = new ReadableStream<Uint8Array>({
      start(c) {
        for (const p of parts) c.enqueue(p);
        c.close();
      },
    });
    const got = [];
    for await (const f of readFrames(s)) got.push(f);
    expect(got).toEqual(frames);
  }
});

test("a last frame without a newline and blank lines are handled", async () => {
  const got = [];
  for await (const f of readFrames(streamOf(['{"event":1}\n\n', '{"result":2}']))) got.push(f);
  expect(got).toEqual([{ event: 1 }, { result: 2 }]);
});
