import {
  ArrayMaxSize,
  IsArray,
  IsEmail,
  IsInt,
  IsOptional,
  IsString,
  Length,
  Max,
  Min,
} from 'class-validator';

/** The body of `POST /validate`, the same class for rococo's @Schema, NestJS and routing-controllers. */
export class ItemInput {
  @IsString() @Length(1, 32) name!: string;
  @IsInt() @Min(1) @Max(100) quantity!: number;
  @IsEmail() email!: string;
  @IsOptional() @IsArray() @ArrayMaxSize(5) @IsString({ each: true }) tags?: string[];
}
