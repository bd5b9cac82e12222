/**
 * Slow links with tc netem, where the kernel has it (these machines do not: "Specified qdisc kind is unknown").
 * The commands are built here, apart from running them, so they are unit-tested on machines without netem.
 */

/** `tc qdisc add dev DEV root netem delay Nms [rate Rkbit]`: added one-way delay on everything DEV sends. */
export function netemAddArgv(dev: string, delayMs: number, rateBytesPerS?: number): string[] {
  if (!/^[A-Za-z0-9_.@-]{1,15}$/.test(dev)) throw new TypeError(`not an interface name: ${JSON.stringify(dev)}`);
  if (!Number.isInteger(delayMs) || delayMs < 0) throw new TypeError(`delay must be whole milliseconds ≥ 0, got ${delayMs}`);
  const argv = ['tc', 'qdisc', 'add', 'dev', dev, 'root', 'netem', 'delay', `${delayMs}ms`];
  if (rateBytesPerS !== undefined) argv.push('rate', `${Math.max(1, Math.round((rateBytesPerS * 8) / 1000))}kbit`);
  return argv;
}

/** The heal: remove the root qdisc netem added (the interface falls back to its default). */
export function netemDelArgv(dev: string): string[] {
  return ['tc', 'qdisc', 'del', 'dev', dev, 'root'];
}

/** tc's answer when the kernel (or tc) has no netem: the fault then needs lab's proxy. */
export function netemMissing(stderr: string): boolean {
  return /Specified qdisc kind is unknown|Unknown qdisc "netem"|qdisc kind is unknown/i.test(stderr);
}

/** tc's answer to deleting a root qdisc that is not there (already healed). */
export const NETEM_GONE = 'Cannot delete qdisc with handle of zero|No such file or directory|Invalid handle';
