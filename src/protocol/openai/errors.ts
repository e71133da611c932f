// OpenAI's error shape, produced here and nowhere else: {"error": {"message", "type", "code", "param"}}.
// https://platform.openai.com/docs/guides/error-codes
// The message is the client's (domain/upstream-errors.ts clientMessage): never an upstream's own words.
import type { GatewayError } from '../../domain/errors.ts';
import { clientMessage } from '../../domain/upstream-errors.ts';

export interface OpenAIErrorBody {
  error: { message: string; type: string; code: string; param: string | null };
}

export function openAIErrorBody(error: GatewayError, requestId: string | null): OpenAIErrorBody {
  return { error: { message: clientMessage(error, requestId), type: error.type, code: error.code, param: error.param } };
}
