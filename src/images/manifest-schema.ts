// JSON Schema of a flash bundle's manifest (flash.json / flash.yaml): what docs/images.md describes.
export const MANIFEST_FILES = ['flash.json', 'flash.yaml', 'flash.yml', 'manifest.json', 'manifest.yaml', 'manifest.yml'];

const partition = { type: 'string', pattern: '^[A-Za-z0-9_.-]{1,64}$' } as const;
const image = { type: 'string', minLength: 1, maxLength: 4096 } as const;

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
          { type: 'object', additionalProperties: false, required: ['op', 'partition', 'image'],
            properties: { op: { const: 'flash' }, partition, image, slot: { enum: ['a', 'b', 'all', 'current'] } } },
          { type: 'object', additionalProperties: false, required: ['op', 'partition', 'image'],
            properties: { op: { const: 'verify' }, partition, image } },
          { type: 'object', additionalProperties: false, required: ['op', 'partition'],
            properties: { op: { const: 'erase' }, partition } },
          { type: 'object', additionalProperties: false, required: ['op', 'slot'],
            properties: { op: { const: 'set_active' }, slot: { enum: ['a', 'b'] } } },
          { type: 'object', additionalProperties: false, required: ['op'],
            properties: { op: { const: 'reboot' }, target: { enum: ['system', 'bootloader', 'fastboot', 'recovery'] } } },
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
