insert into users (email, name) values ('ada@example.com', 'Ada Lovelace');
insert into projects (owner_id, name)
  select id, 'analytical-engine' from users where email = 'ada@example.com';
