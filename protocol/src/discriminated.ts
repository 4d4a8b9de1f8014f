/**
 * A tagged union as JSON Schema `oneOf` + OpenAPI `discriminator` (ajv option
 * `discriminator: true`): the validator picks the branch by the tag's value, so
 * errors name the bad key of that branch and defaults inside it are applied.
 */
import { Type, type TObject, type Static, type TUnsafe } from '@sinclair/typebox';

/**
 * @param tag property whose `const` value selects the branch (required in every branch)
 * @param branches object schemas, each with `tag` as a Literal
 */
export function DiscriminatedUnion<T extends TObject[]>(tag: string, branches: [...T]): TUnsafe<Static<T[number]>> {
  return Type.Unsafe<Static<T[number]>>({
    type: 'object',
    required: [tag],
    discriminator: { propertyName: tag },
    oneOf: branches,
  });
}
