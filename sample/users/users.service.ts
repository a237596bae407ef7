import { Database, HTTPNotFound, Injectable, sql } from '../../src';

/** A user of the tracker. */
export interface User {
  id: number;
  email: string;
  display_name: string;
  created_at: Date;
}

/** The users table. */
@Injectable()
export class UsersService {
  constructor(private readonly db: Database) {}

  async get(id: number): Promise<User> {
    const user = await this.db.maybeOne<User>(sql`SELECT id, email, display_name, created_at FROM users WHERE id = ${id}`);
    if (user === null) throw new HTTPNotFound(`There is no user ${id}.`);
    return user;
  }

  list(): Promise<User[]> {
    return this.db.query<User>(sql`SELECT id, email, display_name, created_at FROM users ORDER BY id`);
  }
}
