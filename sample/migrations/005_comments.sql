-- Comments on projects: they go with their project, and with their author.
-- The length is counted in characters, as the form counts them (sample/projects/comments.service.ts).
CREATE TABLE comments (
  id serial PRIMARY KEY,
  project_id integer NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
  author_id integer NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  body text NOT NULL CHECK (length(body) BETWEEN 1 AND 1000),
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX comments_project_id ON comments (project_id, id);
CREATE INDEX comments_author_id ON comments (author_id);
