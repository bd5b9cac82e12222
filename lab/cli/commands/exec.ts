/** `lab exec HOST -- CMD…`: run a program on a lab host with the lab's variables set (LAB_*, CELERY_*). */
import type { CommandModule } from 'yargs';
import { UsageError } from '../../errors.js';
import { labEnv } from '../../orchestrator/lab-ref.js';
import { requireLab } from '../lab-arg.js';
import { hostsOption } from '../shared-options.js';
import type { GlobalFlags, HostsFlag } from '../shared-options.js';

export const execCommandModule: CommandModule<GlobalFlags, GlobalFlags & HostsFlag & { host: string; command: string[] }> = {
  command: 'exec <host> [command..]',
  describe: 'run a command on a lab host (with LAB_BROKER_URL, CELERY_BROKER_URL… set)',
  builder: (y) =>
    hostsOption(y)
      .positional('host', { type: 'string', describe: 'HOST1…' })
      .positional('command', { type: 'string', array: true, describe: 'the command and its arguments, after --' })
      .parserConfiguration({ 'populate--': true })
      .example('$0 exec HOST4 -- python3 main.py', "the book's master program, on HOST4")
      .example('$0 exec HOST3 -- python3 -m celery -A mergesort worker -c 2', 'a Python Celery worker on HOST3') as never,
  handler: async (argv) => {
    // Words after `--` are the command's own, flags included.
    const command = [...(argv.command ?? []), ...((argv as unknown as { '--'?: unknown[] })['--'] ?? [])].map(String);
    if (command.length === 0) throw new UsageError('name the command to run: lab exec HOST -- CMD ARGS…');
    const lab = await requireLab(argv.hosts);
    try {
      if (!lab.topology.host(argv.host)) throw new UsageError(`no host ${argv.host} in lab ${lab.state.lab} (hosts: ${lab.topology.hosts.map((h) => h.name).join(', ')})`);
      const controller = new AbortController();
      const onSigint = (): void => controller.abort();
      process.on('SIGINT', onSigint);
      try {
        // Hosts that share this machine's files (local, netns) run the command in the current directory.
        const cwd = lab.topology.provider === 'local' || lab.topology.provider === 'netns' ? process.cwd() : undefined;
        const code = await lab.provider.stream(argv.host, command, { env: labEnv(lab, true), stdout: process.stdout, stderr: process.stderr, signal: controller.signal, cwd });
        process.exitCode = code;
      } finally {
        process.off('SIGINT', onSigint);
      }
    } finally {
      await lab.provider.close();
    }
  },
};
