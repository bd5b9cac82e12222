/**
 * Where the broker and backend are, for the commands that talk to them (worker, call, purge, result).
 *
 * The sources, in order: the flags (--broker, --backend), the environment (LAB_BROKER_URL, LAB_BACKEND_URL), a
 * config module (--config ./config.js: BROKER_URL, CELERY_RESULT_BACKEND), the active lab. The first three are the
 * user's own words; each URL comes from the first of them that gives it. The active lab is asked only when the user
 * gave neither URL — then both come from it. So a URL the user gave never pairs with the active lab's other one:
 * a broker given alone has no backend (results are off, and `--wait` says why), never another lab's Redis.
 */
import { UsageError, maskUrl } from '../errors.js';
import { activeLab, backendUrl, brokerUrl, readState, stateDir } from '../topology/state.js';

/** Where one URL came from: what `-v` prints after it. */
export interface UrlOrigin {
  source: 'flag' | 'env' | 'config' | 'lab' | 'none';
  /** "--broker", "LAB_BACKEND_URL", "--config ./config.js", "the active lab \"book\"", or why there is none. */
  detail: string;
}

export interface Urls {
  broker: string | null;
  backend: string | null;
  brokerFrom: UrlOrigin;
  backendFrom: UrlOrigin;
}

/** The URLs a --config module set (undefined: not set; a backend of null: results explicitly off). */
export interface ConfigUrls {
  file: string;
  broker?: string;
  backend?: string | null;
}

/** Everything the choice depends on; `lab.urls` is read only when the user gave no URL at all. */
export interface UrlInputs {
  flags: { broker?: string; backend?: string };
  env: { broker?: string; backend?: string };
  config?: ConfigUrls | null;
  lab?: { name: string; urls: { broker: string; backend: string } | null } | null;
}

interface Given {
  value: string | null;
  origin: UrlOrigin;
}

const given = (v: string | null | undefined): boolean => v !== undefined && v !== '';

/** Does any of the user's own sources (flags, env, config module) give a broker or a backend? */
export function userGaveUrls(i: Omit<UrlInputs, 'lab'>): boolean {
  return [i.flags.broker, i.flags.backend, i.env.broker, i.env.backend, i.config?.broker, i.config?.backend].some(given);
}

/** The choice itself (no I/O): see the top of this file. */
export function chooseUrls(i: UrlInputs): Urls {
  const lab = i.lab ?? null;
  if (!userGaveUrls(i)) {
    if (lab?.urls) {
      const origin: UrlOrigin = { source: 'lab', detail: `the active lab "${lab.name}"` };
      return { broker: lab.urls.broker, backend: lab.urls.backend, brokerFrom: origin, backendFrom: origin };
    }
    const why = lab ? `the active lab "${lab.name}" has no state (run lab up again, or lab down)` : 'none given and no lab is up';
    return { broker: null, backend: null, brokerFrom: { source: 'none', detail: why }, backendFrom: { source: 'none', detail: why } };
  }
  const pick = (which: 'broker' | 'backend'): Given | null => {
    const flag = which === 'broker' ? '--broker' : '--backend';
    const env = which === 'broker' ? 'LAB_BROKER_URL' : 'LAB_BACKEND_URL';
    if (given(i.flags[which])) return { value: i.flags[which]!, origin: { source: 'flag', detail: flag } };
    if (given(i.env[which])) return { value: i.env[which]!, origin: { source: 'env', detail: env } };
    const c = i.config;
    if (c && c[which] !== undefined && c[which] !== '') return { value: c[which] ?? null, origin: { source: 'config', detail: `--config ${c.file}` } };
    return null;
  };
  const broker = pick('broker');
  const backend = pick('backend');
  const notPaired = lab ? `; the active lab's ${broker ? 'backend' : 'broker'} is never paired with a URL you gave` : '';
  return {
    broker: broker?.value ?? null,
    backend: backend?.value ?? null,
    brokerFrom: broker?.origin ?? { source: 'none', detail: backend!.value ? `only a backend was given, by ${backend!.origin.detail}${notPaired}` : `not given (${backend!.origin.detail} names no broker)${notPaired}` },
    backendFrom: backend?.origin ?? { source: 'none', detail: `only a broker was given, by ${broker!.origin.detail}${notPaired}` },
  };
}

/** LAB_BROKER_URL / LAB_BACKEND_URL (empty means unset). */
export function envUrls(env: NodeJS.ProcessEnv = process.env): { broker?: string; backend?: string } {
  return { broker: env.LAB_BROKER_URL || undefined, backend: env.LAB_BACKEND_URL || undefined };
}

/** Resolve both URLs: the user's sources first; the active lab's state is read only when they gave none. */
export async function resolveUrls(flags: { broker?: string; backend?: string }, options: { config?: ConfigUrls | null; env?: NodeJS.ProcessEnv } = {}): Promise<Urls> {
  const base = { flags: { broker: flags.broker, backend: flags.backend }, env: envUrls(options.env), config: options.config ?? null };
  // The active lab as lab-ref's findLab(undefined) finds it, without loading lab-ref (providers, services): a
  // worker process reads its URLs here and needs nothing else of the orchestrator.
  const name = await activeLab();
  let lab: UrlInputs['lab'] = name ? { name, urls: null } : null;
  if (name && !userGaveUrls(base)) {
    const state = await readState(stateDir(name));
    if (state) lab = { name, urls: { broker: brokerUrl(state, { byAddress: true }), backend: backendUrl(state, { byAddress: true }) } };
  }
  return chooseUrls({ ...base, lab });
}

/** What -v prints: one line per URL, its password masked, and where it came from. */
export function urlSourceLines(u: Urls): string[] {
  const line = (name: string, url: string | null, from: UrlOrigin): string => (url ? `${name} ${maskUrl(url)} (from ${from.detail})` : `${name} none (${from.detail})`);
  return [line('broker ', u.broker, u.brokerFrom), line('backend', u.backend, u.backendFrom)];
}

/** The broker, or a usage error that says which sources were tried and why none applied. */
export function requireBroker(u: Urls): string {
  if (u.broker) return u.broker;
  if (u.brokerFrom.source === 'none' && u.backend) {
    throw new UsageError(`no broker: ${u.brokerFrom.detail}; pass --broker too (or set LAB_BROKER_URL)`);
  }
  throw new UsageError(`no broker (${u.brokerFrom.detail}): pass --broker amqp://user:pass@HOST1//, set LAB_BROKER_URL, give --config a module with BROKER_URL, or bring a lab up (lab up --hosts hosts.yaml)`);
}

/** The backend, or a usage error naming what needed it (`--wait`, `lab result`) and why there is none. */
export function requireBackend(u: Urls, what: string): string {
  if (u.backend) return u.backend;
  const how = 'pass --backend redis://HOST2:6379/0 (or set LAB_BACKEND_URL)';
  if (u.backendFrom.source === 'config') throw new UsageError(`${what} needs a result backend, and ${u.backendFrom.detail} turns results off (CELERY_RESULT_BACKEND is empty): ${how}`);
  throw new UsageError(`${what} needs a result backend, and there is none: ${u.backendFrom.detail}; ${how}`);
}
