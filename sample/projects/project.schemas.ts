import { Expose, Transform, Type } from 'class-transformer';
import { IsInt, IsOptional, IsString, Length, Matches, MaxLength } from 'class-validator';
import { JSONSchema } from '../../src';

const NAME = 'Give the project a name of 1 to 32 characters.';
const SLUG = 'Use 1 to 32 lower-case letters, digits or hyphens.';
const DESCRIPTION = 'Keep the description under 256 characters.';

/** What a client sends to create or change a project: the API's body and the pages' form. */
export class ProjectInput {
  @Transform(({ value }) => (typeof value === 'string' ? value.trim() : value))
  @IsString({ message: NAME })
  @Length(1, 32, { message: NAME })
  name!: string;

  @IsString({ message: SLUG })
  @Matches(/^[a-z0-9-]{1,32}$/, { message: SLUG })
  slug!: string;

  @IsOptional()
  @IsString({ message: DESCRIPTION })
  @MaxLength(255, { message: DESCRIPTION })
  description: string = '';
}

/**
 * A project as the API shows it: nothing else of the row leaks. `@JSONSchema` says what
 * TypeScript's runtime types cannot: the id is an integer, the owner may be null.
 */
export class ProjectOut {
  @Expose() @JSONSchema({ type: 'integer' }) id!: number;
  @Expose() name!: string;
  @Expose() slug!: string;
  @Expose() description!: string;
  @Expose() @JSONSchema({ type: ['integer', 'null'] }) owner_id!: number | null;
  @Expose() @JSONSchema({ type: ['string', 'null'] }) owner_name!: string | null;
  @Expose() created_at!: Date;
}

/** The list of projects. */
export class ProjectList {
  @Expose() @Type(() => ProjectOut) projects!: ProjectOut[];
}

/** `/api/projects/<project_id>`: an integer (the route's `id` converter already bounds it to the column). */
export class ProjectParams {
  @IsInt() project_id!: number;
}

/** The URLs of the API, as `GET /api/` lists them. */
export class ApiUrls {
  @Expose() add_project!: string;
  @Expose() @JSONSchema({ description: 'With a `{project_id}` placeholder' }) project!: string;
  @Expose() projects!: string;
}

/** `GET /api/`: where everything is, and the locale. */
export class ApiIndex {
  @Expose() @Type(() => ApiUrls) urls!: ApiUrls;
  @Expose() locale!: string;
}

/** `GET /api/?locale=`. */
export class IndexQuery {
  @IsOptional()
  @Matches(/^[a-z]{2,3}([_-][A-Za-z]{2,4})?$/, { message: 'locale must look like uk_UA' })
  locale?: string;
}
