/**
 * Row types of platform tables used by several modules: tenants (written by
 * the provisioner). Each module's own rows live beside it (tokens.ts,
 * instances.ts, projects.ts).
 */

/** A tenant's lifecycle state. */
export type TenantStatus = "provisioning" | "ready" | "modifying" | "deleting" | "deleted" | "failed";

/** One managed database of an environment's service (camelCase of eve_platform.tenants). */
export interface Tenant {
  id: string;
  projectId: string;
  envId: string;
  serviceName: string;
  instanceId: string;
  dbName: string;
  ownerRole: string;
  /** The two login roles (rotation alternates between them). */
  loginRoles: [string, string];
  /** Index into loginRoles of the role in use. */
  activeLogin: 0 | 1;
  readonlyRole: string;
  loginPasswordEnc: string | null;
  readonlyPasswordEnc: string | null;
  class: string;
  engineVersion: string;
  extensions: string[];
  backup: unknown;
  status: TenantStatus;
  lastErrorCode: string | null;
  lastErrorMessage: string | null;
  readyAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
  deletedAt: Date | null;
}

/** Map a row of eve_platform.tenants to a Tenant. */
export function tenantFromRow(r: Record<string, unknown>): Tenant {
  return {
    id: r.id as string,
    projectId: r.project_id as string,
    envId: r.env_id as string,
    serviceName: r.service_name as string,
    instanceId: r.instance_id as string,
    dbName: r.db_name as string,
    ownerRole: r.owner_role as string,
    loginRoles: r.login_roles as [string, string],
    activeLogin: r.active_login as 0 | 1,
    readonlyRole: r.readonly_role as string,
    loginPasswordEnc: (r.login_password_enc as string | null) ?? null,
    readonlyPasswordEnc: (r.readonly_password_enc as string | null) ?? null,
    class: r.class as string,
    engineVersion: r.engine_version as string,
    extensions: (r.extensions as string[] | null) ?? [],
    backup: r.backup ?? null,
    status: r.status as TenantStatus,
    lastErrorCode: (r.last_error_code as string | null) ?? null,
    lastErrorMessage: (r.last_error_message as string | null) ?? null,
    readyAt: (r.ready_at as Date | null) ?? null,
    createdAt: r.created_at as Date,
    updatedAt: r.updated_at as Date,
    deletedAt: (r.deleted_at as Date | null) ?? null,
  };
}
