/** `lab fault <kind> [target] [--for DURATION]`: one fault now, on the lab that is up; `heal` and `list` besides. */
import type { CommandModule } from 'yargs';
import { RunError, UsageError } from '../../errors.js';
import { hostsOption } from '../shared-options.js';
import type { GlobalFlags, HostsFlag } from '../shared-options.js';
import { requireLab } from '../lab-arg.js';
import { interruptible } from '../interrupt.js';

interface FaultFlags extends GlobalFlags, HostsFlag {
  kind: string;
  target?: string[];
  for?: string;
}

const KINDS = ['kill', 'restart', 'pause', 'partition', 'slow', 'heal', 'list'] as const;

export const faultCommandModule: CommandModule<GlobalFlags, FaultFlags> = {
  command: 'fault <kind> [target..]',
  describe: 'break the lab on purpose — kill, restart, pause, partition, slow — always healed (heal, list)',
  builder: (y) =>
    hostsOption(y)
      .positional('kind', { type: 'string', choices: KINDS as unknown as string[], describe: 'what to do' })
      .positional('target', { type: 'string', array: true, describe: 'SERVICE[@HOST] (kill, restart, pause) · HOST from HOST (partition) · HOST by DELAY [rate R] (slow)' })
      .option('for', { type: 'string', describe: 'how long a pause, partition or slow link lasts (2s, 500ms, 1m); without it, held until `lab fault heal`' })
      .example('$0 fault kill workers@HOST3', 'SIGKILL the workers on HOST3; waits until their supervisor has them back and says how long it took')
      .example('$0 fault pause redis --for 5s', 'SIGSTOP Redis for 5 s, then SIGCONT (Ctrl-C heals at once)')
      .example('$0 fault partition HOST3 from HOST1 --for 10s', 'drop every packet between HOST3 and HOST1 for 10 s (iptables in HOST3)')
      .example('$0 fault heal', 'heal every fault still applied (held ones, and those a crashed lab left)')
      .usage(
        '$0 fault <kind> [target..] [--for DURATION]\n\n' +
          'Every fault is written to the lab\'s ledger before it is applied and removed when healed: at its end, on Ctrl-C, ' +
          'on `lab down`, and — when the lab process that applied it died — by the next lab command touching the lab ' +
          '(up, down, run, status, fault). For a schedule of faults beside a run: lab run … --faults "kill workers@HOST3 at 1s; …".',
      ) as never,
  handler: async (argv) => {
    const [{ parseDuration, parseSchedule }, { applyFault, healLeftovers, recordedFaults }, { healOpenLab }] = await Promise.all([
      import('../../faults/schedule.js'),
      import('../../faults/apply.js'),
      import('../../faults/leftovers.js'),
    ]);
    const target = (argv.target ?? []).join(' ');
    if (argv.for !== undefined && (parseDuration(argv.for) ?? 0) <= 0) throw new UsageError(`--for: expected a duration like 2s, 500ms or 1m, got ${JSON.stringify(argv.for)}`);
    if ((argv.kind === 'heal' || argv.kind === 'list') && (target !== '' || argv.for !== undefined)) throw new UsageError(`lab fault ${argv.kind} takes no target and no --for`);
    // the whole fault as one statement of the schedule language: one grammar, one set of messages
    const faults = argv.kind === 'heal' || argv.kind === 'list' ? [] : parseSchedule(`${argv.kind} ${target} at 0s${argv.for !== undefined ? ` for ${argv.for}` : ''}`, 'lab fault: ');
    for (const f of faults) f.text = `${argv.kind} ${target}${argv.for !== undefined ? ` --for ${argv.for}` : ''}`;
    const lab = await requireLab(argv.hosts);
    const say = (line: string): void => void process.stderr.write(`lab: ${line}\n`);
    try {
      const { unsupervisedRestarter } = await import('../../orchestrator/services.js');
      const ctx = { lab: lab.ref.name, provider: lab.provider, ledger: lab.ledger, topology: lab.topology, restartUnsupervised: unsupervisedRestarter(lab) };
      // what a crashed lab process left is healed first (heal below heals every fault anyway)
      if (argv.kind !== 'heal') for (const line of (await healOpenLab(lab)).lines) say(line);
      if (argv.kind === 'list') {
        const list = recordedFaults(lab.ledger);
        if (argv.json) process.stdout.write(`${JSON.stringify(list, null, 2)}\n`);
        else if (list.length === 0) process.stdout.write('no fault is applied\n');
        else for (const f of list) process.stdout.write(`${f.id}  ${f.text}  since ${f.startedAt}${f.owner === null ? ' (held)' : ` (lab process ${f.owner.pid})`}\n`);
        return;
      }
      if (argv.kind === 'heal') {
        const r = await healLeftovers(ctx, { all: true });
        if (argv.json) process.stdout.write(`${JSON.stringify({ healed: r.healed.map((f) => f.id), failures: r.failures.map((f) => f.error) })}\n`);
        else process.stdout.write(r.healed.length === 0 && r.failures.length === 0 ? 'no fault was applied\n' : `${r.healed.map((f) => `healed ${f.id}: ${f.text}\n`).join('')}`);
        if (r.failures.length > 0) throw new RunError(r.failures.map((f) => f.error).join('\n'));
        return;
      }
      const fault = faults[0]!;
      const held = fault.forMs === undefined;
      const stop = interruptible(() => say('healing (Ctrl-C again to quit at once)…'));
      try {
        const applied = await applyFault(ctx, fault, { held, signal: stop.signal });
        for (const a of applied.applied) say(a);
        const out: Record<string, unknown> = { id: applied.record.id, fault: fault.text, mechanism: applied.record.mechanism, applied: applied.applied };
        if (applied.recovery) {
          say(`waiting for the service to be back…`);
          const ms = await applied.recovery;
          out.recoveryMs = ms;
          if (!argv.json) process.stdout.write(ms === null ? `${fault.text}: no recovery seen (not back within 2 minutes)\n` : `${fault.text}: back in ${(ms / 1000).toFixed(2)} s\n`);
        } else if (held) {
          out.held = true;
          if (!argv.json) process.stdout.write(`${fault.text}: applied (fault ${applied.record.id}), held until \`lab fault heal\` or \`lab down\`\n`);
        } else {
          await new Promise<void>((resolve) => {
            const t = setTimeout(resolve, fault.forMs);
            stop.signal.addEventListener('abort', () => (clearTimeout(t), resolve()), { once: true });
          });
          const { healEntry } = await import('../../faults/apply.js');
          for (const h of await healEntry(ctx, applied.record)) say(h);
          out.healed = true;
          if (!argv.json) process.stdout.write(`${fault.text}: applied and healed${stop.signal.aborted ? ' (interrupted)' : ''}\n`);
        }
        if (argv.json) process.stdout.write(`${JSON.stringify(out)}\n`);
        if (stop.signal.aborted) process.exitCode = 130;
      } finally {
        stop.dispose();
      }
    } finally {
      await lab.provider.close();
    }
  },
};
