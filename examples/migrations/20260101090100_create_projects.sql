create type project_status as enum ('active', 'archived');

create table projects (
  id         bigint generated always as identity primary key,
  owner_id   uuid not null references users (id) on delete cascade,
  name       text not null,
  status     project_status not null default 'active',
  -- an API key digest: pgcrypto's digest(), so eve creates the extension when missing
  key_hash   text not null default encode(digest(gen_random_uuid()::text, 'sha256'), 'hex'),
  updated_at timestamptz not null default now()
);

create function touch_updated_at() returns trigger language plpgsql as $$
begin
  new.updated_at := now();
  return new;
end
$$;

create trigger projects_touch before update on projects
  for each row execute function touch_updated_at();
