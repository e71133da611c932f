// Every OpenAI-compatible vendor the registry knows. Adding one: a file beside this one, a line below.
import type { Vendor } from '../vendor.ts';
import { deepseek } from './deepseek.ts';
import { fireworks } from './fireworks.ts';
import { genericVendor } from './generic.ts';
import { groq } from './groq.ts';
import { mistral } from './mistral.ts';
import { moonshot } from './moonshot.ts';
import { ollama } from './ollama.ts';
import { openai } from './openai.ts';
import { openrouter } from './openrouter.ts';
import { qwen } from './qwen.ts';
import { together } from './together.ts';
import { vllm } from './vllm.ts';
import { xai } from './xai.ts';

export const VENDORS: readonly Vendor[] = [
  genericVendor,
  openai,
  deepseek,
  groq,
  mistral,
  xai,
  openrouter,
  together,
  fireworks,
  moonshot,
  qwen,
  ollama,
  vllm,
];
