/**
 * A worker's node name as Celery forms it from `-n`: `name@host`, where a bare `host` means `celery@host`, and
 * %h (this machine's hostname), %n (its first label) and %d (the rest, its domain) are expanded, %% is a %
 * (celery.utils.nodenames: default_nodename + host_format). `-n w1@%h` gives every host's worker its own mailbox.
 */
import { hostname as osHostname } from 'node:os';

export function nodeName(spec: string | undefined, host: string = osHostname()): string {
  const dot = host.indexOf('.');
  const expanded = (spec ?? '').replace(/%([hnd%])/g, (_, k: string) => (k === 'h' ? host : k === 'n' ? (dot < 0 ? host : host.slice(0, dot)) : k === 'd' ? (dot < 0 ? '' : host.slice(dot + 1)) : '%'));
  const at = expanded.indexOf('@');
  if (at < 0) return `celery@${expanded || host}`;
  return `${expanded.slice(0, at) || 'celery'}@${expanded.slice(at + 1) || host}`;
}
