CREATE TABLE projects (
  id serial PRIMARY KEY,
  name text NOT NULL CHECK (length(name) BETWEEN 1 AND 32),
  slug text NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9-]{1,32}$'),
  description text NOT NULL DEFAULT '' CHECK (length(description) <= 255),
  owner_id integer REFERENCES users (id) ON DELETE SET NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX projects_owner_id ON projects (owner_id);
