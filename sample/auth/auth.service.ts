import { Injectable } from '../../src';
import { UsersService, type User } from '../users/users.service';
import { hashPassword, needsRehash, verifyPassword } from './passwords';
import type { RegisterInput } from './auth.schemas';

/** Checks passwords and opens accounts; the session side is the controller's. */
@Injectable()
export class AuthService {
  constructor(private readonly users: UsersService) {}

  /**
   * The user of `email` if `password` is theirs, else null. An unknown email, or an account
   * without a password, costs one scrypt as a wrong password does: the time does not tell
   * which emails have accounts.
   */
  async authenticate(email: string, password: string): Promise<User | null> {
    const found = await this.users.credentials(email);
    const ok = await verifyPassword(password, found?.password_hash);
    if (!ok || found === null || found.password_hash === null) return null;
    if (needsRehash(found.password_hash))
      await this.users.setPasswordHash(found.id, await hashPassword(password));
    const { password_hash: _, ...user } = found;
    return user;
  }

  /** A new account; a taken email is a 409 (HTTPConflict). */
  async register(input: RegisterInput): Promise<User> {
    return this.users.create({
      email: input.email,
      display_name: input.display_name,
      password_hash: await hashPassword(input.password),
    });
  }
}
