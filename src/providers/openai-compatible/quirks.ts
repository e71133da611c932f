// A vendor's quirks applied to the body about to be forwarded (ARCHITECTURE §3: a parameter the upstream
// cannot honour becomes a warning, never a silent drop). Works on a shallow copy the caller owns; the
// client's own objects (messages, stream_options) are copied before they are changed.
import type { Warning } from '../shared/types.ts';
import { isObject } from '../shared/usage.ts';
import type { Vendor } from './vendor.ts';

type Body = Record<string, unknown>;

const MESSAGE_FIELD = /^messages\[\]\.(.+)$/;

function present(value: unknown): boolean {
  return value !== undefined && value !== null;
}

function removeParam(body: Body, param: string, vendor: Vendor, why: string, warnings: Warning[]): void {
  const field = MESSAGE_FIELD.exec(param)?.[1];
  if (field !== undefined) {
    if (!Array.isArray(body.messages)) return;
    let removed = false;
    body.messages = body.messages.map((m: unknown) => {
      if (!isObject(m) || !(field in m)) return m;
      removed ||= present(m[field]);
      const { [field]: _dropped, ...rest } = m;
      return rest;
    });
    if (removed) warnings.push({ code: 'unsupported_parameter', param, message: `${vendor.name} does not support "${param}"${why}; it was removed from the request.` });
    return;
  }
  if (!(param in body)) return;
  const value = body[param];
  delete body[param];
  if (present(value)) warnings.push({ code: 'unsupported_parameter', param, message: `${vendor.name} does not support "${param}"${why}; it was removed from the request.` });
}

function rename(body: Body, renames: Readonly<Record<string, string>>): void {
  for (const [from, to] of Object.entries(renames)) {
    if (!(from in body)) continue;
    const value = body[from];
    delete body[from];
    if (present(value) && !present(body[to])) body[to] = value;
  }
}

function hasImageInput(messages: unknown): boolean {
  if (!Array.isArray(messages)) return false;
  return messages.some((m) => isObject(m) && Array.isArray(m.content) && m.content.some((p) => isObject(p) && (p.type === 'image_url' || p.type === 'input_image')));
}

function capabilityWarnings(body: Body, vendor: Vendor, warnings: Warning[]): void {
  const caps = vendor.capabilities;
  const warn = (param: string, what: string): void => {
    warnings.push({ code: 'unsupported_capability', param, message: `${vendor.name} does not document ${what}; the request was forwarded unchanged and the upstream may ignore or refuse it.` });
  };
  if (!caps.tools && Array.isArray(body.tools) && body.tools.length > 0) warn('tools', 'tool calling');
  if (!caps.jsonSchema && isObject(body.response_format) && body.response_format.type === 'json_schema') warn('response_format', 'JSON-schema structured output');
  if (!caps.vision && hasImageInput(body.messages)) warn('messages', 'image input');
}

/** Removes, renames and limits what the vendor (and the upstream model) cannot take; returns the warnings. */
export function applyVendorQuirks(body: Body, vendor: Vendor, upstreamModel: string, warnings: Warning[]): void {
  for (const param of vendor.unsupportedParams) removeParam(body, param, vendor, '', warnings);
  if (vendor.renamedParams) rename(body, vendor.renamedParams);
  for (const quirk of vendor.modelQuirks ?? []) {
    if (!quirk.models.test(upstreamModel)) continue;
    const why = ` for model ${upstreamModel}`;
    for (const param of quirk.unsupportedParams ?? []) removeParam(body, param, vendor, why, warnings);
    if (quirk.renamedParams) rename(body, quirk.renamedParams);
  }
  const n = body.n;
  if (vendor.maxChoices !== undefined && typeof n === 'number' && n > vendor.maxChoices) {
    body.n = vendor.maxChoices;
    warnings.push({ code: 'unsupported_parameter', param: 'n', message: `${vendor.name} returns at most ${vendor.maxChoices} choice(s); n was lowered from ${n} to ${vendor.maxChoices}.` });
  }
  capabilityWarnings(body, vendor, warnings);
}

/**
 * Streamed usage policy. `include_usage`: ask for it (the usage chunk is how a stream is billed; the core
 * strips it again for clients that did not ask). `always`: the vendor sends it unasked, so the flag is not
 * forwarded (some vendors refuse it). `never`: the vendor cannot send it; a client that asked is told so.
 */
export function applyStreamUsage(body: Body, vendor: Vendor, stream: boolean, warnings: Warning[]): void {
  if (!stream) return;
  const given = isObject(body.stream_options) ? body.stream_options : undefined;
  if (vendor.streamUsage === 'include_usage') {
    body.stream_options = { ...given, include_usage: true };
    return;
  }
  if (!given || !('include_usage' in given)) return;
  const { include_usage: asked, ...rest } = given;
  if (Object.keys(rest).length > 0) body.stream_options = rest;
  else delete body.stream_options;
  if (vendor.streamUsage === 'never' && asked === true) {
    warnings.push({
      code: 'unsupported_parameter',
      param: 'stream_options.include_usage',
      message: `${vendor.name} does not report usage in streams; the stream carries no usage chunk and the gateway bills by counting tokens.`,
    });
  }
}
