-- Applied by the platform (--db-schema) before the first task starts; the app never creates tables.
CREATE TABLE IF NOT EXISTS todos (id serial primary key, title text not null, done boolean not null default false, created_at timestamptz not null default now());
