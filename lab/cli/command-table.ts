/**
 * The `lab` commands by name, each loaded only when needed: a command module imports what its builder needs (the
 * scenarios for `lab run`, the topology for `lab up`…), and a process such as `lab worker` — which serves for hours
 * beside its pool children — should not carry every other command's code (issue 13: its idle memory).
 * `lab --help` (or a word that names no command) still loads them all, to list them.
 */
import type { CommandModule } from 'yargs';
import type { GlobalFlags } from './shared-options.js';

export type LabCommand = CommandModule<GlobalFlags, GlobalFlags>;

/** In `lab --help` order. The name is the first word of the module's `command` (a unit test holds them equal). */
export const COMMAND_TABLE: readonly { name: string; load: () => Promise<LabCommand> }[] = [
  { name: 'init', load: async () => (await import('./commands/init.js')).initCommandModule as unknown as LabCommand },
  { name: 'up', load: async () => (await import('./commands/up.js')).upCommandModule as unknown as LabCommand },
  { name: 'status', load: async () => (await import('./commands/status.js')).statusCommandModule as unknown as LabCommand },
  { name: 'run', load: async () => (await import('./commands/run.js')).runCommandModule as unknown as LabCommand },
  { name: 'report', load: async () => (await import('./commands/report.js')).reportCommandModule as unknown as LabCommand },
  { name: 'logs', load: async () => (await import('./commands/logs.js')).logsCommandModule as unknown as LabCommand },
  { name: 'exec', load: async () => (await import('./commands/exec.js')).execCommandModule as unknown as LabCommand },
  { name: 'env', load: async () => (await import('./commands/env.js')).envCommandModule as unknown as LabCommand },
  { name: 'down', load: async () => (await import('./commands/down.js')).downCommandModule as unknown as LabCommand },
  { name: 'worker', load: async () => (await import('./commands/worker.js')).workerCommandModule as unknown as LabCommand },
  { name: 'call', load: async () => (await import('./commands/call.js')).callCommandModule as unknown as LabCommand },
  { name: 'result', load: async () => (await import('./commands/result.js')).resultCommandModule as unknown as LabCommand },
  { name: 'purge', load: async () => (await import('./commands/purge.js')).purgeCommandModule as unknown as LabCommand },
  { name: 'inspect', load: async () => (await import('./commands/inspect.js')).inspectCommandModule as unknown as LabCommand },
  { name: 'control', load: async () => (await import('./commands/control.js')).controlCommandModule as unknown as LabCommand },
  { name: 'dashboard', load: async () => (await import('./commands/dashboard.js')).dashboardCommandModule as unknown as LabCommand },
  { name: 'serve-quotes', load: async () => (await import('./commands/serve-quotes.js')).serveQuotesCommandModule as unknown as LabCommand },
  { name: 'link-proxy', load: async () => (await import('./commands/link-proxy.js')).linkProxyCommandModule as unknown as LabCommand },
  { name: 'supervise', load: async () => (await import('./commands/supervise.js')).superviseCommandModule as unknown as LabCommand },
  { name: 'fault', load: async () => (await import('./commands/fault.js')).faultCommandModule as unknown as LabCommand },
  { name: 'images', load: async () => (await import('./commands/images.js')).imagesCommandModule as unknown as LabCommand },
];

export const COMMAND_NAMES: readonly string[] = COMMAND_TABLE.map((c) => c.name);

/**
 * The commands to register for these arguments: only the one they name (the first word: lab's global flags take no
 * value), else all of them (`lab`, `lab --help`, a misspelt command — yargs then lists or suggests).
 */
export async function commandsFor(argv: readonly string[]): Promise<LabCommand[]> {
  const word = argv.find((a) => !a.startsWith('-'));
  const named = COMMAND_TABLE.find((c) => c.name === word);
  return named ? [await named.load()] : Promise.all(COMMAND_TABLE.map((c) => c.load()));
}
