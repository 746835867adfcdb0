// The cost estimate of the usage log: US dollars per million tokens, in and out, by model. The
// figures are the providers' list prices when written; a model not listed has no estimate (the
// usage log keeps its tokens). Longest matching prefix wins, so dated snapshots
// ("gpt-4o-mini-2024-07-18") take their family's price.

/** Price of one model in US dollars per million tokens. */
export interface ModelPrice {
  inputPerMillion: number;
  outputPerMillion: number;
}

/** The per-model price table. */
export const MODEL_PRICES: Readonly<Record<string, ModelPrice>> = {
  'gpt-4o-mini': { inputPerMillion: 0.15, outputPerMillion: 0.6 },
  'gpt-4o': { inputPerMillion: 2.5, outputPerMillion: 10 },
  'gpt-4.1-nano': { inputPerMillion: 0.1, outputPerMillion: 0.4 },
  'gpt-4.1-mini': { inputPerMillion: 0.4, outputPerMillion: 1.6 },
  'gpt-4.1': { inputPerMillion: 2, outputPerMillion: 8 },
  'gpt-3.5-turbo': { inputPerMillion: 0.5, outputPerMillion: 1.5 },
};

/** The price of `model` (longest listed prefix), or undefined. */
export function priceOf(
  model: string,
  prices: Readonly<Record<string, ModelPrice>> = MODEL_PRICES,
): ModelPrice | undefined {
  let best: string | undefined;
  for (const name of Object.keys(prices))
    if (model.startsWith(name) && (best === undefined || name.length > best.length)) best = name;
  return best === undefined ? undefined : prices[best];
}

/** Estimated cost of one call in millionths of a US dollar (rounded up), or null for an unpriced model. */
export function estimateCostMicros(
  model: string,
  tokensIn: number,
  tokensOut: number,
  prices: Readonly<Record<string, ModelPrice>> = MODEL_PRICES,
): number | null {
  const price = priceOf(model, prices);
  if (!price) return null;
  // $/1M tokens × tokens = micro-dollars.
  return Math.ceil(price.inputPerMillion * tokensIn + price.outputPerMillion * tokensOut);
}
