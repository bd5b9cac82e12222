/**
 * `lab up`: inventory → validated topology → provider brings up the hosts → /etc/hosts everywhere (checked) →
 * RabbitMQ, Redis and the quote server → the workers (ready when a canary task makes the round trip).
 * Idempotent: on a healthy lab nothing is created or restarted and the result says so. Everything created is in
 * the ledger first, so `lab down` can undo it even after `lab up` was killed midway.
 */
import { performance } from 'node:perf_hooks';
import { LabError, ProviderError, hasCode } from '../errors.js';
import { loadInventory } from '../topology/inventory.js';
import { Ledger } from '../topology/ledger.js';
import { acquireLock, ensureStateDir, newState, readState, setActiveLab, stateDir, stateTopology, withExternal, writeState } from '../topology/state.js';
import { checkExternal, externalUrls } from './external-services.js';
import type { LabState } from '../topology/state.js';
import { brokerKindOf, redisPersistenceOf } from '../topology/topology.js';
import type { HostSpec, Topology, UserServiceSpec } from '../topology/topology.js';
import type { PlanStep, ProcessRef, Progress, Provider } from '../providers/provider.js';
import { checkHosts } from '../providers/host-check.js';
import type { HostCheck } from '../providers/host-check.js';
import { withCanaries } from '../services/workers.js';
import { hostCheckRequests } from './host-checks.js';
import type { LabUrls, ServiceContext } from '../services/service.js';
import { differentLab, labUrls, sameShape } from './lab-ref.js';
import { createProvider, planProvider } from './providers.js';
import { userPlacements, userRuns } from '../services/user-services.js';
import { SERVICES, ensureService, ensureUserService, placements, recordedProcess } from './services.js';
import { preloadTransports } from '../queue/index.js';

export interface UpOptions {
  hostsFile: string;
  progress: Progress;
  signal?: AbortSignal;
  install?: boolean;
}

export interface UpResult {
  lab: string;
  provider: string;
  /** False when everything already ran: a second `up` on a healthy lab. */
  changed: boolean;
  durationMs: number;
  state: LabState;
  versions: Record<string, string>;
}

export async function planUp(hostsFile: string): Promise<{ topology: Topology; steps: PlanStep[] }> {
  const topology = await loadInventory(hostsFile);
  // Only "needs root" may be set aside for a plan; any other provider complaint is about the inventory.
  const planned = await planProvider(topology, stateDir(topology.name)).catch((err: unknown) => {
    if (hasCode(err, 'E_NEED_ROOT')) return null;
    throw err;
  });
  const steps: PlanStep[] = planned ?? [{ step: 'provider', detail: `${topology.provider} (needs root)` }];
  if (topology.provider !== 'local') steps.push(...topology.hosts.map((h) => ({ host: h.name, step: '/etc/hosts', detail: topology.hosts.map((o) => `${o.address} ${o.name}`).join(', ') })));
  for (const which of ['broker', 'backend'] as const) {
    const spec = topology[which];
    if (spec?.external) steps.push({ step: which, detail: `external: the ${which} that already runs at $${spec.urlEnv ?? '?'} (checked, never started or stopped)` });
  }
  for (const p of placements(topology)) steps.push({ host: p.host.name, step: p.service.name, detail: p.service.name === 'workers' ? workerPlan(p.host) : `${p.service.name} on ${p.host.address}${p.service.name === 'redis' ? redisPlan(topology) : ''}` });
  for (const u of userPlacements(topology)) steps.push({ host: u.host.name, step: u.spec.name, detail: userPlan(u.spec) });
  return { topology, steps };
}

/** What the lab's Redis is besides the backend, and what it keeps on disk. */
function redisPlan(t: Topology): string {
  return `${brokerKindOf(t) === 'redis' ? ' (backend and broker)' : ''}, ${redisPersistenceOf(t) ? "append-only file fsync'd every second" : 'nothing on disk'}`;
}

