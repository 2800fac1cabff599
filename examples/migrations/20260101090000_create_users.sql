-- Users of the example app. gen_random_uuid() is built into PostgreSQL 13+.
create table users (
  id         uuid primary key default gen_random_uuid(),
  email      text not null unique,
  name       text,
  created_at timestamptz not null default now()
);
