/**
 * db.rls.init: apply the RLS scaffolding (schema app) to the target in one
 * transaction, idempotently, reporting what was created or changed. Server
 * WARNINGs raised while applying come out as `warning` events. Writing the
 * SQL to a file or a new migration (--out, --migration) needs no database and
 * stays in the command.
 */
import { z } from "zod";
import { defineOperation } from "../../../core/operation.ts";
import { applyScaffold } from "../apply.ts";
import { RlsInitApplied } from "../schema.ts";

export const RlsInitInput = z.object({
  /** Also the group tables, user_group_ids() and enable_group_rls(). */
  withGroups: z.boolean().default(false),
});
export type RlsInitInput = z.infer<typeof RlsInitInput>;

/** A server WARNING raised while applying (e.g. a privilege not granted). */
export const RlsInitEvent = z.discriminatedUnion("type", [z.object({ type: z.literal("warning"), message: z.string() })]);
export type RlsInitEvent = z.infer<typeof RlsInitEvent>;

export const rlsInitOp = defineOperation({
  name: "db.rls.init",
  summary: "create or refresh the RLS scaffolding (schema app), idempotently",
  access: "write",
  input: RlsInitInput,
  result: RlsInitApplied,
  event: RlsInitEvent,
  connection: () => ({ applicationName: "eve rls init" }),
  run(deps, input, emit) {
    deps.onNotice((n) => {
      if (n.severity === "WARNING") emit({ type: "warning", message: n.message ?? "" });
    });
    return applyScaffold(deps.db, { withGroups: input.withGroups, database: deps.label });
  },
});
