/**
 * db.rls: every table and view of the user schemas with its RLS state and
 * policies, and the findings (each with a severity and a fix), as an
 * RlsReport. `--check`/`--fail-on` are the command's business: they only
 * decide the exit code from the report.
 */
import { z } from "zod";
import { defineOperation } from "../../../core/operation.ts";
import { inspectRls } from "../inspect.ts";
import { RlsReport } from "../schema.ts";

export const RlsInput = z.object({});
export type RlsInput = z.infer<typeof RlsInput>;

export const rlsOp = defineOperation({
  name: "db.rls",
  summary: "list tables, views and RLS policies, with findings and fixes",
  access: "read",
  input: RlsInput,
  result: RlsReport,
  event: z.never(),
  connection: () => ({ applicationName: "eve rls" }),
  run: (deps) => inspectRls(deps.db, deps.label),
});
