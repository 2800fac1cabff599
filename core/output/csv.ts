/**
 * CSV as Postgres `COPY … (FORMAT csv, HEADER)` writes it, so rows rendered
 * here and rows streamed by the server are byte-for-byte alike: RFC 4180
 * quoting (fields holding a comma, quote, CR or LF are quoted, quotes doubled),
 * NULL as an empty unquoted field, the empty string as "", LF line ends.
 */

const needsQuote = /[",\r\n]/;

/** One CSV field. */
export function csvField(value: string | null): string {
  if (value === null) return "";
  if (value === "") return '""';
  return needsQuote.test(value) ? '"' + value.replace(/"/g, '""') + '"' : value;
}

/** One CSV record with its line end. */
export function csvRecord(values: ReadonlyArray<string | null>): string {
  let s = "";
  for (let i = 0; i < values.length; i++) s += (i ? "," : "") + csvField(values[i] ?? null);
  return s + "\n";
}
