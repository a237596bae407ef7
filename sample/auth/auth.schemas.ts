import { plainToInstance, Transform } from 'class-transformer';
import { IsEmail, IsString, Length, MaxLength, validateSync } from 'class-validator';
import { flattenErrors, type FieldError } from '../../src';

const NAME = 'Give your name, 1 to 64 characters.';
const EMAIL = 'Give an email address, such as ada@example.com.';
const PASSWORD = 'Choose a password of 8 to 200 characters.';

const trim = ({ value }: { value: unknown }) => (typeof value === 'string' ? value.trim() : value);

/** The registration form. */
export class RegisterInput {
  @Transform(trim)
  @IsString({ message: NAME })
  @Length(1, 64, { message: NAME })
  display_name!: string;

  @Transform(trim)
  @IsString({ message: EMAIL })
  @MaxLength(254, { message: EMAIL })
  @IsEmail({}, { message: EMAIL })
  email!: string;

  @IsString({ message: PASSWORD })
  @Length(8, 200, { message: PASSWORD })
  password!: string;
}

/** Checks the registration form; `value` is what was typed (trimmed), for the form again. */
export function validateRegistration(body: Record<string, string>): {
  value: RegisterInput;
  errors: FieldError[];
} {
  const value = plainToInstance(RegisterInput, body);
  const errors = flattenErrors(validateSync(value, { whitelist: true }));
  return {
    value: {
      display_name: value.display_name ?? '',
      email: value.email ?? '',
      password: value.password ?? '',
    },
    errors,
  };
}
