/**
 * Applying and healing one fault, with the lab's ledger as the record: a fault is written to the ledger (kind
 * `fault`, key fault:<id>, with the steps that heal it and the lab process that owns it) BEFORE it is applied, and
 * removed once healed. So a fault is always healed — at its end, on Ctrl-C, on `lab down`, and after a crash of
 * the lab process that applied it: the next lab command touching the lab (up, down, run, status, fault) finds its
 * entry, sees its owner gone and heals it (healLeftovers).
 *
 * How each kind is applied, on any provider, through the Provider interface only:
 *   kill       SIGKILL the service's processes (instances and their children); its supervisor restarts it — the
 *              time until it is ready again is the fault's recoveryMs
 *   restart    SIGTERM the service's instances; the supervisor starts them again (recoveryMs)
 *   pause      SIGSTOP the service's processes; heal: SIGCONT (each by pid + start time)
 *   partition  iptables DROP both ways inside the host's network namespace (netns: the lab's namespace; ssh: the
 *              host, through sudo; docker: the container's namespace, which needs NET_ADMIN — refused otherwise);
 *              heal: the same rules deleted (each tagged with a comment lab-fault:<lab>:<id>)
 *   slow       with `links: proxy`, a rule for lab's link proxy on every service host (proxy-slow.ts): the connections
 *              that cross the host's link are delayed (and capped) as netem would; heal: the rule files removed.
 *              Otherwise tc netem on the host's interface where the kernel has it; refused where it does not (netem.ts)
 */
import { randomBytes } from 'node:crypto';
import { hasCode } from '../errors.js';
import { refOf } from '../providers/provider.js';
import type { Provider } from '../providers/provider.js';
import type { Ledger, LedgerEntry } from '../topology/ledger.js';
import { checkProcess, processIdentity } from '../topology/proc.js';
import type { ProcessIdentity } from '../topology/proc.js';
import type { Topology } from '../topology/topology.js';
import { FaultError, LASTING_KINDS } from './fault.js';
import type { Fault, FaultKind } from './fault.js';
import { runStep, StepError } from './fault-steps.js';
import type { FaultStep } from './fault-steps.js';
import { hostName, serviceEntries, serviceProcs, waitRecovered } from './fault-targets.js';
import type { ServiceProcs } from './fault-targets.js';
import { linkProxyHosts, linkRulesDir } from '../services/link-proxy-service.js';
import type { ShapingRule } from '../services/link-shaping.js';
import { linksOf } from '../topology/topology.js';
import { proxySlowSteps } from './proxy-slow.js';
import { NETEM_GONE, netemAddArgv, netemDelArgv, netemMissing } from './netem.js';

export const FAULT_LEDGER_KIND = 'fault';

export interface FaultContext {
  lab: string;
  provider: Provider;
  ledger: Ledger;
  topology: Topology;
  /**
   * Start again a service nothing supervises on its host (a docker lab's RabbitMQ and Redis: their images have no
   * Node and no systemd) once a kill or restart has stopped it — what `lab up` would do for it — and resolve when it
   * is ready. Without it, such a service stays down and its recovery is null.
   */
  restartUnsupervised?: (entry: LedgerEntry, signal?: AbortSignal) => Promise<void>;
}

/** A fault's ledger entry data. */
export interface FaultRecord {
  id: string;
  kind: FaultKind;
  text: string;
  mechanism: string;
  /** The lab process that applies and will heal it; null for a fault held on purpose (`lab fault` without --for). */
  owner: ProcessIdentity | null;
  startedAt: string;
  /** What heals it, in order. Empty for kill and restart (the supervisor brings the service back). */
  heal: FaultStep[];
}

export interface AppliedFault {
  record: FaultRecord;
  /** In words: what was signalled, which rules were added. */
  applied: string[];
  /** kill / restart of a supervised service: resolves with the time to recover (ms) or null. */
  recovery?: Promise<number | null>;
}

const RULE_GONE = 'Bad rule|does a matching rule exist|No chain/target/match by that name';

export function newFaultId(): string {
  return randomBytes(4).toString('hex');
}

/** The comment that tags a partition's iptables rules: found again by `lab down --discover` too. */
export function ruleComment(lab: string, id: string): string {
  return `lab-fault:${lab}:${id}`;
}

