import { describe, expect, test } from "bun:test";
import { csvField, csvRecord } from "../../core/output/csv.ts";
import { jsonDecoder, jsonEncoder, parsePgArray } from "../../core/output/pg-values.ts";
import { alignedHeader, alignedRows, columnWidths, expandedRows, rowsFooter } from "../../core/output/table.ts";
import { OutputClosedError, StreamWriter } from "../../core/output/writer.ts";
import { bufferWriter } from "../../core/io.ts";
import { jsonKeys, jsonSink, rowEncoder, tableSink } from "../../plugins/sql/sinks.ts";
import { SqlResult } from "../../plugins/sql/schema.ts";

describe("csv", () => {
  test("quotes like COPY CSV: delimiters, quotes, CR/LF; NULL empty, empty string quoted", () => {
    expect(csvField(null)).toBe("");
    expect(csvField("")).toBe('""');
    expect(csvField("plain")).toBe("plain");
    expect(csvField("a,b")).toBe('"a,b"');
    expect(csvField('say "hi"')).toBe('"say ""hi"""');
    expect(csvField("two\nlines")).toBe('"two\nlines"');
    expect(csvField("cr\r")).toBe('"cr\r"');
    expect(csvRecord(["1", null, "", "x,y"])).toBe('1,,"","x,y"\n');
  });
});

