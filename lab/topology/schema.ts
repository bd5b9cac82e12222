/**
 * JSON Schema of the native inventory format (hosts/*.yaml) and the ajv validator built from it.
 *
 * Every constraint that can be said in JSON Schema lives here; cross-field rules (roles, subnets, unique
 * addresses, paths) live in inventory-sections.ts. Each leaf carries a `description` phrased to complete
 * "expected …, got …" — that is how error messages are worded (see `schemaIssues`).
 *
 * Shell safety: every string that may ever reach a shell is constrained by a pattern of shell-safe characters
 * (lab, host names, address, user, queues, image, network, pool/roles/provider enums). The only free-text fields
 * are `password` (never put on a command line) and the paths `key`, `mounts`, `docker.socket`, `tasks`, `config` (no
 * control characters; `~` expanded; must be passed as argv elements, never interpolated into a shell string).
 */
import { createHash } from 'node:crypto';
import type { ErrorObject, ValidateFunction } from 'ajv';
import { CIDR_PATTERN } from './net.js';
import { BACKEND_KINDS, BROKER_KINDS, LINK_MODES, POOLS, PROVIDERS, RESTART_POLICIES, ROLES } from './topology.js';

import { LAB_NAME_PATTERN, HOSTNAME_PATTERN, USER_PATTERN, QUEUE_PATTERN, SERVICE_NAME_PATTERN, ENV_NAME_PATTERN } from './patterns.js';
/** [registry[:port]/]name[/name…][:tag][@sha256:digest] */
const IMAGE_PATTERN =
  '^(?:[A-Za-z0-9][A-Za-z0-9.-]*(?::[0-9]{1,5})?/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@sha256:[a-f0-9]{64})?$';
const NETWORK_PATTERN = '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$';
/** A file-system path: anything but control characters (newline, NUL, …). */
const PATH_PATTERN = '^[^\\x00-\\x1f\\x7f]+$';
/** docker-style "source:target[:ro|rw]" */
const MOUNT_STRING_PATTERN = '^[^:\\x00-\\x1f\\x7f]+:[^:\\x00-\\x1f\\x7f]+(?::(?:ro|rw))?$';

const oneOf = (xs: readonly string[]): string => `one of ${xs.join(', ')}`;

const port = { type: 'integer', minimum: 1, maximum: 65535, description: 'a port number from 1 to 65535' };
const path = { type: 'string', pattern: PATH_PATTERN, description: 'a file path without control characters (newline, tab, NUL)' };
const image = { type: 'string', pattern: IMAGE_PATTERN, description: 'an image reference like rabbitmq:3 or docker.io/library/node:20' };

const mount = {
  type: ['string', 'object'],
  description: 'a mount "source:target[:ro]" or a mapping {source, target, readOnly}',
  pattern: MOUNT_STRING_PATTERN,
  properties: {
    source: { ...path, description: 'a host path without control characters or ":"', pattern: '^[^:\\x00-\\x1f\\x7f]+$' },
    target: { type: 'string', pattern: '^/[^:\\x00-\\x1f\\x7f]*$', description: 'an absolute container path without control characters or ":"' },
    readOnly: { type: 'boolean', description: 'true or false' },
  },
  required: ['source', 'target'],
  additionalProperties: false,
};

/** Settings a host may carry and `defaults:` may provide (everything but roles, address, image, mounts). */
const inheritable = {
  user: { type: 'string', pattern: USER_PATTERN, description: 'a user name (letters, digits, _ . -; at most 32)' },
  port,
  key: path,
  password: { type: 'string', minLength: 1, description: 'a non-empty string' },
  sudo: { type: 'boolean', description: 'true or false' },
  node: { enum: ['system', 'ship'], description: "system (the host's own Node ≥ 20) or ship (lab brings Node 20 for lab's processes only; ssh)" },
  concurrency: { type: 'integer', minimum: 1, maximum: 1024, description: 'an integer from 1 to 1024' },
  pool: { enum: [...POOLS], description: oneOf(POOLS) },
  queues: {
    type: 'array',
    minItems: 1,
    uniqueItems: true,
    description: 'a non-empty list of queue names',
    items: { type: 'string', pattern: QUEUE_PATTERN, description: 'a queue name (letters, digits, _ . : -; at most 128)' },
  },
  tasks: {
    type: 'array',
    minItems: 1,
    uniqueItems: true,
    description: 'a non-empty list of task module paths (.js files, relative to the inventory)',
    items: { ...path, description: 'a path of a JavaScript module without control characters (newline, tab, NUL)' },
  },
  config: { ...path, description: 'a path of a JavaScript settings module without control characters (newline, tab, NUL)' },
};

