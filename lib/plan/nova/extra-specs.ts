/**
 * Nova's flavor extra-spec validation, as its API runs it on POST /flavors/{id}/os-extra_specs:
 * nova/api/validation/extra_specs/validators.py `validate()` over the validators of
 * nova/api/validation/extra_specs/{hw,hw_rng,hw_video,os,resources,traits,...}.py, with the
 * value checks of base.py `ExtraSpecValidator` (Zed: Debian python3-nova 26.2.2).
 *
 * The validators are data, lib/plan/nova/extra-spec-validators.json, dumped from that Nova by
 * test/fixtures/nova/extra_specs.py, which also records Nova's verdicts on example keys
 * (test/fixtures/nova/extra-specs-cases.json) for the tests.
 *
 * Nova runs these checks from microversion 2.86 on. At an older one it stores any key, and the
 * libvirt driver ignores one it does not know: a misspelt `hw:` key would quietly do nothing
 * on an RT guest. The planner therefore checks every flavor as 2.86 does.
 *
 * Pure: no I/O.
 */
// Not "./nova-extra-specs.json": Node's require tries .json before the .ts that the program's
// loader (tsx, under Pulumi) adds, so the program would load the data instead of this module.
import novaValidators from "./extra-spec-validators.json";

interface ValueRule {
  type: "str" | "int" | "bool";
  enum?: string[];
  /** A Python regex, matched in full (re.fullmatch). */
  pattern?: string;
  min?: number;
  max?: number;
}

interface Validator {
  name: string;
  nameRe: RegExp;
  value: ValueRule;
  valueRe: RegExp | undefined;
}

/**
 * Nova value patterns that backtrack exponentially on a value they do not match (in Python as
 * well): "0,1-2,1-2,...,1-2 " with 20 groups takes a minute. Each is matched through a pattern
 * that takes exactly the same strings in linear time; test/unit/plan/nova-extra-specs.test.ts checks
 * that they agree.
 */
export const LINEAR_EQUIVALENTS: Readonly<Record<string, string>> = {
  // hw:cpu_realtime_mask: every iteration is "-N", ",N" or ",N-N", which is ",N" then "-N".
  "(\\^)?\\d+((-\\d+)?(,\\^?\\d+(-\\d+)?)?)*": "\\^?\\d+(?:-\\d+|,\\^?\\d+)*",
  // hw:cpu_dedicated_mask, hw:numa_cpus.N: the same without the group around the first '^'.
  "\\^?\\d+((-\\d+)?(,\\^?\\d+(-\\d+)?)?)*": "\\^?\\d+(?:-\\d+|,\\^?\\d+)*",
  // hw:pmem: runs of word characters, each followed by at most one comma.
  "([a-zA-Z0-9_]+(,)?)+": "[a-zA-Z0-9_]+(?:,[a-zA-Z0-9_]+)*,?",
};

/** re.fullmatch of a Python pattern; lib/plan/nova/extra-spec-validators.json holds only patterns both engines read alike. */
const fullMatch = (pattern: string) => new RegExp(`^(?:${LINEAR_EQUIVALENTS[pattern] ?? pattern})$`);

// base.ExtraSpecValidator.__post_init__: each `{param}` of the name becomes `(?P<param>pattern)`.
// JavaScript writes the named group `(?<param>...)`; like Python's, it holds no ':'.
function nameRegex(name: string, parameters: Record<string, string>): string {
  return name.replace(/\{(\w+)\}/g, (_, p: string) => {
    if (!(p in parameters)) throw new Error(`nova-extra-spec-validators.json: ${name} has no pattern for {${p}}`);
    return `(?<${p}>${parameters[p]})`;
  });
}

interface Tables {
  validators: Validator[];
  byName: Map<string, Validator>;
  /** validators.load_validators: the part before the first ':' of every name regex that has one. */
  namespaces: RegExp[];
  /** Names without a parameter after the ':', by namespace: what a misspelt key may have meant. */
  candidates: { namespace: RegExp; rest: string }[];
}

const built: { tables?: Tables } = {};

/**
 * Built on first use, not when the module loads, so a module that imports this one without
 * validating (a provider bundle, lib/providers/bundle.ts) carries neither the tables nor the data.
 */
function tables(): Tables {
  if (built.tables !== undefined) return built.tables;
  const parameters: Record<string, string> = novaValidators.parameters;
  const validators: Validator[] = novaValidators.validators.map((v) => {
    const value = v.value as ValueRule;
    return {
      name: v.name,
      nameRe: fullMatch(nameRegex(v.name, parameters)),
      value,
      valueRe: value.pattern === undefined ? undefined : fullMatch(value.pattern),
    };
  });
  const namespaces = validators.map((v) => nameRegex(v.name, parameters)).filter((r) => r.includes(":"));
  built.tables = {
    validators,
    byName: new Map(validators.map((v) => [v.name, v])),
    namespaces: [...new Set(namespaces.map((r) => r.split(":")[0]))].map(fullMatch),
    candidates: validators
      .filter((v) => v.name.includes(":") && !v.name.slice(v.name.indexOf(":")).includes("{"))
      .map((v) => ({
        namespace: fullMatch(nameRegex(v.name.slice(0, v.name.indexOf(":")), parameters)),
        rest: v.name.slice(v.name.indexOf(":") + 1),
      })),
  };
  return built.tables;
}

