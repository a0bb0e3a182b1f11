// A scripted stand-in for the AI SDK's `tool` and `streamText`: the "model"
// is a list of tool calls to make, so the seed's tool runs for real against
// the server without a language model.

import type { z } from 'zod';

export interface Tool<S extends z.ZodType, R> {
  description: string;
  inputSchema: S;
  execute: (input: z.infer<S>) => Promise<R>;
}

export function tool<S extends z.ZodType, R>(definition: Tool<S, R>): Tool<S, R> {
  return definition;
}

/** The scripted model: which tool to call with which input, in order. */
export interface ScriptedModel {
  calls: Array<{ tool: string; input: unknown }>;
}

export function streamText(options: {
  model: ScriptedModel;
  messages: unknown[];
  tools: Record<string, Tool<z.ZodType, unknown>>;
}): { toUIMessageStreamResponse(): Response } {
  const encoder = new TextEncoder();
  return {
    toUIMessageStreamResponse() {
      const body = new ReadableStream<Uint8Array>({
        async start(controller) {
          for (const call of options.model.calls) {
            const chosen = options.tools[call.tool];
            if (!chosen) throw new Error(`the script names an unknown tool ${call.tool}`);
            const output = await chosen.execute(chosen.inputSchema.parse(call.input));
            controller.enqueue(encoder.encode(`${JSON.stringify({ type: 'tool-result', toolName: call.tool, output })}\n`));
          }
          controller.close();
        },
      });
      return new Response(body, { headers: { 'content-type': 'text/plain; charset=utf-8' } });
    },
  };
}
