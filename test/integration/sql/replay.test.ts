/**
 * What `eve db sql --env` relies on: db.sql's event stream, recorded as JSON
 * and parsed back (as the control plane's NDJSON frames arrive), replayed
 * into the renderer writes exactly the bytes a local run writes, in every
 * format, for values of every kind and several result sets — and a local
 * run writes what the CLI prints.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { EveError } from "../../../core/errors.ts";
import { createOutput } from "../../../core/io.ts";
import { describeTarget, parseDbUrl } from "../../../core/db/url.ts";
import { errorFromJson, errorToJson } from "../../../core/operation.ts";
import { sqlOp } from "../../../plugins/sql/ops/sql.ts";
import { sqlRenderer, type SqlFormat } from "../../../plugins/sql/render.ts";
import type { SqlEvent } from "../../../plugins/sql/schema.ts";
import { runEve } from "../../helpers/cli.ts";
import { dropDatabases, freshDatabase, withSql } from "../../helpers/db.ts";
import { bytesWriter, runOp } from "./helpers.ts";

let url: string;

beforeAll(async () => {
  url = await freshDatabase("sqlreplay");
  await withSql(url, (sql) =>
    sql.unsafe(`
      create table things (id int primary key, name text, big bigint, tags text[], meta jsonb, at timestamptz, born date);
      insert into things values
        (1, 'plain', 9223372036854775807, '{a,b}', '{"k": [1, null, "x"]}', '2026-01-02 03:04:05.678901+00', '2000-02-29'),
        (2, E'comma, "quote"\\nnewline', null, '{}', 'null', 'infinity', '0044-03-15 BC'),
        (3, null, -1, '{"with space",NULL,"q\\"uote"}', null, null, null),
        (4, '', 0, null, '{"nested": {"deep": true}}', '-infinity', 'infinity');
    `),
  );
});

afterAll(() => dropDatabases([url]));

const SQL =
  "select * from things order by id;\n" +
  "select '{\"a\": [1, null]}'::json as j, array[[1, 2], [3, null]] as grid, null::text as nothing, 12345678901234567890::numeric as n, id as id, id * 2 as id from things where id = 1;\n" +
  "show datestyle";

const formats: Array<[SqlFormat, string[]]> = [
  ["table", []],
  ["json", ["--json"]],
  ["ndjson", ["--ndjson"]],
  ["csv", ["--csv"]],
];

/** Render a live run, recording its events as JSON text; then replay the recording into a fresh renderer. */
async function liveAndReplayed(format: SqlFormat, sql: string) {
  const live = { stdout: bytesWriter(), stderr: bytesWriter() };
  const liveOut = createOutput(live.stdout, live.stderr);
  const renderer = sqlRenderer(liveOut, format);
  const recorded: string[] = [];
  const label = describeTarget(parseDbUrl(url));
  const run = await runOp(url, { sql, csv: format === "csv" }, (e) => {
    recorded.push(JSON.stringify(e));
    return renderer.event(e);
  }, { label });
  if (run.error) await renderer.fail(run.error);
  else await renderer.finish(run.result!);

  const again = { stdout: bytesWriter(), stderr: bytesWriter() };
  const replayer = sqlRenderer(createOutput(again.stdout, again.stderr), format);
  for (const line of recorded) await replayer.event(sqlOp.event.parse(JSON.parse(line)) as SqlEvent);
  if (run.error) await replayer.fail(errorFromJson(JSON.parse(JSON.stringify(errorToJson(run.error)))));
  else await replayer.finish(sqlOp.result.parse(JSON.parse(JSON.stringify(run.result))));
  return { run, recorded, live, again };
}

/** The durationMs of an error document is measured by the renderer (the failure has no result). */
const sameUpToDuration = (s: string) => s.replace(/"durationMs": \d+/, '"durationMs": 0');

describe("a replayed event stream renders byte for byte what a local run renders", () => {
  for (const [format, flags] of formats) {
    test(`${format}: NULLs, arrays, timestamps (infinity, BC), bigint, numeric, json, repeated names, three result sets`, async () => {
      const { run, recorded, live, again } = await liveAndReplayed(format, SQL);
      expect(run.error).toBeUndefined();
      expect(recorded.length).toBeGreaterThan(5);
      if (format === "csv") expect(recorded.some((l) => l.startsWith('{"type":"csv"'))).toBe(true);
      expect(Buffer.from(again.stdout.bytes()).equals(Buffer.from(live.stdout.bytes()))).toBe(true);
      expect(again.stderr.text()).toBe(live.stderr.text());
      expect(live.stdout.text()).toContain("9223372036854775807");

      // And the CLI prints what the renderer wrote (the JSON document's durationMs aside).
      const cli = await runEve(["db", "sql", "--url", url, "--sql", SQL, ...flags]);
      expect(cli.code).toBe(0);
      expect(sameUpToDuration(cli.stdout)).toBe(sameUpToDuration(live.stdout.text()));
      expect(cli.stderr).toBe(live.stderr.text());
    });

    test(`${format}: a failure after output began renders the same (with --json, the document's "error" member)`, async () => {
      const { run, live, again } = await liveAndReplayed(format, "select id, name from things order by id;\nselect * from nope");
      expect((run.error as EveError).code).toBe("E_SQL");
      expect(live.stdout.text()).toContain("comma");
      expect(sameUpToDuration(again.stdout.text())).toBe(sameUpToDuration(live.stdout.text()));
      expect(again.stderr.text()).toBe(live.stderr.text());
      if (format === "json") expect(JSON.parse(live.stdout.text()).error).toMatchObject({ code: "E_SQL", sqlstate: "42P01", statement: 2 });
    });
  }
});
