/**
 * Version and commit of this build. build.ts defines EVE_BUILD_VERSION and
 * EVE_BUILD_COMMIT; from source they fall back to package.json and "dev".
 */
import pkg from "../package.json" with { type: "json" };
import { platform, runtimeName } from "../core/runtime/index.ts";

declare const EVE_BUILD_VERSION: string | undefined;
declare const EVE_BUILD_COMMIT: string | undefined;

export const version: string = typeof EVE_BUILD_VERSION === "string" ? EVE_BUILD_VERSION : pkg.version;
export const commit: string = typeof EVE_BUILD_COMMIT === "string" ? EVE_BUILD_COMMIT : "dev";

export function versionLine(): string {
  return `eve ${version} (commit ${commit}, ${runtimeName} ${platform()})`;
}
