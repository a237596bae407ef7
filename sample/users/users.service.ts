import { Database, Injectable, sql } from '../../src';

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

  get(id: number): Promise<User> {
    return this.db.one<User>(sql`SELECT id, email, display_name, created_at FROM users WHERE id = ${id}`);
  }

  list(): Promise<User[]> {
    return this.db.query<User>(sql`SELECT id, email, display_name, created_at FROM users ORDER BY id`);
  }
}
