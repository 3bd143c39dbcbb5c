/**
 * The inputs of this project's dynamic resources that are plain data (config-derived: no Output,
 * promise or resource inside) travel from the program as one property, `__plain`, and the
 * provider's `check` spreads them back. The SDK keeps about 6 KB for each property of a resource
 * while it is pending (an Output, four debuggable promises and their labels): a fleet's program
 * peaks lower by that much for each input folded (figures in docs/development.md).
 *
 * Nothing else sees the fold. The engine stores the inputs `check` returns as the resource's
 * inputs (pulumi/pulumi pkg/resource/deploy/step_generator.go: `inputs = resp.Properties`,
 * `new.Inputs = inputs`), so the state, the preview diff and `diff`/`create`/`update`/`read`
 * keep one flat key per input, as before. The inputs that come from other resources stay
 * top-level, so the property dependencies the engine records still name them; a plain value has
 * none, and it is never secret (a secret is an Output).
 */
export const PLAIN_INPUTS_KEY = "__plain";

/** Plain data: primitives, and arrays and plain objects of them (an Output, promise or resource is a class instance). */
function isPlain(v: unknown): boolean {
  if (v === null || typeof v !== "object") return typeof v !== "function" && typeof v !== "symbol";
  if (Array.isArray(v)) return v.every(isPlain);
  const proto = Object.getPrototypeOf(v) as unknown;
  if (proto !== Object.prototype && proto !== null) return false;
  return Object.values(v).every((x) => x === undefined || isPlain(x));
}

/**
 * The inputs as the program registers them: every plain value under `__plain`; the rest (Outputs,
 * promises, and the undefined inputs that declare outputs) stay top-level.
 */
export function foldPlainInputs(props: Record<string, unknown>): Record<string, unknown> {
  const top: Record<string, unknown> = {};
  const plain: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(props)) {
    if (v !== undefined && isPlain(v)) plain[k] = v;
    else top[k] = v;
  }
  return Object.keys(plain).length > 0 ? { ...top, [PLAIN_INPUTS_KEY]: plain } : top;
}

/**
 * The inputs as the provider takes them: `__plain` spread into the top level. Inputs without it
 * are flat already, as the state keeps them, and pass as they are.
 */
export function unfoldPlainInputs(news: Record<string, unknown>): Record<string, unknown> {
  const plain = news[PLAIN_INPUTS_KEY];
  if (plain === undefined) return news;
  if (typeof plain !== "object" || plain === null || Array.isArray(plain))
    throw new Error(`openstack-rt: the input ${PLAIN_INPUTS_KEY} must be an object of inputs, not ${typeof plain}`);
  const top = Object.fromEntries(Object.entries(news).filter(([k]) => k !== PLAIN_INPUTS_KEY));
  const both = Object.keys(plain).filter((k) => k in top);
  if (both.length > 0)
    throw new Error(`openstack-rt: inputs both top-level and in ${PLAIN_INPUTS_KEY}: ${both.join(", ")}`);
  return { ...top, ...plain };
}
