import 'reflect-metadata'; // @Type reads design types when the class is declared
import { Type as benchType } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayMinSize,
  IsArray,
  IsEmail,
  IsInt,
  IsOptional,
  IsString,
  Length,
  Max,
  MaxLength,
  Min,
  ValidateNested,
} from 'class-validator';

/** The body of `POST /validate`, the same class for rococo's @Schema, NestJS and routing-controllers. */
export class ItemInput {
  @IsString() @Length(1, 32) name!: string;
  @IsInt() @Min(1) @Max(100) quantity!: number;
  @IsEmail() email!: string;
  @IsOptional() @IsArray() @ArrayMaxSize(5) @IsString({ each: true }) tags?: string[];
}

// rococo's dist/ resolves class-transformer from the root's node_modules, a second copy whose @Type
// store is its own (class-validator's is global): record the nested types in both copies, so that
// rococo, NestJS and routing-controllers all see them.
const rootTransformer = require('../../node_modules/class-transformer') as {
  Type: typeof benchType;
};
const Type =
  (type: () => new () => object): PropertyDecorator =>
  (target, key) => {
    benchType(type)(target, key as string);
    rootTransformer.Type(type)(target, key as string);
  };

/** One line of an order: the items of `POST /validate-order`'s list. */
export class OrderLine {
  @IsString() @Length(1, 32) sku!: string;
  @IsInt() @Min(1) @Max(100) quantity!: number;
  @IsOptional() @IsString() @MaxLength(200) note?: string;
}

/** Who places an order. */
export class Customer {
  @IsString() @Length(1, 64) name!: string;
  @IsEmail() email!: string;
}

/** The bigger body of `POST /validate-order`: a nested object and a list of 20 nested items. */
export class OrderInput {
  @ValidateNested() @Type(() => Customer) customer!: Customer;
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(50)
  @ValidateNested({ each: true })
  @Type(() => OrderLine)
  lines!: OrderLine[];
  @IsOptional() @IsString() @MaxLength(500) comment?: string;
}
