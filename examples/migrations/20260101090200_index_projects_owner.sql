-- eve:no-transaction
-- Built without locking writes; cannot run inside a transaction block.
create index concurrently if not exists projects_owner_id_idx on projects (owner_id);
