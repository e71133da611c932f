// OpenAI's error shape, produced here and nowhere else: {"error": {"message", "type", "code", "param"}}.
// https://platform.openai.com/docs/guides/error-codes
import type { GatewayError } from '../../domain/errors.ts';

export interface OpenAIErrorBody {
  error: { message: string; type: string; code: string; param: string | null };
}

export function openAIErrorBody(error: GatewayError): OpenAIErrorBody {
  return { error: { message: error.message, type: error.type, code: error.code, param: error.param } };
}