/** One of a host's own processes (`services:`): cross-field rules (names lab sets, the regex) in inventory-sections.ts. */
const userService = {
  type: 'object',
  description: 'a mapping of service settings (command, count, cwd, env, ready, restart, maxRestarts)',
  properties: {
    command: {
      type: 'array',
      minItems: 1,
      description: 'a non-empty list of command words, the program first (never run through a shell)',
      items: { type: 'string', minLength: 1, pattern: PATH_PATTERN, description: 'a non-empty command word without control characters (newline, tab, NUL)' },
    },
    count: { type: 'integer', minimum: 1, maximum: 64, description: 'an integer from 1 to 64' },
    cwd: { type: 'string', pattern: '^/[^\\x00-\\x1f\\x7f]*$', description: 'an absolute path on the host without control characters' },
    env: {
      type: ['object', 'null'],
      description: 'a mapping of environment variable names to values',
      propertyNames: { type: 'string', pattern: ENV_NAME_PATTERN, description: 'an environment variable name (letters, digits, _; not a digit first)' },
      additionalProperties: { type: ['string', 'number', 'boolean'], pattern: '^[^\\x00\\n\\r]*$', description: 'a value on one line (a string, number or boolean)' },
    },
    ready: {
      type: ['integer', 'string', 'object'],
      minimum: 1,
      maximum: 65535,
      minLength: 1,
      description: 'a port number, a log-line regular expression, or a mapping {port | log, timeout}',
      properties: {
        port,
        log: { type: 'string', minLength: 1, description: 'a regular expression matched against each new log line' },
        timeout: { type: 'number', exclusiveMinimum: 0, maximum: 3600, description: 'seconds, more than 0 and at most 3600' },
      },
      additionalProperties: false,
    },
    restart: { enum: [...RESTART_POLICIES], description: oneOf(RESTART_POLICIES) },
    maxRestarts: { type: 'integer', minimum: 0, maximum: 1000, description: 'an integer from 0 to 1000' },
  },
  required: ['command'],
  additionalProperties: false,
};

const host = {
  type: ['object', 'null'],
  description: 'a mapping of host settings',
  properties: {
    roles: {
      type: 'array',
      minItems: 1,
      uniqueItems: true,
      description: `a non-empty list of roles (${ROLES.join(', ')})`,
      items: { enum: [...ROLES], description: oneOf(ROLES) },
    },
    address: {
      type: 'string',
      pattern: HOSTNAME_PATTERN,
      description: 'an IPv4 address like 198.18.0.11 (ssh also takes a host name)',
    },
    ...inheritable,
    image,
    mounts: { type: 'array', items: mount, description: 'a list of mounts' },
    services: {
      type: ['object', 'null'],
      description: 'a mapping of service name to service settings',
      propertyNames: { type: 'string', pattern: SERVICE_NAME_PATTERN, description: 'a service name: a lowercase letter, then up to 30 of a-z, 0-9, -' },
      additionalProperties: userService,
    },
  },
  additionalProperties: false,
};

/** A service that already runs: `external: true` and the name of the environment variable with its URL. */
const externalProps = {
  external: { type: 'boolean', description: 'true or false' },
  url_env: { type: 'string', pattern: '^[A-Za-z_][A-Za-z0-9_]*$', description: 'the name of an environment variable holding the URL (like RABBITMQ_URL), never the URL itself' },
} as const;