/** A user service as --dry-run shows it: its command, instances, readiness and restart policy. */
function userPlan(s: UserServiceSpec): string {
  const ready = s.ready?.port !== undefined ? `port ${s.ready.port}` : s.ready?.log !== undefined ? `log /${s.ready.log}/` : 'running 1 s';
  return `${s.command.join(' ')}${s.count > 1 ? ` × ${s.count}` : ''}; ready: ${ready}; restart ${s.restart} (at most ${s.maxRestarts} failed starts in a row)`;
}

/** The workers' command line as --dry-run shows it: lab's tasks, the inventory's own modules and config. */
function workerPlan(h: HostSpec): string {
  const mods = ['scenarios', ...(h.tasks ?? [])].map((m) => `-A ${m}`).join(' ');
  return `lab worker ${mods}${h.config ? ` --config ${h.config}` : ''} -c ${h.concurrency} -P ${h.pool} -Q ${h.queues.join(',')}`;
}

/**
 * /etc/hosts on every host names every host; then each host must resolve every other to its address. The lookup
 * rides in the host's one batched check (providers/host-check.ts) with its recorded processes: one round trip per
 * host, all hosts at once; the checks are returned for the services' "still running?".
 */
async function hostsEverywhere(provider: Provider, topology: Topology, ledger: Ledger, progress: Progress, urls: LabUrls): Promise<Map<string, HostCheck>> {
  const keys = [...placements(topology).map((p) => p.service.key(p.host.name)), ...userPlacements(topology).flatMap((u) => userRuns({ provider, topology, urls }, u).map((r) => r.key))];
  const names = topology.hosts.map((o) => o.name);
  const requests = hostCheckRequests(topology, ledger, keys, topology.provider === 'local' ? {} : { resolve: names });
  if (topology.provider === 'local') return checkHosts(provider, requests);
  const entries = topology.hosts.map((h) => ({ address: h.address, names: [h.name] }));
  await Promise.all(topology.hosts.map((h) => provider.writeHosts(h.name, entries)));
  const found = await checkHosts(provider, requests);
  const checks = topology.hosts.map((h) => {
    const c = found.get(h.name)!;
    if (!c.reachable) throw new ProviderError(`cannot run commands on ${h.name}: ${c.detail}`, { host: h.name, code: 'E_HOST_DOWN' });
    const res = c.getent ?? { exitCode: -1, output: '' };
    const seen = new Map<string, string>();
    for (const line of res.output.split('\n')) {
      const [addr, ...aliases] = line.trim().split(/\s+/);
      for (const a of aliases) seen.set(a.toLowerCase(), addr);
    }
    for (const other of topology.hosts) {
      const got = seen.get(other.name.toLowerCase());
      if (got !== other.address) {
        throw new ProviderError(`${other.name} does not resolve to ${other.address} on ${h.name} (getent: ${got ?? (res.output.trim() || 'no answer')})`, { host: h.name, code: 'E_RESOLVE' });
      }
    }
    progress({ host: h.name, step: '/etc/hosts', status: 'info', detail: `resolves ${names.join(', ')}` });
    return c;
  });
  return new Map(checks.map((c) => [c.host, c]));
}

/**
 * Workers hosts started at once on a cold up: each boots a Node worker pool, and ten booting together on a small
 * machine would push their canaries past the deadline; a few at a time still overlap most of the wait.
 */
const WORKER_STARTS_AT_ONCE = 3;

/** fn over items, at most `limit` at a time. */
async function eachLimited<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) await fn(items[next++]!);
  }));
}

