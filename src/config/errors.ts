// The config's one error type: the message names the offending field (`models[0].price.input_per_mtok_usd: …`).

export class ConfigError extends Error {
  override name = 'ConfigError';
  /** The offending field without its location prefix (e.g. `input_per_mtok_usd`), when there is one. */
  readonly field: string | undefined;

  constructor(message: string, field?: string) {
    super(message);
    this.field = field;
  }
}
