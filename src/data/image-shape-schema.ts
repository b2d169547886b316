// The JSON Schema of an image shape param ([height, width, channels]), shared by the stages that take one.
import type { JsonSchema } from '../stage.js';

export function imageShapeSchema(description: string): JsonSchema {
  return {
    type: 'array',
    items: { type: 'integer', minimum: 1 },
    minItems: 3,
    maxItems: 3,
    default: [48, 48, 1],
    description,
  };
}
