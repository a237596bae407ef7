import { Database, HTTPConflict, HTTPNotFound, Injectable, sql } from '../../src';

/** A user of the tracker; never their password hash, which only {@link UsersService.credentials} reads. */
export interface User {
  id: number;
  email: string;
  display_name: string;
  created_at: Date;
}

const SELECT = sql`SELECT id, email, display_name, created_at FROM users`;

/** The users table. Emails are compared without regard to case, as the unique index does. */
@Injectable()
export class UsersService {
  constructor(private readonly db: Database) {}

  async get(id: number): Promise<User> {
    const user = await this.find(id);
    if (user === null) throw new HTTPNotFound(`There is no user ${id}.`);
    return user;
  }

  find(id: number): Promise<User | null> {
    return this.db.maybeOne<User>(sql`${SELECT} WHERE id = ${id}`);
  }

  list(): Promise<User[]> {
    return this.db.query<User>(sql`${SELECT} ORDER BY id`);
  }

  /** The user of `email` with their password hash (null: they cannot log in), or null. */
  credentials(email: string): Promise<(User & { password_hash: string | null }) | null> {
    return this.db.maybeOne(sql`
      SELECT id, email, display_name, created_at, password_hash FROM users WHERE lower(email) = lower(${email})`);
  }

  /** A new user; an email that is taken, in any case, is a 409. */
  async create(input: {
    email: string;
    display_name: string;
    password_hash: string;
  }): Promise<User> {
    try {
      return await this.db.one<User>(sql`
        INSERT INTO users (email, display_name, password_hash)
        VALUES (${input.email}, ${input.display_name}, ${input.password_hash})
        RETURNING id, email, display_name, created_at`);
    } catch (e) {
      if ((e as { code?: string }).code === '23505')
        throw new HTTPConflict('An account with this email already exists.');
      throw e;
    }
  }

  async setPasswordHash(id: number, hash: string): Promise<void> {
    await this.db.query(sql`UPDATE users SET password_hash = ${hash} WHERE id = ${id}`);
  }
}
