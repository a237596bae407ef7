-- Accounts: users log in with their email and a password, and own the projects they add.
-- A NULL password_hash is an account nobody can log in to (the users seeded before this).
ALTER TABLE users ADD COLUMN password_hash text;

-- One account per email, whatever its case: Igor@Example.com is igor@example.com.
ALTER TABLE users DROP CONSTRAINT users_email_key;
CREATE UNIQUE INDEX users_email_lower ON users (lower(email));
ALTER TABLE users ADD CONSTRAINT users_email_format CHECK (length(email) <= 254 AND email LIKE '_%@_%');

-- The demo account of the login page: demo@example.com, password "demo" (scrypt, see
-- sample/auth/passwords.ts). It owns one of the seeded projects.
INSERT INTO users (email, display_name, password_hash) VALUES
  ('demo@example.com', 'Demo User', 'scrypt$32768$8$1$PD1n440gK4rhNmYOcBP6iA==$BcvZkPL9of5IiLCp1/J3su+/h6aGW/DTrNkReneP2LQ=');

UPDATE projects SET owner_id = (SELECT id FROM users WHERE email = 'demo@example.com') WHERE slug = 'aiopg';
