/**
 * Validate values against the schemas of OpenAI's published OpenAPI spec (`../shared/openai-openapi.yaml`
 * beside the repository root, see /work/shared/README.md).
 *
 *   const v = loadOpenApiValidator();          // undefined when the yaml file is missing
 *   v?.validate('CreateChatCompletionResponse', body)   // -> string[] of errors, [] when valid
 *
 * The spec is OpenAPI 3.1 (JSON Schema 2020-12), so it is compiled with `ajv/dist/2020` (strict: false, plus
 * ajv-formats). A few OpenAPI-3.0 leftovers in the file are normalised first, because Ajv would otherwise
 * reject or misread them:
 *   - `nullable: true`            -> `type: [T, 'null']` (and `null` added to an `enum`), or
 *                                    `anyOf: [<schema>, {type: 'null'}]` where there is no `type` (e.g. beside `$ref`)
 *   - `exclusiveMinimum: true`    -> numeric `exclusiveMinimum` (draft-4 boolean form)
 *   - `$recursiveRef: '#'`        -> `$ref` to the enclosing component schema (draft 2019-09 form)
 *   - `format: unixtime`          -> a known format (integer seconds)
 * The whole `components.schemas` map is registered under one `$id`, so `#/components/schemas/X` refs resolve.
 *
 * Parsing the ~3 MB yaml takes about a second: the result is cached at module level, and each schema is
 * compiled once on first use.
 */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Ajv2020 } from 'ajv/dist/2020.js';
import type { ErrorObject, ValidateFunction } from 'ajv/dist/2020.js';
import * as ajvFormatsModule from 'ajv-formats';
import { parse as parseYaml } from 'yaml';

export interface OpenApiValidator {
  /** Error messages (`<instancePath> <message> <params>`), empty when `value` matches the schema. */
  validate(schemaName: string, value: unknown): string[];
}

/** The yaml lives in `shared/` beside the repository root: test/helpers -> test -> repo -> its parent. */
export const OPENAPI_YAML_PATH: string =
  process.env.SWITCHYARD_OPENAI_OPENAPI ?? fileURLToPath(new URL('../../../shared/openai-openapi.yaml', import.meta.url));

const SPEC_ID = 'https://switchyard.invalid/openai-openapi.json';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** In-place rewrite of the OpenAPI-3.0-isms listed above; `component` is the enclosing top-level schema name. */
function normalise(node: Json, component: string): void {
  if (Array.isArray(node)) {
    for (const item of node) normalise(item, component);
    return;
  }
  if (!isObject(node)) return;
  for (const key of Object.keys(node)) {
    const child = node[key];
    if (child !== undefined && typeof child === 'object' && child !== null) normalise(child, component);
  }
  if (node.$recursiveRef === '#') {
    delete node.$recursiveRef;
    node.$ref = `#/components/schemas/${component}`;
  }
  delete node.$recursiveAnchor;
  for (const [bool, bound] of [['exclusiveMinimum', 'minimum'], ['exclusiveMaximum', 'maximum']] as const) {
    const flag = node[bool];
    if (typeof flag === 'boolean') {
      const limit = node[bound];
      if (flag && typeof limit === 'number') {
        node[bool] = limit;
        delete node[bound];
      } else {
        delete node[bool];
      }
    }
  }
  if ('nullable' in node) {
    const nullable = node.nullable === true;
    delete node.nullable;
    if (!nullable) return;
    const type = node.type;
    if (typeof type === 'string') {
      node.type = [type, 'null'];
    } else if (Array.isArray(type)) {
      if (!type.includes('null')) type.push('null');
    } else {
      // No `type` to widen (typically `$ref` + `nullable`): wrap the assertions in anyOf.
      const inner: JsonObject = {};
      for (const key of Object.keys(node)) {
        if (key === 'description' || key === 'title' || key === 'default' || key.startsWith('x-')) continue;
        const value = node[key];
        if (value !== undefined) inner[key] = value;
        delete node[key];
      }
      node.anyOf = [inner, { type: 'null' }];
      return;
    }
    if (Array.isArray(node.enum) && !node.enum.includes(null)) node.enum.push(null);
  }
}

type FormatsPlugin = (ajv: Ajv2020) => Ajv2020;

/** ajv-formats is CommonJS: depending on the loader its function is the default export or `.default` of it. */
export function formatsPlugin(): FormatsPlugin {
  const mod: unknown = ajvFormatsModule;
  let candidate: unknown = (mod as { default?: unknown }).default;
  if (typeof candidate !== 'function' && isObjectLike(candidate)) candidate = (candidate as { default?: unknown }).default;
  if (typeof candidate !== 'function') throw new Error('ajv-formats: plugin function not found');
  return candidate as FormatsPlugin;
}

function isObjectLike(v: unknown): v is object {
  return (typeof v === 'object' || typeof v === 'function') && v !== null;
}

export function formatError(e: ErrorObject): string {
  const where = e.instancePath === '' ? '(root)' : e.instancePath;
  return `${where} ${e.message ?? e.keyword} ${JSON.stringify(e.params)}`;
}

let cached: OpenApiValidator | null | undefined; // undefined: not loaded yet; null: yaml missing

/**
 * Load (once per process/worker) the OpenAI OpenAPI schemas. Returns undefined when the yaml file is absent,
 * so callers can skip conformance checks (`describe.skipIf(!validator)`).
 */
export function loadOpenApiValidator(): OpenApiValidator | undefined {
  if (cached !== undefined) return cached ?? undefined;
  if (!existsSync(OPENAPI_YAML_PATH)) {
    cached = null;
    return undefined;
  }
  const doc: unknown = parseYaml(readFileSync(OPENAPI_YAML_PATH, 'utf8'), { maxAliasCount: -1 });
  const components = isObject(doc) ? doc.components : undefined;
  const schemas = isObject(components) ? components.schemas : undefined;
  if (!isObject(schemas)) throw new Error(`${OPENAPI_YAML_PATH}: no components.schemas`);
  for (const [name, schema] of Object.entries(schemas)) normalise(schema, name);

  const ajv = new Ajv2020({ strict: false, allErrors: true, validateSchema: false, logger: false });
  formatsPlugin()(ajv);
  ajv.addFormat('unixtime', { type: 'number', validate: (n: number) => Number.isInteger(n) && n >= 0 });
  ajv.addSchema({ $id: SPEC_ID, components: { schemas } });

  const compiled = new Map<string, ValidateFunction>();
  const validator: OpenApiValidator = {
    validate(schemaName: string, value: unknown): string[] {
      let fn = compiled.get(schemaName);
      if (fn === undefined) {
        if (!(schemaName in schemas)) throw new Error(`OpenAPI spec has no components.schemas.${schemaName}`);
        fn = ajv.compile({ $ref: `${SPEC_ID}#/components/schemas/${schemaName}` });
        compiled.set(schemaName, fn);
      }
      if (fn(value)) return [];
      return (fn.errors ?? []).map(formatError);
    },
  };
  cached = validator;
  return validator;
}
