/**
 * `lab inspect` and `lab control` (like `celery inspect` / `celery control`): the broadcast on the lab's (or the
 * given) broker, and the replies printed as Celery prints them.
 */
import { RunError, UsageError } from '../errors.js';
import type { NodeReply } from '../queue/index.js';
import { cliApp } from './cli-app.js';
import { CONTROL_COMMANDS, INSPECT_COMMANDS, compileArguments } from './remote-commands.js';
import type { ConnectionFlags } from './shared-options.js';

export interface RemoteCommandOptions {
  kind: 'inspect' | 'control';
  command: string;
  positionals: string[];
  /** revoke --terminate / --signal */
  extra?: Record<string, unknown>;
  destination?: string[];
  timeoutS: number;
  json: boolean;
  verbose: boolean;
  connection: ConnectionFlags;
}

function indent(text: string, by = '    '): string {
  return text.split('\n').map((l) => `${by}${l}`).join('\n');
}

/** One node's reply, as Celery's _say_remote_command_reply shows it. */
export function renderReply(node: string, reply: unknown): string {
  const r = reply as { ok?: unknown; error?: unknown } | null;
  if (r && typeof r === 'object' && !Array.isArray(r) && 'error' in r) return `->  ${node}: ERROR\n${indent(String(r.error))}`;
  const body = r && typeof r === 'object' && !Array.isArray(r) && 'ok' in r && Object.keys(r).length === 1 ? String(r.ok) : JSON.stringify(reply, null, 4);
  return `->  ${node}: OK\n${indent(body ?? 'null')}`;
}

export async function runRemoteCommand(o: RemoteCommandOptions): Promise<NodeReply[]> {
  const specs = o.kind === 'inspect' ? INSPECT_COMMANDS : CONTROL_COMMANDS;
  const spec = Object.hasOwn(specs, o.command) ? specs[o.command] : undefined;
  if (!spec) throw new UsageError(`lab ${o.kind}: unknown command ${JSON.stringify(o.command)} (one of: ${Object.keys(specs).join(', ')})`);
  const args = { ...compileArguments(o.command, spec, o.positionals), ...o.extra };
  if ((o.command === 'revoke' || o.command === 'terminate') && (args.task_id as string[]).length === 0) throw new UsageError(`${o.command}: name the task id(s)`);
  if ((o.command === 'add_consumer' || o.command === 'cancel_consumer') && !args.queue) throw new UsageError(`${o.command}: name the queue`);
  const { MailboxClient, RATE_LIMIT_FORMS, rateLimitPerSecond } = await import('../queue/index.js');
  if (o.command === 'rate_limit') {
    if (!args.task_name || args.rate_limit === undefined) throw new UsageError('rate_limit: name the task and the rate (rate_limit <task> <rate>, e.g. 5/s)');
    // Checked before it is broadcast: a Python worker would answer a rate it cannot read with a bare KeyError.
    if (rateLimitPerSecond(args.rate_limit) === null) throw new UsageError(`rate_limit: expected ${RATE_LIMIT_FORMS}, got ${JSON.stringify(args.rate_limit)}`);
  }
  const { app } = await cliApp(`lab-${o.kind}`, { flags: o.connection, verbose: o.verbose, needBroker: true, needBackend: null });
  const client = new MailboxClient(await app.getBroker());
  try {
    const replies = await client.broadcast(o.command, args, { destination: o.destination ?? null, timeoutMs: o.timeoutS * 1000 });
    if (replies.length === 0 && o.command !== 'shutdown') throw new RunError('No nodes replied within time constraint');
    return replies;
  } finally {
    await client.close();
    await app.close();
  }
}

export function printReplies(kind: 'inspect' | 'control', replies: NodeReply[], json: boolean): void {
  if (json) {
    // As celery -j: inspect merges the replies into one object, control prints broadcast()'s list.
    process.stdout.write(`${JSON.stringify(kind === 'inspect' ? Object.assign({}, ...replies) : replies)}\n`);
    return;
  }
  for (const r of replies) for (const [node, reply] of Object.entries(r)) process.stdout.write(`${renderReply(node, reply)}\n`);
  process.stdout.write(`\n${replies.length} node${replies.length === 1 ? '' : 's'} online.\n`);
}