export async function labUp(o: UpOptions): Promise<UpResult> {
  const t0 = performance.now();
  const topology = await loadInventory(o.hostsFile);
  for (const w of topology.warnings) o.progress({ step: 'inventory', status: 'info', detail: `warning: ${w}`, warning: true });
  // Services that already run are checked before anything is created: refused credentials start nothing.
  const external = externalUrls(topology);
  if (external.broker || external.backend) await checkExternal(topology, external, o.progress);
  // Planning checks what only the provider can (root, images per role, names in use) before anything is created.
  await planProvider(topology, stateDir(topology.name), { install: o.install });
  const dir = await ensureStateDir(topology.name);
  const release = await acquireLock(dir, topology.name);
  let state: LabState | null = null;
  try {
    const existing = await readState(dir);
    if (existing && !sameShape(stateTopology(existing), topology)) throw differentLab(topology.name, existing.inventoryPath);
    state = existing ? withExternal(existing, external) : newState(topology, undefined, external);
    state = await writeState(dir, { ...state, status: state.status === 'up' ? 'up' : 'creating' });
    await setActiveLab(topology.name);
    const ledger = await Ledger.open(dir);
    const provider = await createProvider(topology, dir, ledger, { install: o.install });
    const progress = o.progress;
    try {
      // faults a crashed lab process left applied are healed before anything else (lab/faults/leftovers.ts)
      const { healLeftoverFaults } = await import('../faults/leftovers.js');
      for (const line of (await healLeftoverFaults({ name: topology.name, provider, ledger, topology })).lines) progress({ step: 'faults', status: 'info', detail: line, warning: true });
      // the logins and canaries below need amqplib and ioredis: loaded while the provider waits on its commands
      const here = labUrls(state, topology);
      preloadTransports([here.brokerHere, here.backendHere]);
      let { changed } = await provider.up({ state, progress, signal: o.signal });
      const checks = await hostsEverywhere(provider, topology, ledger, progress, here);
      const alive = (ref: ProcessRef): Promise<boolean> => checks.get(ref.host)?.alive(ref) ?? provider.alive(ref);
      const ctx: ServiceContext = { provider, topology, state, urls: here, progress };
      // RabbitMQ, Redis and the quote server start together; the workers need the first two.
      const first = placements(topology, SERVICES.filter((s) => s.name !== 'workers'));
      const workers = placements(topology, SERVICES.filter((s) => s.name === 'workers'));
      const refs = new Map<string, Awaited<ReturnType<typeof ensureService>>>();
      const ensure = async (p: (typeof first)[number]): Promise<void> => void refs.set(p.service.key(p.host.name), await ensureService(ctx, ledger, p, alive));
      // When the broker and backend already run, the workers' check need not wait for theirs: all at once.
      const allRunning = await Promise.all([...first, ...workers].map(async (p) => {
        const ref = recordedProcess(ledger, p);
        return ref !== null && (await alive(ref));
      }));
      // the workers' canaries share one client (workers.ts): a canary another host's worker took counts for that host
      await withCanaries(ctx, async () => {
        if (allRunning.every(Boolean)) await Promise.all([...first, ...workers].map(ensure));
        else {
          await Promise.all(first.map(ensure));
          await eachLimited(workers, WORKER_STARTS_AT_ONCE, ensure);
        }
      });
      // the user's own services (inventory services:) after lab's, all at once
      const own = await Promise.all(userPlacements(topology).map((u) => ensureUserService(ctx, ledger, u, alive)));
      changed ||= [...refs.values()].some((r) => r.started) || own.some((r) => r.started);
      const versions: Record<string, string> = {};
      const known = state.versions ?? {};
      // a service's version once (the first host that tells), all services at once
      const byService = new Map<string, (typeof first)[number][]>();
      for (const p of placements(topology)) if (p.service.version) byService.set(p.service.name, [...(byService.get(p.service.name) ?? []), p]);
      await Promise.all([...byService].map(async ([name, ps]) => {
        // the processes that told it last time still run (none was started now): their version has not changed
        if (known[name] && ps.every((p) => refs.get(p.service.key(p.host.name))?.started === false)) return void (versions[name] = known[name]);
        for (const p of ps) {
          const v = await p.service.version?.(ctx, p.host, refs.get(p.service.key(p.host.name))?.ref ?? null).catch(() => undefined);
          if (v) return void (versions[name] = v);
        }
      }));
      state = await writeState(dir, { ...state, status: 'up', versions });
      return { lab: topology.name, provider: topology.provider, changed, durationMs: performance.now() - t0, state, versions };
    } finally {
      await provider.close();
    }
  } catch (err) {
    if (state) await writeState(dir, { ...state, status: 'failed' }).catch(() => undefined);
    if (err instanceof LabError) throw err;
    throw new ProviderError(`lab up failed: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  } finally {
    await release();
  }
}
