// docs/asyncapi.yaml is a valid AsyncAPI 3.0 document (checked against the official JSON Schema from @asyncapi/specs)
// and matches the schemas the server validates with. UPDATE_ASYNCAPI=1 rewrites it from src/protocol.
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { Ajv } from 'ajv';
import addFormats from 'ajv-formats';
import YAML from 'yaml';
import { describe, expect, it } from 'vitest';
import { buildAsyncApiDocument } from '../../../src/protocol/asyncapi.js';
import { clientCommandSchemas, serverMessageSchemas } from '../../../src/protocol/schemas.js';

const root = resolve(import.meta.dirname, '../../..');
const file = join(root, 'docs', 'asyncapi.yaml');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };
const HEADER = '# Generated from src/protocol/schemas.ts by tests/unit/protocol/asyncapi.test.ts (UPDATE_ASYNCAPI=1). Do not edit.\n';

describe('docs/asyncapi.yaml', () => {
  const generated = buildAsyncApiDocument(pkg.version);
  if (process.env.UPDATE_ASYNCAPI === '1') writeFileSync(file, HEADER + YAML.stringify(generated, { aliasDuplicateObjects: false, lineWidth: 120 }));
  const doc = YAML.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;

  it('is valid against the AsyncAPI 3.0.0 JSON Schema', () => {
    const require = createRequire(import.meta.url);
    const schema = require('@asyncapi/specs/schemas/3.0.0-without-$id.json') as Record<string, unknown>;
    const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: true });
    addFormats.default(ajv);
    const validate = ajv.compile(schema);
    const ok = validate(doc);
    expect(validate.errors?.slice(0, 5) ?? []).toEqual([]);
    expect(ok).toBe(true);
  });

  it('rejects a broken document (the check can fail)', () => {
    const require = createRequire(import.meta.url);
    const schema = require('@asyncapi/specs/schemas/3.0.0-without-$id.json') as Record<string, unknown>;
    const ajv = new Ajv({ strict: false });
    addFormats.default(ajv);
    const validate = ajv.compile(schema);
    expect(validate({ ...doc, operations: { bad: { action: 'shout', channel: {} } } })).toBe(false);
  });

  it('matches the schemas the server validates with', () => {
    expect(doc).toEqual(generated);
    const messages = (doc.components as { messages: Record<string, { name: string; payload: unknown }> }).messages;
    for (const [type, schema] of Object.entries(serverMessageSchemas)) expect(messages[`server_${type}`]?.payload).toEqual(schema);
    for (const [type, schema] of Object.entries(clientCommandSchemas)) expect(messages[`client_${type}`]?.payload).toEqual(schema);
  });
});