describe("pg values to JSON", () => {
  const enc = (oid: number, text: string) => jsonEncoder(oid)(text);
  test("numbers that fit stay numbers; bigint, numeric and money stay strings", () => {
    expect(enc(23, "-42")).toBe("-42");
    expect(enc(21, "7")).toBe("7");
    expect(enc(701, "1.5e+30")).toBe("1.5e+30");
    expect(enc(701, "NaN")).toBe('"NaN"');
    expect(enc(700, "-Infinity")).toBe('"-Infinity"');
    expect(enc(20, "9223372036854775807")).toBe('"9223372036854775807"');
    expect(enc(1700, "0.10000000000000000001")).toBe('"0.10000000000000000001"');
    expect(enc(790, "$1.00")).toBe('"$1.00"');
  });

  test("booleans, json, jsonb, text-like types", () => {
    expect(enc(16, "t")).toBe("true");
    expect(enc(16, "f")).toBe("false");
    expect(enc(3802, '{"a": [1, 2]}')).toBe('{"a": [1, 2]}');
    expect(enc(114, '{\n  "a" : 1\n}')).toBe('{"a":1}');
    expect(enc(2950, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11")).toBe('"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"');
    expect(enc(25, 'quote " and \\')).toBe('"quote \\" and \\\\"');
  });

  test("arrays of converted types become JSON arrays", () => {
    expect(parsePgArray('{1,NULL,"NULL","a \\"b\\"",{x,y}}')).toEqual(["1", null, "NULL", 'a "b"', ["x", "y"]]);
    expect(parsePgArray("{}")).toEqual([]);
    expect(parsePgArray("[0:1]={7,8}")).toEqual(["7", "8"]);
    expect(enc(1007, "{{1,2},{3,NULL}}")).toBe("[[1,2],[3,null]]");
    expect(enc(1000, "{t,f}")).toBe("[true,false]");
    expect(JSON.parse(enc(3807, '{"{\\"a\\": 1}",NULL}'))).toEqual([{ a: 1 }, null]);
    expect(enc(1009, "{a,b}")).toBe('["a","b"]');
    expect(jsonDecoder(1016)("{1}")).toEqual(["1"]);
    expect(jsonDecoder(1022)("{1.5,NaN}")).toEqual([1.5, "NaN"]);
  });

  test("arrays of every built-in type: elements follow the scalar rules", () => {
    expect(jsonDecoder(1016)("{1,NULL,9223372036854775807,-9223372036854775808}")).toEqual(["1", null, "9223372036854775807", "-9223372036854775808"]);
    expect(jsonDecoder(1231)("{1.50,NaN,0.10000000000000000001}")).toEqual(["1.50", "NaN", "0.10000000000000000001"]);
    expect(jsonDecoder(1009)('{"a\\"b","c\\\\d",NULL,"NULL","","x,y","{}"," lead"}')).toEqual(['a"b', "c\\d", null, "NULL", "", "x,y", "{}", " lead"]);
    expect(jsonDecoder(1009)("{{a,b},{c,NULL}}")).toEqual([["a", "b"], ["c", null]]);
    expect(jsonDecoder(1007)("{{{1},{2}},{{3},{4}}}")).toEqual([[[1], [2]], [[3], [4]]]);
    expect(jsonDecoder(1007)("[-1:0][1:1]={{5},{6}}")).toEqual([[5], [6]]);
    expect(jsonDecoder(1185)('{"2026-11-30 07:04:26.698144+00",infinity,NULL}')).toEqual(["2026-11-30T07:04:26.698144+00:00", "infinity", null]);
    expect(jsonDecoder(1182)('{2026-01-02,"0044-03-15 BC"}')).toEqual(["2026-01-02", "-0043-03-15"]);
    expect(jsonDecoder(2951)("{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}")).toEqual(["a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"]);
    // Not an array literal (e.g. an unknown form): the text is kept.
    expect(jsonDecoder(1009)("not an array")).toBe("not an array");
    expect(jsonDecoder(1009)("{a,b")).toBe("{a,b");
    // box[] separates elements with ";": left as text.
    expect(jsonDecoder(1020)("{(1,1),(0,0);(2,2),(1,1)}")).toBe("{(1,1),(0,0);(2,2),(1,1)}");
  });

  test("timestamps and dates as lossless ISO 8601", () => {
    expect(enc(1184, "2026-11-30 07:04:26.698144+00")).toBe('"2026-11-30T07:04:26.698144+00:00"');
    expect(enc(1184, "2026-11-30 12:34:26+05:30")).toBe('"2026-11-30T12:34:26+05:30"');
    expect(enc(1184, "1890-01-01 00:00:00+00:01:15")).toBe('"1890-01-01T00:00:00+00:01:15"');
    expect(enc(1184, "0044-03-15 10:00:00+00 BC")).toBe('"-0043-03-15T10:00:00+00:00"');
    expect(enc(1184, "0001-01-01 00:00:00+00 BC")).toBe('"0000-01-01T00:00:00+00:00"');
    expect(enc(1184, "infinity")).toBe('"infinity"');
    expect(enc(1184, "-infinity")).toBe('"-infinity"');
    expect(enc(1114, "2026-11-30 07:04:26.5")).toBe('"2026-11-30T07:04:26.5"');
    expect(enc(1114, "294276-12-31 23:59:59.999999")).toBe('"+294276-12-31T23:59:59.999999"');
    expect(enc(1082, "2024-01-02")).toBe('"2024-01-02"');
    expect(enc(1082, "4713-11-24 BC")).toBe('"-4712-11-24"');
    // Another DateStyle: kept as the server printed it.
    expect(enc(1184, "Mon Nov 30 07:04:26.698144 2026 UTC")).toBe('"Mon Nov 30 07:04:26.698144 2026 UTC"');
  });

  test("row objects: repeated column names get a suffix", () => {
    expect(jsonKeys(["id", "id", "id_2", "x"])).toEqual(["id", "id_3", "id_2", "x"]);
    const row = rowEncoder([
      { name: "id", typeOid: 23 },
      { name: "id", typeOid: 25 },
    ]);
    expect(JSON.parse(row(["1", null]))).toEqual({ id: 1, id_2: null });
  });
});

describe("tables", () => {
  const cols = [{ name: "id", right: true }, { name: "name" }];
  test("psql aligned format: centred headers, right-aligned numbers, + for continued lines", () => {
    const rows = [
      ["1", "alice"],
      ["22", "two\nlines"],
      ["3", null],
    ];
    const w = columnWidths(cols, rows);
    expect([...alignedHeader(cols, w), ...alignedRows(cols, w, rows), rowsFooter(3)]).toEqual([
      " id | name",
      "----+-------",
      "  1 | alice",
      " 22 | two  +",
      "    | lines",
      "  3 |",
      "(3 rows)",
    ]);
    expect(rowsFooter(1)).toBe("(1 row)");
  });

  test("expanded records", () => {
    expect(expandedRows(cols, [["1", "alice"]], 1)).toEqual(["-[ RECORD 1 ]", "id   | 1", "name | alice"]);
  });

  test("the table sink switches to records on a narrow terminal only", async () => {
    const render = async (tty: boolean) => {
      const out = bufferWriter();
      const sink = tableSink(out, { tty, width: 20 });
      await sink.begin({ statement: 1, line: 1, columns: [{ name: "id", typeOid: 23 }, { name: "description", typeOid: 25 }] });
      await sink.rows([["1", "a rather long description"]]);
      await sink.end({ statement: 1, line: 1, command: "SELECT", tag: "SELECT 1", rowCount: 1, columns: [] });
      await sink.finish();
      return out.text();
    };
    expect(await render(true)).toStartWith("-[ RECORD 1 ]");
    expect(await render(false)).toStartWith(" id |        description");
  });
});

describe("StreamWriter", () => {
  test("waits for drain when the destination is full, and keeps order", async () => {
    const chunks: string[] = [];
    let full = true;
    let drain: (() => void) | undefined;
    const out = {
      write(c: string | Uint8Array) {
        chunks.push(typeof c === "string" ? c : new TextDecoder().decode(c));
        return !full;
      },
      once(_e: "drain", cb: () => void) {
        drain = cb;
      },
    };
    const w = new StreamWriter(out);
    const big = "x".repeat(70_000);
    const p = w.text(big);
    expect(p).toBeInstanceOf(Promise);
    let done = false;
    void p!.then(() => (done = true));
    await Promise.resolve();
    expect(done).toBe(false);
    full = false;
    drain!();
    await p;
    expect(done).toBe(true);
    expect(w.data(new TextEncoder().encode("bytes"))).toBeUndefined();
    expect(w.text("text")).toBeUndefined();
    await w.flush();
    expect(chunks.join("")).toBe(big + "bytestext");
  });

  test("EPIPE from the destination becomes OutputClosedError", () => {
    const w = new StreamWriter({
      write() {
        throw Object.assign(new Error("broken pipe"), { code: "EPIPE" });
      },
    });
    w.text("a");
    expect(() => w.flush()).toThrow(OutputClosedError);
  });

  test("onVolume is called every volumeBytes", async () => {
    let calls = 0;
    const w = new StreamWriter(bufferWriter(), { onVolume: () => calls++, volumeBytes: 100_000 });
    for (let i = 0; i < 10; i++) await w.text("y".repeat(70_000));
    await w.flush();
    expect(calls).toBe(5);
  });
});

describe("json document", () => {
  test("streams a document that matches the SqlResult schema, with an error member after a failure", async () => {
    const out = bufferWriter();
    const sink = jsonSink(out, { database: "u@h:5432/db", readOnly: true, mode: "read-only" });
    const cols = [{ name: "n", typeOid: 20 }];
    await sink.begin({ statement: 1, line: 1, columns: cols });
    await sink.rows([["1"], ["2"]]);
    await sink.end({ statement: 1, line: 1, command: "SELECT", tag: "SELECT 2", rowCount: 2, columns: [{ name: "n", type: "bigint", typeOid: 20 }] });
    await sink.end({ statement: 2, line: 2, command: "SET", tag: "SET", rowCount: 0, columns: [] });
    await sink.finish(5);
    const doc = SqlResult.parse(JSON.parse(out.text()));
    expect(doc.results[0]!.rows).toEqual([{ n: "1" }, { n: "2" }]);
    expect(doc.results[1]).toMatchObject({ rows: [], columns: [], tag: "SET" });

    const out2 = bufferWriter();
    const failing = jsonSink(out2, { database: "d", readOnly: false, mode: "transaction" });
    expect(await failing.fail({ code: "E_X" })).toBe(false); // nothing written: the caller prints the error
    await failing.begin({ statement: 1, line: 1, columns: cols });
    await failing.rows([["1"]]);
    expect(await failing.fail({ code: "E_SQL", message: "boom" })).toBe(true);
    const doc2 = SqlResult.parse(JSON.parse(out2.text()));
    expect(doc2.error).toEqual({ code: "E_SQL", message: "boom" });
    expect(doc2.results[0]!.rows).toEqual([{ n: "1" }]);
  });
});
