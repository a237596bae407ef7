-- A little data so that a first look at the sample is not an empty page.
INSERT INTO users (email, display_name) VALUES
  ('igor@example.com', 'Igor Davydenko'),
  ('olena@example.com', 'Olena Kovalenko');

INSERT INTO projects (name, slug, description, owner_id) VALUES
  ('aiohttp.web', 'aiohttp-web', 'Web framework for asyncio: the one the talk is about.', 1),
  ('aiopg', 'aiopg', 'Accessing PostgreSQL from asyncio. ORM is overrated.', 1),
  ('rororo', 'rororo', 'Useful helpers for aiohttp.web applications: settings, schemas, logging.', 2);
