/**
 * The Postgres client tools: locating pg_dump / pg_restore / psql (a client
 * at least as new as the server), parsing versions, and running them with
 * web streams.
 */
export { formatMajor, majorFromVersionNum, parsePgVersion, type PgVersion } from "./version.ts";
export {
  candidatePaths,
  chooseClient,
  findPgTool,
  probeVersion,
  searchedText,
  SYSTEM_DIRS,
  type PgTool,
  type PgToolCandidate,
  type PgToolName,
  type PgToolSource,
} from "./locate.ts";
export { runTool, spawnTool, type SpawnToolOptions, type ToolExit, type ToolProcess } from "./spawn.ts";
