// JSON Schema (what OpenAI clients send) → what Gemini accepts.
// Wire formats:
//   FunctionDeclaration.parameters is a Schema: "a select subset of an OpenAPI 3.0 schema object":
//     https://ai.google.dev/api/caching#Schema  ·  https://ai.google.dev/gemini-api/docs/function-calling
//   GenerationConfig.responseJsonSchema takes JSON Schema, of which only some keywords are honoured:
//     https://ai.google.dev/api/generate-content#v1beta.GenerationConfig  ·  https://ai.google.dev/gemini-api/docs/structured-output
//
// Tool parameters (toOpenApiSchema): only the Schema fields are kept. Local `$ref`s (`#/$defs/X`,
// `#/definitions/X`, as pydantic and zod emit them) are inlined (a recursive one is cut at a fixed depth);
// `type: [T, 'null']` becomes `type: T, nullable: true`; several types become `anyOf`; `const` becomes a
// one-value `enum`; `oneOf` is sent as `anyOf` (not exclusive any more); a one-element `allOf` is merged.
// Everything else (additionalProperties, $schema, uniqueItems, multipleOf, not, …) is removed, and each
// removal is named in ONE warning per schema. An OBJECT parameters schema without properties is omitted:
// Gemini rejects an OBJECT without properties there.
//
// Response schemas (toResponseJsonSchema): sent as JSON Schema; keywords outside the documented supported list
// are removed, with one warning.
import type { Warning } from '../shared/types.ts';
import { isObject, type Json } from '../shared/usage.ts';

const OPENAPI_KEYS = new Set([
  'type', 'format', 'title', 'description', 'nullable', 'enum', 'maxItems', 'minItems', 'properties', 'required',
  'minProperties', 'maxProperties', 'minLength', 'maxLength', 'pattern', 'example', 'anyOf', 'propertyOrdering',
  'default', 'items', 'minimum', 'maximum',
]);

const JSON_SCHEMA_KEYS = new Set([
  '$id', '$defs', '$ref', '$anchor', 'type', 'format', 'title', 'description', 'enum', 'items', 'prefixItems',
  'minItems', 'maxItems', 'minimum', 'maximum', 'anyOf', 'oneOf', 'properties', 'additionalProperties', 'required',
  'propertyOrdering',
]);

const MAX_REF_DEPTH = 6;

class Dropped {
  private readonly counts = new Map<string, number>();
  add(key: string): void {
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
  }
  warning(param: string, what: string): Warning | undefined {
    if (this.counts.size === 0) return undefined;
    const list = [...this.counts].map(([key, n]) => (n > 1 ? `${key} (×${n})` : key)).join(', ');
    return { code: 'unsupported_schema_keyword', param, message: `${what}: Gemini does not support ${list}; removed` };
  }
}

interface Walk {
  root: Json;
  dropped: Dropped;
  refDepth: number;
}

function resolveRef(ref: string, walk: Walk): Json | undefined {
  const match = /^#\/(\$defs|definitions)\/(.+)$/.exec(ref);
  if (!match) return undefined;
  const defs = walk.root[match[1] ?? ''];
  const name = (match[2] ?? '').replace(/~1/g, '/').replace(/~0/g, '~');
  return isObject(defs) && isObject(defs[name]) ? defs[name] : undefined;
}

function openApiProperties(value: unknown, walk: Walk): Json {
  const out: Json = {};
  if (!isObject(value)) return out;
  for (const [name, sub] of Object.entries(value)) out[name] = openApi(sub, walk);
  return out;
}