function iptables(action: '-I' | '-D', chain: 'INPUT' | 'OUTPUT', peer: string, comment: string): string[] {
  return ['iptables', '-w', action, chain, chain === 'INPUT' ? '-s' : '-d', peer, '-m', 'comment', '--comment', comment, '-j', 'DROP'];
}

/** The partition's rules on `host` (both directions to/from `peer`): apply and heal steps. */
export function partitionSteps(host: string, peer: string, comment: string, sudo: boolean): { apply: FaultStep[]; heal: FaultStep[] } {
  const what = (chain: string): string => `iptables ${chain} DROP ${chain === 'INPUT' ? 'from' : 'to'} ${peer} (${comment})`;
  const apply: FaultStep[] = (['INPUT', 'OUTPUT'] as const).map((c) => ({ op: 'exec', host, argv: iptables('-I', c, peer, comment), sudo, what: what(c) }));
  const heal: FaultStep[] = (['INPUT', 'OUTPUT'] as const).map((c) => ({ op: 'exec', host, argv: iptables('-D', c, peer, comment), sudo, tolerate: RULE_GONE, what: `deleted ${what(c)}` }));
  return { apply, heal };
}

/** The interface a host's lab traffic leaves by: eth0 in a netns or docker host; on an ssh host the route's. */
async function linkDevice(ctx: FaultContext, host: string): Promise<string> {
  if (ctx.provider.kind !== 'ssh') return 'eth0';
  const peer = ctx.topology.hosts.find((h) => h.name !== host)?.address ?? '8.8.8.8';
  const r = await ctx.provider.exec(host, ['ip', '-o', 'route', 'get', peer]);
  const dev = / dev (\S+)/.exec(r.stdout)?.[1];
  if (!dev) throw new FaultError('E_FAULT', `slow ${host}: cannot tell which interface reaches ${peer}: ${r.stderr.trim()}`);
  return dev;
}

function signalSteps(procs: ServiceProcs, which: 'roots' | 'tree', signal: NodeJS.Signals, sudo: boolean): FaultStep[] {
  return [{ op: 'signal', host: procs.host, signal, sudo, procs: procs[which].map((p) => ({ pid: p.pid, startTime: p.startTime, what: `${procs.service} ${p.comm}` })) }];
}

async function record(ctx: FaultContext, fault: Fault, id: string, mechanism: string, heal: FaultStep[], held: boolean): Promise<FaultRecord> {
  const owner = held ? null : await processIdentity(process.pid);
  const rec: FaultRecord = { id, kind: fault.kind, text: fault.text, mechanism, owner, startedAt: new Date().toISOString(), heal };
  await ctx.ledger.record(FAULT_LEDGER_KIND, `fault:${id}`, rec as unknown as Record<string, unknown>);
  return rec;
}

/** Apply steps; if one fails, heal what was recorded and rethrow (the fault never half-stays). */
async function applyOrHeal(ctx: FaultContext, rec: FaultRecord, steps: FaultStep[]): Promise<string[]> {
  const done: string[] = [];
  try {
    for (const s of steps) done.push(await runStep(ctx.provider, s));
  } catch (err) {
    await healEntry(ctx, rec).catch(() => undefined);
    throw err;
  }
  await ctx.ledger.markDone(`fault:${rec.id}`);
  return done;
}

/**
 * Apply one fault now. `held`: a lasting fault with no end of its own (`lab fault pause … ` without --for),
 * healed only by `lab fault heal` or `lab down`, not as a crashed run's leftover.
 */