export const inventorySchema = {
  $id: 'https://lab.invalid/schema/inventory.json',
  type: 'object',
  description: 'a mapping with provider and hosts',
  properties: {
    lab: { type: 'string', pattern: LAB_NAME_PATTERN, description: 'a lab name: a lowercase letter, then up to 30 of a-z, 0-9, -' },
    provider: { enum: [...PROVIDERS], description: oneOf(PROVIDERS) },
    subnet: { type: 'string', pattern: CIDR_PATTERN, description: 'an IPv4 network in CIDR form like 198.18.0.0/24' },
    defaults: {
      type: ['object', 'null'],
      description: 'a mapping of default host settings',
      properties: inheritable,
      additionalProperties: false,
    },
    hosts: {
      type: 'object',
      minProperties: 1,
      description: 'a mapping of host name to host settings',
      propertyNames: {
        type: 'string',
        pattern: HOSTNAME_PATTERN,
        description: 'a host name of letters, digits, inner hyphens and dots (it goes into /etc/hosts)',
      },
      additionalProperties: host,
    },
    broker: {
      type: ['object', 'null'],
      description: 'a mapping of broker settings (kind, external, url_env)',
      properties: { kind: { enum: [...BROKER_KINDS], description: oneOf(BROKER_KINDS) }, ...externalProps },
      additionalProperties: false,
    },
    backend: {
      type: ['object', 'null'],
      description: 'a mapping of result backend settings (kind, persistence, external, url_env)',
      properties: {
        kind: { enum: [...BACKEND_KINDS], description: oneOf(BACKEND_KINDS) },
        persistence: { type: 'boolean', description: 'true or false' },
        ...externalProps,
      },
      additionalProperties: false,
    },
    links: { enum: [...LINK_MODES], description: `${oneOf(LINK_MODES)} (proxy: peers reach the services through lab's link proxy, which slow-link faults shape)` },
    ports: {
      type: ['object', 'null'],
      description: 'a mapping of service ports (broker, backend, quotes)',
      properties: { broker: port, backend: port, quotes: port },
      additionalProperties: false,
    },
    docker: {
      type: ['object', 'null'],
      description: 'a mapping of docker settings',
      properties: {
        socket: path,
        network: { type: 'string', pattern: NETWORK_PATTERN, description: 'a network name (letters, digits, _ . -)' },
        images: {
          type: 'object',
          description: 'a mapping of images (broker, backend, node)',
          properties: { broker: image, backend: image, node: image },
          additionalProperties: false,
        },
        mounts: { type: 'array', items: mount, description: 'a list of mounts' },
      },
      additionalProperties: false,
    },
  },
  // `x-…` keys are ignored: a place for YAML anchors (x-pi: &pi {user: pi}), as in docker-compose files
  patternProperties: { '^x-': {} },
  required: ['provider', 'hosts'],
  additionalProperties: false,
} as const;

/** How the validator is compiled, at build time (precompile-schema.ts) or, failing that, at run time. */
export const AJV_OPTIONS = { allErrors: true, verbose: true, strict: true, allowUnionTypes: true } as const;

/** The precompiled validator's module, written next to this one by `npm run build`. */
export const PRECOMPILED_VALIDATOR = new URL('./inventory-validator.js', import.meta.url);

/** What the precompiled validator was made from: the schema and the options, as JSON, hashed. */
export function schemaDigest(): string {
  return createHash('sha256').update(JSON.stringify([inventorySchema, AJV_OPTIONS])).digest('hex');
}

/** Compile the schema with ajv (loaded only here: a command that finds the precompiled validator never loads it). */
export async function compileInventoryValidator(extra: Record<string, unknown> = {}): Promise<{ ajv: import('ajv').Ajv; validate: ValidateFunction }> {
  const { Ajv } = await import('ajv');
  const ajv = new Ajv({ ...AJV_OPTIONS, ...extra });
  return { ajv, validate: ajv.compile(inventorySchema) };
}

let compiled: Promise<ValidateFunction> | undefined;

/**
 * The validator (allErrors, verbose: errors carry their schema and data): the one `npm run build` wrote as code when
 * it was made from this very schema, else compiled now. Compiling took 160–230 ms of every inventory-reading
 * command's start on this machine (issue 13).
 */
export function inventoryValidator(): Promise<ValidateFunction> {
  compiled ??= (async () => {
    try {
      const pre = (await import(PRECOMPILED_VALIDATOR.href)) as { digest?: unknown; default?: unknown };
      if (pre.digest === schemaDigest() && typeof pre.default === 'function') return pre.default as ValidateFunction;
    } catch {
      // not built (run from source) or unreadable: compile it
    }
    return (await compileInventoryValidator()).validate;
  })();
  return compiled;
}

/** A path into the inventory data: object keys and array indices. */
export type Seg = string | number;

export interface SchemaIssue {
  path: Seg[];
  /** Point at the key (unknown key, bad host name) or at the value. */
  at: 'key' | 'value';
  message: string;
}

