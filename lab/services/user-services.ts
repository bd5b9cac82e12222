/**
 * The user's own processes on the lab's hosts (inventory `services:`): started after lab's services, supervised
 * like them (supervision.ts), with the lab's URLs in their environment (serviceEnv: LAB_BROKER_URL, LAB_BACKEND_URL,
 * LAB_QUOTES_URL, CELERY_BROKER_URL, CELERY_RESULT_BACKEND — never on their command line), their output in
 * <work directory>/logs/<name>.log (instance i of several: <name>-<i>.log), and ready when their check says so.
 *
 * Under lab's supervisor a service is one ledger entry (the supervisor of all its instances); where systemd or
 * nothing supervises, each instance has an entry of its own (svc:<HOST>:<name>#<i>).
 */
import { ServiceError } from '../errors.js';
import type { ProcessRef } from '../providers/provider.js';
import type { HostSpec, Topology, UserServiceSpec } from '../topology/topology.js';
import { serviceEnv, waitPort } from './service.js';
import type { ServiceContext } from './service.js';
import { instanceLogFile } from './supervisor.js';
import { readSupervisorStatus, startService, supervisePaths } from './supervision.js';
import type { ServiceRun, SupervisionMode } from './supervision.js';

export interface UserPlacement {
  host: Readonly<HostSpec>;
  spec: Readonly<UserServiceSpec>;
}

/** Every host's own services, in inventory order. */
export function userPlacements(topology: Topology): UserPlacement[] {
  return topology.hosts.flatMap((host) => (host.services ?? []).map((spec) => ({ host, spec })));
}

/** The ledger key of a user service (its supervisor), or of instance i where each instance has its own entry. */
export function userServiceKey(host: string, name: string, index?: number): string {
  return `svc:${host}:${name}${index === undefined ? '' : `#${index}`}`;
}

/** One start of a user service: the key it is recorded under and what runs. */
export interface UserInstanceRun {
  key: string;
  /** Instance index, or undefined for lab's supervisor (which runs them all). */
  index?: number;
  run: ServiceRun;
}

/** How a user service is started on its host: one supervisor (lab), else one entry per instance. */
export function userRuns(ctx: Pick<ServiceContext, 'provider' | 'topology' | 'urls'>, p: UserPlacement): UserInstanceRun[] {
  const info = ctx.provider.host(p.host.name);
  const s = p.spec;
  const logFile = `${info.workDir}/logs/${s.name}.log`;
  const env = { ...serviceEnv(ctx.urls, ctx.topology.name), ...s.env };
  const ready: ServiceRun['ready'] = s.ready?.port !== undefined ? { port: s.ready.port, addresses: [info.address, '127.0.0.1'] } : s.ready?.log !== undefined ? { log: s.ready.log } : undefined;
  const base: ServiceRun = { key: userServiceKey(p.host.name, s.name), name: s.name, host: p.host.name, command: [...s.command], cwd: s.cwd ?? info.workDir, env, logFile, restart: s.restart, maxRestarts: s.maxRestarts };
  if (ready) base.ready = ready;
  if (info.supervisor === 'lab') return [{ key: base.key, run: { ...base, count: s.count } }];
  if (s.count === 1) return [{ key: base.key, index: 0, run: { ...base, env: { ...env, ...instanceEnv(s, 0) } } }];
  return Array.from({ length: s.count }, (_, i) => {
    const run: ServiceRun = { ...base, key: userServiceKey(p.host.name, s.name, i), name: `${s.name}-${i}`, logFile: instanceLogFile(logFile, s.count, i), env: { ...env, ...instanceEnv(s, i) } };
    if (ready?.port !== undefined) run.ready = { ...ready, port: ready.port + i };
    return { key: run.key, index: i, run };
  });
}

/** What lab's supervisor adds for each instance, added by hand where it does not run. */
function instanceEnv(s: Readonly<UserServiceSpec>, i: number): Record<string, string> {
  const env: Record<string, string> = { LAB_SERVICE_NAME: s.name, LAB_SERVICE_INDEX: String(i) };
  if (s.ready?.port !== undefined) env.LAB_SERVICE_PORT = String(s.ready.port + i);
  return env;
}

/** The log files of a user service on its host (one per instance when several). */
export function userLogFiles(ctx: Pick<ServiceContext, 'provider'>, p: UserPlacement): string[] {
  const logFile = `${ctx.provider.host(p.host.name).workDir}/logs/${p.spec.name}.log`;
  return p.spec.count <= 1 ? [logFile] : [logFile, ...Array.from({ length: p.spec.count }, (_, i) => instanceLogFile(logFile, p.spec.count, i))];
}

async function logTail(ctx: ServiceContext, host: string, files: string[]): Promise<string> {
  const parts: string[] = [];
  for (const f of files) {
    const t = (await ctx.provider.readFile(host, f, { tailBytes: 2000 }).catch(() => Buffer.alloc(0))).toString('utf8').trim();
    if (t) parts.push(`--- last lines of ${f} on ${host} ---\n${t.split('\n').slice(-12).join('\n')}`);
  }
  return parts.length ? `\n${parts.join('\n')}` : '';
}