export async function applyFault(ctx: FaultContext, fault: Fault, options: { id?: string; held?: boolean; recoveryTimeoutMs?: number; signal?: AbortSignal } = {}): Promise<AppliedFault> {
  const id = options.id ?? newFaultId();
  const held = options.held === true && LASTING_KINDS.includes(fault.kind);
  const sudo = ctx.provider.kind === 'ssh';
  switch (fault.kind) {
    case 'kill':
    case 'restart': {
      const entries = serviceEntries(ctx.ledger, ctx.topology, fault.service!);
      const procs = await Promise.all(entries.map((e) => serviceProcs(ctx.provider, e)));
      const rec = await record(ctx, fault, id, 'signals', [], false);
      const since = Date.now();
      const steps = procs.flatMap((p) => (fault.kind === 'kill' ? signalSteps(p, 'tree', 'SIGKILL', sudo) : signalSteps(p, 'roots', 'SIGTERM', sudo)));
      const applied = await applyOrHeal(ctx, rec, steps);
      // nothing to heal: the supervisor brings it back; the entry goes now
      await ctx.ledger.remove(`fault:${id}`);
      const timeout = options.recoveryTimeoutMs ?? 120_000;
      const restart = ctx.restartUnsupervised;
      const back = (p: ServiceProcs): Promise<number | null> =>
        p.mode === 'none' && restart ? restartedByLab(ctx.provider, p, restart, since, timeout, options.signal) : waitRecovered(ctx.provider, p, since, timeout, options.signal);
      for (const p of procs) if (p.mode === 'none') applied.push(restart ? `${p.service}@${p.host} is unsupervised there: lab starts it again once it has stopped` : `${p.service}@${p.host} is unsupervised there: it stays down (lab up starts it again)`);
      const recovery = Promise.all(procs.map(back)).then((ms) => (ms.some((x) => x === null) ? null : Math.max(...ms.map((x) => x!))));
      return { record: rec, applied, recovery };
    }
    case 'pause': {
      const entries = serviceEntries(ctx.ledger, ctx.topology, fault.service!);
      const procs = await Promise.all(entries.map((e) => serviceProcs(ctx.provider, e)));
      const rec = await record(ctx, fault, id, 'signals', procs.flatMap((p) => signalSteps(p, 'tree', 'SIGCONT', sudo)), held);
      const applied = await applyOrHeal(ctx, rec, procs.flatMap((p) => signalSteps(p, 'tree', 'SIGSTOP', sudo)));
      return { record: rec, applied };
    }
    case 'partition': {
      if (ctx.provider.kind === 'local') throw new FaultError('E_FAULT_REFUSED', `partition: the hosts of a local lab are this machine; there is no link between them to cut (use a netns, ssh or docker lab)`);
      const host = hostName(ctx.topology, fault.host!);
      const from = hostName(ctx.topology, fault.from!);
      const peer = ctx.topology.host(from)!.address;
      const steps = partitionSteps(host, peer, ruleComment(ctx.lab, id), ctx.provider.kind === 'ssh');
      const rec = await record(ctx, fault, id, 'iptables', steps.heal, held);
      try {
        return { record: rec, applied: await applyOrHeal(ctx, rec, steps.apply) };
      } catch (err) {
        const missing = hasCode(err, 'E_COMMAND_NOT_FOUND');
        if (ctx.provider.kind === 'docker' && (err instanceof StepError || missing)) {
          const why = err instanceof StepError ? (err.stderr.trim().split('\n')[0] ?? '') : 'command not found: iptables';
          const hint = missing || /not found|No such file/i.test(why)
            ? `${host}'s image has no iptables (the node image of \`lab images build\` has it; the broker's and backend's do not): partition a host whose image has it, e.g. \`partition HOST3 from ${from}\``
            : `${host}'s container may lack NET_ADMIN (lab gives it to the containers it makes; one made by an older lab: lab down, lab up)`;
          throw new FaultError('E_FAULT_REFUSED', `partition ${host} from ${from}: iptables does not work in ${host}'s container (${why}); ${hint}`);
        }
        throw err;
      }
    }
    case 'slow': {
      if (ctx.provider.kind === 'local') throw new FaultError('E_FAULT_REFUSED', `slow: the hosts of a local lab are this machine; there is no link of theirs to slow`);
      const host = hostName(ctx.topology, fault.host!);
      if (linksOf(ctx.topology) === 'proxy') {
        const rule: ShapingRule = { id, address: ctx.topology.host(host)!.address, delayMs: fault.delayMs! };
        if (fault.rateBytesPerS !== undefined) rule.rateBytesPerS = fault.rateBytesPerS;
        const dirs = linkProxyHosts(ctx.topology).map((h) => ({ host: h.name, dir: linkRulesDir(ctx.provider, h.name) }));
        const steps = proxySlowSteps(dirs, rule, host);
        const rec = await record(ctx, fault, id, 'proxy', steps.heal, held);
        return { record: rec, applied: await applyOrHeal(ctx, rec, steps.apply) };
      }
      const dev = await linkDevice(ctx, host);
      const sudo = ctx.provider.kind === 'ssh';
      const heal: FaultStep[] = [{ op: 'exec', host, argv: netemDelArgv(dev), sudo, tolerate: NETEM_GONE, what: `tc netem removed from ${dev}` }];
      const rec = await record(ctx, fault, id, 'tc-netem', heal, held);
      const apply: FaultStep = { op: 'exec', host, argv: netemAddArgv(dev, fault.delayMs!, fault.rateBytesPerS), sudo, what: `tc netem delay ${fault.delayMs}ms on ${dev}` };
      try {
        return { record: rec, applied: await applyOrHeal(ctx, rec, [apply]) };
      } catch (err) {
        if (err instanceof StepError && netemMissing(err.stderr)) {
          throw new FaultError(
            'E_FAULT_REFUSED',
            `slow ${host}: this kernel has no tc netem ("${err.stderr.trim().split('\n')[0]}"); lab's link proxy can slow the lab's links instead, ` +
              `but only on a lab brought up with its links through it: add links: proxy to the inventory, then lab down and lab up (see README "Faults")`,
          );
        }
        throw err;
      }
    }
  }
}

