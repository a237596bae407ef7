import {
  Controller,
  flash,
  Get,
  getSession,
  HTTPConflict,
  HTTPSeeOther,
  newSession,
  Post,
  RateLimit,
  render,
  Request,
  Template,
} from '../../src';
import { errorsByField, formObject } from '../forms';
import type { User } from '../users/users.service';
import { validateRegistration } from './auth.schemas';
import { AuthService } from './auth.service';
import { currentUser, USER_ID } from './current-user';
import { localPath } from './local-path';

/** Logging in and out, and opening an account. Every redirect after a POST is a 303. */
@Controller('', { name: 'auth' })
export class AuthController {
  constructor(private readonly auth: AuthService) {}

  /** `?next=` is where to go afterwards, if it is a path of this site. */
  @Get('/login', { name: 'login' })
  @Template('login.html')
  async loginForm(req: Request) {
    const next = localPath(req.query.get('next'));
    if ((await currentUser(req)) !== null) throw new HTTPSeeOther(next ?? req.app.url('index'));
    return { next, email: '', error: null };
  }

  /**
   * Brute force meets two limits, on failed logins only (a 401 or 422): wrong passwords in a row
   * for one account (the posted email), and failed logins from one address.
   */
  @Post('/login', { name: 'authenticate' })
  @RateLimit({
    name: 'account',
    points: (settings) => settings.LOGIN_FAILURES_PER_ACCOUNT as number,
    duration: 15 * 60,
    failures: true,
    resetOnSuccess: true,
    key: postedEmail,
  })
  @RateLimit({
    name: 'address',
    points: (settings) => settings.LOGIN_FAILURES_PER_ADDRESS as number,
    duration: 3600,
    failures: true,
  })
  async login(req: Request) {
    const form = formObject(await req.form());
    const next = localPath(form.next);
    const email = (form.email ?? '').trim();
    const password = form.password ?? '';
    if (email === '' || password === '') {
      return render(
        req,
        'login.html',
        { next, email, error: 'Enter your email and your password.' },
        { status: 422 },
      );
    }
    const user = await this.auth.authenticate(email, password);
    if (user === null)
      return render(
        req,
        'login.html',
        { next, email, error: 'Wrong email or password.' },
        { status: 401 },
      );
    await this.logIn(req, user);
    flash(req, `Welcome back, ${user.display_name}.`, 'success');
    throw new HTTPSeeOther(next ?? req.app.url('index'));
  }

  @Post('/logout', { name: 'logout' })
  async logout(req: Request) {
    if ((await currentUser(req)) !== null) {
      (await getSession(req)).invalidate();
      // A new session for the message: the old one is deleted from its storage, not reused.
      await newSession(req);
      flash(req, 'You are logged out.', 'info');
    }
    throw new HTTPSeeOther(req.app.url('index'));
  }

  @Get('/register', { name: 'register' })
  @Template('register.html')
  async registerForm(req: Request) {
    const next = localPath(req.query.get('next'));
    if ((await currentUser(req)) !== null) throw new HTTPSeeOther(next ?? req.app.url('index'));
    return { next, values: { display_name: '', email: '' }, errors: {} };
  }

  @Post('/register', { name: 'create_account' })
  async register(req: Request) {
    const form = formObject(await req.form());
    const next = localPath(form.next);
    const { value, errors } = validateRegistration(form);
    const again = (byField: Record<string, string>, status: number) =>
      render(
        req,
        'register.html',
        { next, values: { display_name: value.display_name, email: value.email }, errors: byField },
        { status },
      );
    if (errors.length > 0) return again(errorsByField(errors), 422);
    let user: User;
    try {
      user = await this.auth.register(value);
    } catch (e) {
      if (!(e instanceof HTTPConflict)) throw e;
      return again({ email: e.message }, 409);
    }
    await this.logIn(req, user);
    flash(req, `Welcome, ${user.display_name}: your account is ready.`, 'success');
    throw new HTTPSeeOther(next ?? req.app.url('index'));
  }

  /** A new session (a session id planted before the login is worth nothing after it), then the user. */
  private async logIn(req: Request, user: User): Promise<void> {
    const session = await newSession(req);
    session.set(USER_ID, user.id);
  }
}

/** The account a login is for: its posted email as the login looks it up (the handler reads the form again). */
async function postedEmail(req: Request): Promise<string> {
  return (formObject(await req.form()).email ?? '').trim().toLowerCase();
}