/** What a value looks like, for "got …". */
function describeValue(v: unknown): string {
  if (v === null || v === undefined) return 'nothing';
  if (typeof v === 'string') {
    const s = v.length > 60 ? `${v.slice(0, 57)}...` : v;
    return JSON.stringify(s);
  }
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return v.length === 0 ? 'an empty list' : 'a list';
  if (typeof v === 'object') return 'a mapping';
  return typeof v;
}

function typeWords(t: string | string[]): string {
  const words: Record<string, string> = {
    integer: 'an integer',
    number: 'a number',
    string: 'a string',
    boolean: 'true or false',
    object: 'a mapping',
    array: 'a list',
    null: 'nothing',
  };
  const ts = (Array.isArray(t) ? t : [t]).filter((x) => x !== 'null');
  return ts.map((x) => words[x] ?? x).join(' or ');
}

/** Levenshtein distance (small strings only). */
function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++)
    for (let j = 1; j <= b.length; j++)
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
  return d[a.length]![b.length]!;
}

/** The closest candidate within a small edit distance, for "did you mean …?". */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of candidates) {
    const dist = editDistance(word.toLowerCase(), c.toLowerCase());
    if (dist < bestD) {
      bestD = dist;
      best = c;
    }
  }
  return best !== undefined && bestD <= Math.max(1, Math.min(3, Math.floor(best.length / 3))) ? best : undefined;
}

function decodePointer(p: string): Seg[] {
  if (p === '') return [];
  return p
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

/** Turn ajv's errors into located issues with "expected …, got …" messages. `data` is the validated value. */
export function schemaIssues(errors: readonly ErrorObject[], data: unknown): SchemaIssue[] {
  const out: SchemaIssue[] = [];
  const valueAt = (path: Seg[]): unknown => {
    let v: unknown = data;
    for (const s of path) v = v && typeof v === 'object' ? (v as Record<string, unknown>)[s as string] : undefined;
    return v;
  };
  for (const e of errors) {
    // data paths: ajv gives array indices as strings; turn them into numbers where the parent is an array
    const raw = decodePointer(e.instancePath);
    const path: Seg[] = [];
    for (const s of raw) path.push(Array.isArray(valueAt(path)) && /^\d+$/.test(String(s)) ? Number(s) : s);
    const ps = (e.parentSchema ?? {}) as { description?: string; properties?: Record<string, unknown> };
    const expected = ps.description;
    const got = describeValue(e.data);
    switch (e.keyword) {
      case 'propertyNames':
        break; // the failing name's own error (with propertyName) says it better
      case 'additionalProperties': {
        const prop = (e.params as { additionalProperty: string }).additionalProperty;
        const known = Object.keys(ps.properties ?? {});
        const guess = closest(prop, known);
        out.push({
          path: [...path, prop],
          at: 'key',
          message: `expected one of the keys ${known.join(', ')}, got unknown key ${JSON.stringify(prop)}${guess ? ` (did you mean ${guess}?)` : ''}`,
        });
        break;
      }
      case 'required': {
        const prop = (e.params as { missingProperty: string }).missingProperty;
        out.push({ path: [...path, prop], at: 'value', message: `expected a ${prop} key, got none` });
        break;
      }
      case 'uniqueItems': {
        const { j } = e.params as { i: number; j: number };
        const arr = e.data as unknown[];
        out.push({ path: [...path, j], at: 'value', message: `expected ${expected ?? 'no duplicates'} without duplicates, got ${describeValue(arr[j])} twice` });
        break;
      }
      case 'minItems':
        out.push({ path, at: 'value', message: `expected ${expected ?? 'a non-empty list'}, got ${got}` });
        break;
      case 'minProperties':
        out.push({ path, at: 'value', message: `expected ${expected ?? 'a non-empty mapping'} with at least one entry, got none` });
        break;
      case 'type':
        out.push({ path, at: 'value', message: `expected ${expected ?? typeWords((e.params as { type: string | string[] }).type)}, got ${got}` });
        break;
      default: {
        const propertyName = (e as ErrorObject & { propertyName?: string }).propertyName;
        if (propertyName !== undefined) {
          out.push({ path: [...path, propertyName], at: 'key', message: `expected ${expected ?? 'a valid name'}, got ${describeValue(propertyName)}` });
        } else {
          out.push({ path, at: 'value', message: `expected ${expected ?? e.message ?? e.keyword}, got ${got}` });
        }
      }
    }
  }
  return out;
}