// oslo_utils.strutils.bool_from_string(strict=True): stripped, case-blind.
const TRUE_STRINGS = ["1", "t", "true", "on", "y", "yes"];
const FALSE_STRINGS = ["0", "f", "false", "off", "n", "no"];
// Python's int() of a string: surrounding blanks, a sign, digits with single '_' between them.
const PY_INT = /^\s*[+-]?\d+(_\d+)*\s*$/;

/** base.ExtraSpecValidator.validate's value part: a message saying what Nova takes, or null. */
function valueError(rule: ValueRule, valueRe: RegExp | undefined, value: string): string | null {
  if (rule.type === "int") {
    const allowed = `an integer${rule.min !== undefined ? ` >= ${rule.min}` : ""}${rule.max !== undefined ? ` <= ${rule.max}` : ""}`;
    if (!PY_INT.test(value)) return `Nova takes ${allowed}`;
    const n = BigInt(value.trim().replace(/_/g, ""));
    if ((rule.min !== undefined && n < BigInt(rule.min)) || (rule.max !== undefined && n > BigInt(rule.max)))
      return `Nova takes ${allowed}`;
    return null;
  }
  if (rule.type === "bool") {
    const v = value.trim().toLowerCase();
    if (TRUE_STRINGS.includes(v) || FALSE_STRINGS.includes(v)) return null;
    return `Nova takes a boolean: one of ${[...TRUE_STRINGS, ...FALSE_STRINGS].join(", ")} (any case)`;
  }
  // A pattern wins over an enum, as in base.py _validate_str.
  if (valueRe !== undefined) return valueRe.test(value) ? null : `Nova takes only values matching ${rule.pattern}`;
  if (rule.enum !== undefined)
    return rule.enum.includes(value) ? null : `Nova takes one of ${rule.enum.join(", ")} (case matters)`;
  return null;
}

/**
 * The known name nearest to a misspelt one in the same namespace, when it is close enough to be
 * the intended one. A name with a parameter in its namespace (`trait{group}:HW_CPU_X86_AVX2`)
 * is taken with the key's own namespace; one with a parameter after the ':' is no candidate.
 */
function nearestName(name: string): string | undefined {
  const [namespace, rest] = [name.slice(0, name.indexOf(":")), name.slice(name.indexOf(":") + 1)];
  let best: { name: string; d: number } | undefined;
  for (const c of tables().candidates) {
    if (!c.namespace.test(namespace)) continue;
    const d = editDistance(rest, c.rest);
    if (d <= 3 && (best === undefined || d < best.d)) best = { name: `${namespace}:${c.rest}`, d };
  }
  return best?.name;
}

function editDistance(a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++)
      next[j] = Math.min(row[j] + 1, next[j - 1] + 1, row[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    row = next;
  }
  return row[b.length];
}

const memo = new Map<string, string | null>();

/**
 * Why Nova's API refuses the extra spec `name`=`value`, or null when it takes it. The message
 * names neither the key nor the value; callers put them next to it.
 */
export function extraSpecError(name: string, value: string): string | null {
  const key = JSON.stringify([name, value]);
  if (memo.has(key)) return memo.get(key)!;
  const error = validate(name, value);
  memo.set(key, error);
  return error;
}

// validators.validate: the validator registered under the name, else the first whose name
// regex matches; a key no validator matches passes unless its namespace is one Nova validates.
function validate(name: string, value: string): string | null {
  const { byName, validators, namespaces } = tables();
  const validator = byName.get(name) ?? validators.find((v) => v.nameRe.test(name));
  if (validator !== undefined) return valueError(validator.value, validator.valueRe, value);
  if (!name.includes(":")) return null;
  const namespace = name.split(":")[0];
  if (!namespaces.some((re) => re.test(namespace))) return null;
  const guess = nearestName(name);
  return (
    `Nova knows no such key in its "${namespace}:" namespace, where it refuses unknown keys` +
    (guess !== undefined ? `; did you mean "${guess}"?` : "; check the key against Nova's flavor extra-spec reference")
  );
}

/** Every extra spec Nova's API refuses, one message each, in key order. */
export function validateExtraSpecs(specs: Record<string, string>): string[] {
  return Object.entries(specs)
    .sort(([a], [b]) => a.localeCompare(b))
    .flatMap(([name, value]) => {
      const error = extraSpecError(name, value);
      return error === null ? [] : [`extra spec "${name}"="${value}": ${error}`];
    });
}
