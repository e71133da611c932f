// A vendor that speaks OpenAI Chat Completions, described as data: one file per vendor in ./vendors/.
// The generic codec (request.ts, response.ts, stream.ts, errors.ts) does the work; a vendor only says where
// it lives, how it takes the key and which parts of the OpenAI protocol it does not honour.
import type { AuthStyle, ProviderCapabilities, StreamUsagePolicy } from '../shared/types.ts';

/** Parameters that only some of a vendor's models refuse (reasoning models, typically). */
export interface ModelQuirk {
  /** Tested against the channel's upstream model name. */
  models: RegExp;
  /** Removed from the forwarded body, each one reported as a warning. */
  unsupportedParams?: readonly string[];
  /** Renamed in the forwarded body (`from` → `to`), silently: the vendor honours them under its own name. */
  renamedParams?: Readonly<Record<string, string>>;
  /** Why, for docs/providers.md (and the vendor's page that says so). */
  note: string;
}

export interface Vendor {
  /** The config `type:` that selects this vendor. */
  id: string;
  /** Display name. */
  name: string;
  /** The vendor's own page on its OpenAI compatibility (or chat API reference): the source of what follows. */
  docsUrl: string;
  /** Lets `base_url` be omitted in config; absent for self-hosted servers without a canonical address. */
  defaultBaseUrl?: string;
  /** `bearer`: `Authorization: Bearer <api_key>` when a key is configured; `none`: no key; `{header}`: raw key. */
  auth: AuthStyle;
  /**
   * Top-level request parameters the vendor cannot honour: each one present in a request is removed from
   * the forwarded body and reported in `x-switchyard-warnings`. `messages[].<field>` names a field of every
   * message.
   */
  unsupportedParams: readonly string[];
  /** Parameters the vendor honours under another name (`from` → `to`). */
  renamedParams?: Readonly<Record<string, string>>;
  /** Largest `n` the vendor accepts; a larger one is lowered to it, with a warning. */
  maxChoices?: number;
  /** Per-model restrictions on top of the vendor-wide ones. */
  modelQuirks?: readonly ModelQuirk[];
  /**
   * Where streamed usage comes from. `include_usage`: the gateway asks with `stream_options.include_usage`;
   * `always`: sent unasked (`include_usage` is not forwarded); `never`: not sent (no `stream_options`; the
   * gateway bills by counting).
   */
  streamUsage: StreamUsagePolicy;
  /** What the vendor's API offers. `embeddings: false` means the adapter has no embeddings codec; the other
   * flags turn a request that needs the capability into a warning (the request is still forwarded). */
  capabilities: ProviderCapabilities;
  /** Other behaviour worth knowing (docs/providers.md). */
  notes?: string;
}
