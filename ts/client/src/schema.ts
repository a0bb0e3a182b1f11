// `@ablo/client/schema`: declare a schema in TypeScript, as the seed's
// documents do (`defineSchema({ tasks: model({ title: z.string() }) })`).
// It describes what the client expects; the server enforces the schema
// pushed from the Rust models, and the generated `ablo.ts` is the usual way
// to get one.

import type { AbloSchema, SchemaField } from './types.js';

/** A field type builder. `T` is the TypeScript type of the value. */
export interface FieldBuilder<T, Optional extends boolean = false> {
  readonly kind: string;
  readonly isOptional: Optional;
  readonly values?: readonly string[];
  /** The field may be left out (stored as `null`). */
  optional(): FieldBuilder<T, true>;
  /** The same as `optional()`: the server stores a missing value as `null`. */
  nullable(): FieldBuilder<T, true>;
  /** Type-only. */
  readonly '~type'?: T;
}

function builder<T>(kind: string, values?: readonly string[], isOptional = false): FieldBuilder<T, boolean> {
  const self: FieldBuilder<T, boolean> = {
    kind,
    isOptional,
    ...(values ? { values } : {}),
    optional: () => builder<T>(kind, values, true) as FieldBuilder<T, true>,
    nullable: () => builder<T>(kind, values, true) as FieldBuilder<T, true>,
  };
  return self;
}

/** Field types. */
export const z = {
  string: () => builder<string>('string') as FieldBuilder<string>,
  number: () => builder<number>('float') as FieldBuilder<number>,
  boolean: () => builder<boolean>('boolean') as FieldBuilder<boolean>,
  json: () => builder<unknown>('json') as FieldBuilder<unknown>,
  enum: <const V extends readonly [string, ...string[]]>(values: V) =>
    builder<V[number]>('enum', values) as FieldBuilder<V[number]>,
  array: <T>(_of: FieldBuilder<T, boolean>) => builder<T[]>('list') as FieldBuilder<T[]>,
};

type Shape = Record<string, FieldBuilder<unknown, boolean>>;
type ValueOf<B> = B extends FieldBuilder<infer T, boolean> ? T : never;
type RequiredKeys<S extends Shape> = { [K in keyof S]: S[K] extends FieldBuilder<unknown, true> ? never : K }[keyof S];
type OptionalKeys<S extends Shape> = Exclude<keyof S, RequiredKeys<S>>;
type Simplify<T> = { [K in keyof T]: T[K] } & {};

/** The row of a model declared with `model(shape)`. */
export type RowOfShape<S extends Shape> = Simplify<
  { id: string; stamp: number; createdAt: string; updatedAt: string } & {
    [K in RequiredKeys<S>]: ValueOf<S[K]>;
  } & { [K in OptionalKeys<S>]: ValueOf<S[K]> | null }
>;
/** The create input of a model declared with `model(shape)`. */
export type InputOfShape<S extends Shape> = Simplify<
  { id?: string } & { [K in RequiredKeys<S>]: ValueOf<S[K]> } & { [K in OptionalKeys<S>]?: ValueOf<S[K]> | null }
>;
/** The patch of a model declared with `model(shape)`. */
export type PatchOfShape<S extends Shape> = Simplify<
  { [K in RequiredKeys<S>]?: ValueOf<S[K]> } & { [K in OptionalKeys<S>]?: ValueOf<S[K]> | null }
>;

/** A model declared in TypeScript. */
export interface ModelDefinition<S extends Shape> {
  readonly fields: readonly SchemaField[];
  readonly shape: S;
}

const RESERVED = new Set(['id', 'stamp', 'createdAt', 'updatedAt']);

/** A model with these fields. */
export function model<S extends Shape>(shape: S): ModelDefinition<S> {
  const fields = Object.entries(shape)
    .filter(([name]) => !RESERVED.has(name))
    .map(([name, field]) => ({ name, required: !field.isOptional, type: { kind: field.kind } }));
  return { fields, shape };
}

/** The schema of these models, typed for `Ablo({ schema })`. */
export function defineSchema<M extends Record<string, ModelDefinition<Shape>>>(
  models: M,
): AbloSchema & {
  readonly models: { readonly [K in keyof M]: M[K] };
  readonly modelNames: readonly (keyof M & string)[];
  readonly '~types'?: {
    models: { [K in keyof M]: RowOfShape<M[K]['shape']> };
    inputs: { [K in keyof M]: InputOfShape<M[K]['shape']> };
    patches: { [K in keyof M]: PatchOfShape<M[K]['shape']> };
  };
} {
  return { models, modelNames: Object.keys(models) as (keyof M & string)[] };
}
