// JSON Schema of a flash bundle's manifest (flash.json / flash.yaml): what docs/images.md describes.
export const MANIFEST_FILES = ['flash.json', 'flash.yaml', 'flash.yml', 'manifest.json', 'manifest.yaml', 'manifest.yml'];

const partition = { type: 'string', pattern: '^[A-Za-z0-9_.-]{1,64}$' } as const;
const image = { type: 'string', minLength: 1, maxLength: 4096 } as const;
const address = { oneOf: [{ type: 'integer', minimum: 0 }, { type: 'string', pattern: '^0[xX][0-9a-fA-F]{1,13}$' }] } as const;
const options = { type: 'object', additionalProperties: { type: ['string', 'number', 'boolean'] } } as const;
const rebootMode = { type: 'string', pattern: '^[a-z][a-z0-9_-]{0,31}$' } as const;

export const manifestSchema = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  $id: 'https://flash-station.dev/schemas/manifest.json',
  title: 'Flash Station bundle manifest',
  type: 'object',
  additionalProperties: false,
  required: ['steps'],
  properties: {
    $schema: { type: 'string' },
    name: { type: 'string', maxLength: 200 },
    description: { type: 'string' },
    steps: {
      type: 'array',
      minItems: 1,
      maxItems: 1000,
      items: {
        oneOf: [
          // Target: `partition`, `address` or neither (the whole device); `options` (and `slot`) go to the family.
          { type: 'object', additionalProperties: false, required: ['op', 'image'], not: { required: ['partition', 'address'] },
            properties: { op: { const: 'flash' }, partition, address, image, options, slot: { enum: ['a', 'b', 'all', 'current'] } } },
          { type: 'object', additionalProperties: false, required: ['op', 'image'], not: { required: ['partition', 'address'] },
            properties: { op: { const: 'verify' }, partition, address, image, options } },
          { type: 'object', additionalProperties: false, required: ['op'], not: { required: ['partition', 'address'] },
            properties: { op: { const: 'erase' }, partition, address, options } },
          { type: 'object', additionalProperties: false, required: ['op', 'name'],
            properties: { op: { const: 'command' }, name: { type: 'string', minLength: 1, maxLength: 64 }, args: { type: 'object' } } },
          { type: 'object', additionalProperties: false, required: ['op', 'slot'],
            properties: { op: { const: 'set_active' }, slot: { enum: ['a', 'b'] } } },
          { type: 'object', additionalProperties: false, required: ['op'],
            // `mode` is the family's word; `target` its older name.
            properties: { op: { const: 'reboot' }, mode: rebootMode, target: rebootMode } },
          { type: 'object', additionalProperties: false, required: ['op'],
            properties: { op: { const: 'wait_for_device' }, timeoutMs: { type: 'integer', minimum: 1, maximum: 3_600_000 } } },
          { type: 'object', additionalProperties: false, required: ['op', 'command'],
            properties: { op: { const: 'oem' }, command: { type: 'string', minLength: 1, maxLength: 4000 } } },
          { type: 'object', additionalProperties: false, required: ['op', 'name'],
            properties: { op: { const: 'getvar' }, name: { type: 'string', minLength: 1 }, expect: { type: 'string' } } },
          { type: 'object', additionalProperties: false, required: ['op', 'image'],
            properties: { op: { const: 'update_super' }, image, wipe: { type: 'boolean' } } },
          { type: 'object', additionalProperties: false, required: ['op', 'name', 'values'],
            properties: { op: { const: 'require' }, name: { type: 'string', minLength: 1 },
              values: { type: 'array', minItems: 1, items: { type: 'string' } }, forProduct: { type: 'string' } } },
        ],
      },
    },
  },
} as const;
