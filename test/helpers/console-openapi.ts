// Validates console API responses against the OpenAPI 3.1 description the gateway itself serves
// (GET /console/v1/openapi.json): each response's body must match the schema documented for its method, path
// and status. Schemas are JSON Schema 2020-12, compiled with Ajv2020 (+ formats).
import { Ajv2020 } from 'ajv/dist/2020.js';
import type { ValidateFunction } from 'ajv/dist/2020.js';
import { formatError, formatsPlugin } from './openapi.ts';
import { ConsoleClient, type ConsoleResponse } from './console.ts';

const DOC_ID = 'https://switchyard.invalid/console-openapi.json';

interface Operation {
  responses: Record<string, { content?: { 'application/json'?: { schema: unknown } } }>;
}
export interface ConsoleOpenApi {
  openapi: string;
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, unknown> };
}

const pointer = (...segments: string[]): string => segments.map((s) => encodeURIComponent(s.replaceAll('~', '~0').replaceAll('/', '~1'))).join('/');

export class ContractChecker {
  private readonly ajv = new Ajv2020({ strict: false, allErrors: true });
  private readonly compiled = new Map<string, ValidateFunction>();
  private readonly templates: Array<{ template: string; pattern: RegExp }>;
  /** `METHOD /path status` of every response checked. */
  readonly seen = new Set<string>();
  readonly problems: string[] = [];

  constructor(readonly doc: ConsoleOpenApi) {
    formatsPlugin()(this.ajv);
    this.ajv.addSchema(doc as object, DOC_ID);
    this.templates = Object.keys(doc.paths).map((template) => ({
      template,
      pattern: new RegExp(`^${template.replace(/\{\w+\}/g, '[^/]+')}$`),
    }));
  }

  check(method: string, path: string, res: ConsoleResponse): void {
    const bare = path.split('?')[0] ?? path;
    const template = this.templates.find((t) => t.pattern.test(bare))?.template;
    const where = `${method} ${template ?? bare} ${res.status}`;
    this.seen.add(where);
    const operation = template ? this.doc.paths[template]?.[method.toLowerCase()] : undefined;
    const response = operation?.responses[String(res.status)];
    if (!response) {
      this.problems.push(`${where}: not documented`);
      return;
    }
    if (!response.content) {
      if (Object.keys(res.json).length > 0) this.problems.push(`${where}: documented without a body, got one`);
      return;
    }
    let validate = this.compiled.get(where);
    if (!validate) {
      const ref = `${DOC_ID}#/${pointer('paths', template ?? '', method.toLowerCase(), 'responses', String(res.status), 'content', 'application/json', 'schema')}`;
      validate = this.ajv.compile({ $ref: ref });
      this.compiled.set(where, validate);
    }
    if (!validate(res.json)) this.problems.push(`${where}: ${(validate.errors ?? []).map(formatError).join('; ')}`);
  }
}

/** A ConsoleClient whose every response is checked against the served description. */
export class CheckedConsoleClient extends ConsoleClient {
  constructor(baseUrl: string, private readonly checker: ContractChecker) {
    super(baseUrl);
  }

  override async request(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<ConsoleResponse> {
    const res = await super.request(method, path, body, headers);
    this.checker.check(method, path, res);
    return res;
  }
}