/**
 * Wait until a user service is ready: lab's supervisor says so in its status (every instance ready), or — where
 * it does not run — its port opens / its log says so / it keeps running for a second, checked from here. Fails,
 * naming the service, with its restarts, last exit and the tail of its log, when its policy gave up, when it exited
 * (unsupervised), or when the wait is over.
 */
export async function userServiceReady(ctx: ServiceContext, p: UserPlacement, started: { key: string; index?: number; ref: ProcessRef }[], mode: SupervisionMode): Promise<void> {
  const host = p.host.name;
  const s = p.spec;
  const timeoutMs = s.ready?.timeoutMs ?? 60_000;
  const deadline = Date.now() + timeoutMs;
  const files = userLogFiles(ctx, p);
  const step = `${s.name}: ${s.ready?.port !== undefined ? `port ${s.ready.port}${s.count > 1 ? ` + instance` : ''}` : s.ready?.log !== undefined ? `log line /${s.ready.log}/` : 'running for a second'}`;
  ctx.progress({ host, step, status: 'start' });
  const fail = async (why: string, code: 'E_NOT_READY' | 'E_PROCESS_EXITED' = 'E_NOT_READY'): Promise<never> => {
    ctx.progress({ host, step, status: 'fail', detail: why });
    throw new ServiceError(`service ${s.name} did not start: ${why}${await logTail(ctx, host, files)}`, { host, code });
  };
  if (mode === 'lab') {
    const ref = started[0]!.ref;
    const statusFile = supervisePaths(ctx.provider.host(host).workDir, s.name).status;
    for (let delay = 50; ; delay = Math.min(500, delay * 2)) {
      const st = await readSupervisorStatus(ctx.provider, host, statusFile);
      const restarts = st ? st.instances.reduce((n, i) => n + i.restarts, 0) : 0;
      if (st?.state === 'ready') break;
      if (st?.state === 'failed') return fail(st.reason ?? `failed after ${restarts} restarts`, 'E_PROCESS_EXITED');
      if (st?.state === 'exited') return fail(`exited (code 0) and restart is ${s.restart}`, 'E_PROCESS_EXITED');
      if (!(await ctx.provider.alive(ref))) {
        const again = await readSupervisorStatus(ctx.provider, host, statusFile);
        if (again?.state === 'ready') break;
        return fail(again?.reason ?? `its supervisor exited (${again?.state ?? 'no status'}, ${restarts} restarts)`, 'E_PROCESS_EXITED');
      }
      if (Date.now() > deadline) {
        const last = st?.instances.map((i) => i.lastExit).find((x) => x !== null);
        return fail(`not ready within ${Math.round(timeoutMs / 1000)} s (${st?.state ?? 'starting'}; restarted ${restarts} time${restarts === 1 ? '' : 's'}${last ? `; last exit ${last.signal ? `by ${last.signal}` : `code ${last.code}`}` : ''})`);
      }
      await new Promise((r) => setTimeout(r, delay));
    }
  } else {
    const info = ctx.provider.host(host);
    for (const { ref, index } of started) {
      const i = index ?? 0;
      const stillRunning = (): Promise<boolean> => ctx.provider.alive(ref);
      const left = (): number => Math.max(1000, deadline - Date.now());
      try {
        if (s.ready?.port !== undefined) await waitPort(info.address, s.ready.port + i, left(), stillRunning);
        else if (s.ready?.log !== undefined) {
          const re = new RegExp(s.ready.log);
          for (let delay = 50; ; delay = Math.min(500, delay * 2)) {
            const text = (await ctx.provider.readFile(host, ref.logFile, { tailBytes: 65_536 }).catch(() => Buffer.alloc(0))).toString('utf8');
            if (text.split('\n').some((l) => re.test(l))) break;
            if (!(await stillRunning())) throw new ServiceError('the process exited', { code: 'E_PROCESS_EXITED' });
            if (Date.now() > deadline) throw new ServiceError(`no log line matched within ${Math.round(timeoutMs / 1000)} s`);
            await new Promise((r) => setTimeout(r, delay));
          }
        } else {
          await new Promise((r) => setTimeout(r, 1000));
          if (!(await stillRunning())) throw new ServiceError('the process exited', { code: 'E_PROCESS_EXITED' });
        }
      } catch (err) {
        const why = err instanceof Error ? err.message : String(err);
        return fail(`${s.count > 1 ? `instance ${i}: ` : ''}${why}${mode === 'none' ? ' (unsupervised on this host: not restarted)' : ''}`, err instanceof ServiceError && err.code === 'E_PROCESS_EXITED' ? 'E_PROCESS_EXITED' : 'E_NOT_READY');
      }
    }
  }
  ctx.progress({ host, step, status: 'done' });
}

/** Start every instance of a user service (lab: its supervisor); resolves with what the ledger recorded. */
export async function startUserService(ctx: ServiceContext, p: UserPlacement): Promise<{ key: string; index?: number; ref: ProcessRef }[]> {
  const out: { key: string; index?: number; ref: ProcessRef }[] = [];
  for (const r of userRuns(ctx, p)) out.push({ key: r.key, ...(r.index !== undefined ? { index: r.index } : {}), ref: await startService(ctx.provider, ctx.topology.name, r.run) });
  return out;
}