/** One schema node (JSON Schema) → Gemini Schema (OpenAPI subset). */
function openApi(node: unknown, walk: Walk): Json {
  if (!isObject(node)) return {};
  if (typeof node.$ref === 'string') {
    const target = walk.refDepth < MAX_REF_DEPTH ? resolveRef(node.$ref, walk) : undefined;
    if (!target) {
      walk.dropped.add('$ref');
      return {};
    }
    const { $ref: _ref, ...siblings } = node;
    return openApi({ ...target, ...siblings }, { ...walk, refDepth: walk.refDepth + 1 });
  }
  let source = node;
  if (Array.isArray(node.allOf)) {
    const { allOf, ...rest } = node;
    if (allOf.length === 1 && isObject(allOf[0])) source = { ...allOf[0], ...rest };
    else {
      walk.dropped.add('allOf');
      source = rest;
    }
  }
  const out: Json = {};
  for (const [key, value] of Object.entries(source)) {
    switch (key) {
      case '$defs':
      case 'definitions':
        break; // inlined where referenced
      case 'type':
        if (Array.isArray(value)) {
          const types = value.filter((t): t is string => typeof t === 'string' && t !== 'null');
          if (types.length !== value.length) out.nullable = true;
          if (types.length === 1) out.type = types[0];
          else if (types.length > 1) out.anyOf = types.map((t) => ({ type: t }));
        } else if (value === 'null') {
          out.nullable = true;
        } else out.type = value;
        break;
      case 'const':
        if (typeof value === 'string') out.enum = [value];
        else walk.dropped.add('const');
        break;
      case 'enum':
        if (Array.isArray(value) && value.every((v) => typeof v === 'string' || v === null)) {
          out.enum = value.filter((v) => v !== null);
          if (value.includes(null)) out.nullable = true;
        } else walk.dropped.add('enum (non-string)');
        break;
      case 'oneOf':
      case 'anyOf':
        if (key === 'oneOf') walk.dropped.add('oneOf (sent as anyOf)');
        if (Array.isArray(value)) out.anyOf = value.map((sub) => openApi(sub, walk));
        break;
      case 'properties':
        out.properties = openApiProperties(value, walk);
        break;
      case 'items':
        if (Array.isArray(value)) walk.dropped.add('items (tuple)');
        else out.items = openApi(value, walk);
        break;
      default:
        if (OPENAPI_KEYS.has(key)) out[key] = value;
        else walk.dropped.add(key);
    }
  }
  return out;
}

/** A function's `parameters` → Gemini Schema, or undefined when there is nothing to declare. */
export function toOpenApiSchema(schema: unknown, param: string, warnings: Warning[]): Json | undefined {
  if (!isObject(schema)) return undefined;
  const walk: Walk = { root: schema, dropped: new Dropped(), refDepth: 0 };
  const out = openApi(schema, walk);
  const warning = walk.dropped.warning(param, 'function parameters');
  if (warning) warnings.push(warning);
  const isObjectType = typeof out.type === 'string' && out.type.toLowerCase() === 'object';
  if (isObjectType && (!isObject(out.properties) || Object.keys(out.properties).length === 0)) return undefined;
  return out;
}

function jsonSchema(node: unknown, dropped: Dropped): unknown {
  if (Array.isArray(node)) return node.map((sub) => jsonSchema(sub, dropped));
  if (!isObject(node)) return node;
  const out: Json = {};
  for (const [key, value] of Object.entries(node)) {
    if (!JSON_SCHEMA_KEYS.has(key)) {
      if (key === 'const' && (typeof value === 'string' || typeof value === 'number')) out.enum = [value];
      else dropped.add(key);
      continue;
    }
    if (key === 'properties' || key === '$defs') {
      const map: Json = {};
      if (isObject(value)) for (const [name, sub] of Object.entries(value)) map[name] = jsonSchema(sub, dropped);
      out[key] = map;
    } else if (key === 'items' || key === 'prefixItems' || key === 'anyOf' || key === 'oneOf' || key === 'additionalProperties') {
      out[key] = jsonSchema(value, dropped);
    } else out[key] = value;
  }
  return out;
}

/** response_format.json_schema.schema → GenerationConfig.responseJsonSchema. */
export function toResponseJsonSchema(schema: unknown, param: string, warnings: Warning[]): unknown {
  const dropped = new Dropped();
  const out = jsonSchema(schema, dropped);
  const warning = dropped.warning(param, 'response schema');
  if (warning) warnings.push(warning);
  return out;
}