/**
 * The supervisor's part for an unsupervised service after a kill or restart: wait until its process has stopped (a
 * SIGTERM'd RabbitMQ takes seconds), start it again through `restart`, and return the time from `since` until it
 * was ready (ms) — null when it did not stop within `timeoutMs`; throws when starting it again failed.
 */
async function restartedByLab(provider: Provider, procs: ServiceProcs, restart: NonNullable<FaultContext['restartUnsupervised']>, since: number, timeoutMs: number, signal?: AbortSignal): Promise<number | null> {
  const deadline = since + timeoutMs;
  const ref = refOf(procs.entry);
  while (ref && (await provider.alive(ref).catch(() => false))) {
    if (Date.now() > deadline || signal?.aborted) return null;
    await new Promise((r) => setTimeout(r, 100));
  }
  if (signal?.aborted) return null;
  const timer = AbortSignal.timeout(Math.max(1000, deadline - Date.now()));
  try {
    await restart(procs.entry, signal ? AbortSignal.any([signal, timer]) : timer);
  } catch (err) {
    if (signal?.aborted) return null;
    throw new FaultError('E_FAULT', `${procs.service}@${procs.host}: lab could not start it again: ${err instanceof Error ? err.message : String(err)} (lab up tries again)`);
  }
  return Date.now() - since;
}

/** Heal one recorded fault: run its heal steps, then forget it. Throws (keeping the entry) when a step fails. */
export async function healEntry(ctx: FaultContext, rec: FaultRecord): Promise<string[]> {
  const done: string[] = [];
  const errors: string[] = [];
  for (const s of rec.heal) {
    try {
      done.push(await runStep(ctx.provider, s));
    } catch (err) {
      errors.push(err instanceof Error ? err.message : String(err));
    }
  }
  if (errors.length > 0) throw new FaultError('E_FAULT_HEAL', `could not heal fault ${rec.id} (${rec.text}): ${errors.join('; ')} — it stays in the ledger; lab down heals it`);
  await ctx.ledger.remove(`fault:${rec.id}`);
  return done;
}

/** The faults the ledger holds (applied, or being applied), oldest first. */
export function recordedFaults(ledger: Ledger): FaultRecord[] {
  return ledger
    .entries()
    .filter((e: LedgerEntry) => e.kind === FAULT_LEDGER_KIND)
    .map((e) => e.data as unknown as FaultRecord);
}

export interface LeftoverResult {
  healed: FaultRecord[];
  failures: { record: FaultRecord; error: string }[];
}

/**
 * Heal the faults whose owner is gone (a lab process that crashed or was killed with -9 mid-run); with `all`,
 * every recorded fault (lab down, `lab fault heal`) — held ones too. A fault whose owner still runs is its owner's.
 */
export async function healLeftovers(ctx: FaultContext, options: { all?: boolean } = {}): Promise<LeftoverResult> {
  const out: LeftoverResult = { healed: [], failures: [] };
  for (const rec of recordedFaults(ctx.ledger)) {
    if (!options.all) {
      if (rec.owner === null) continue;
      const alive = (await checkProcess(rec.owner)) === 'same';
      if (alive && rec.owner.pid !== process.pid) continue;
    }
    try {
      await healEntry(ctx, rec);
      out.healed.push(rec);
    } catch (err) {
      out.failures.push({ record: rec, error: hasCode(err, 'E_FAULT_HEAL') ? err.message : String(err) });
    }
  }
  return out;
}
