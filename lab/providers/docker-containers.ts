/**
 * The docker lab's containers as the provider uses them: the engine (docker-engine.ts, loaded on first use), and
 * commands run inside a host's container through the exec API — where a container that is not running becomes an
 * error that says why (its state, exit code and the tail of its own log) instead of the engine's terse refusal.
 */
import { ProviderError, hasCode } from '../errors.js';
import type { DockerEngine, ExecOutcome, ExecRequest } from './docker-engine.js';
import type { DockerLayout } from './docker-layout.js';

export const oneLine = (s: string): string => s.trim().replace(/\s*\n\s*/g, '; ');

export class DockerContainers {
  private enginePromise: Promise<DockerEngine> | null = null;

  constructor(private readonly layout: DockerLayout) {}

  /** The engine the inventory names (docker.socket), else DOCKER_HOST, else the default socket. */
  engine(): Promise<DockerEngine> {
    if (!this.enginePromise) {
      this.enginePromise = import('./docker-engine.js').then((m) => new m.DockerEngine(m.engineTarget(this.layout.docker.socket)));
      this.enginePromise.catch(() => (this.enginePromise = null));
    }
    return this.enginePromise;
  }

  /** Why a host's container cannot run commands: its state, exit code and the tail of its own log. */
  async down(host: string, cause?: unknown): Promise<ProviderError> {
    const engine = await this.engine();
    const name = this.layout.containerName(host);
    const info = await engine.container(name, host).catch(() => null);
    if (!info) return new ProviderError(`container ${name} does not exist (removed behind lab's back?); run lab up again, or lab down`, { host, cause, code: 'E_CONTAINER_GONE' });
    const logs = await engine.logs(info.id, 20, host).catch(() => '');
    const ended = !info.running && ['exited', 'stopped', 'dead'].includes(info.status);
    const how = ended ? `exited with code ${info.exitCode}${info.oomKilled ? ' (out of memory)' : ''}` : `is ${info.status}`;
    return new ProviderError(
      `container ${name} ${how}${info.error ? ` (${oneLine(info.error)})` : ''}${logs ? `; last lines of its log:\n${logs.split('\n').slice(-15).join('\n')}` : '; its log is empty'}`,
      { host, cause, code: 'E_CONTAINER_EXITED' },
    );
  }

  /** exec in a host's container; a container that is not running becomes an error saying why (its log tail). */
  async run(host: string, r: ExecRequest): Promise<ExecOutcome> {
    const engine = await this.engine();
    let out: ExecOutcome;
    try {
      out = await engine.exec(this.layout.containerName(host), r, host);
    } catch (err) {
      if (hasCode(err, 'E_CONTAINER_NOT_RUNNING', 'E_ENGINE_NOT_FOUND')) throw await this.down(host, err);
      throw err;
    }
    // The engine's own failure (exit 125-127 from the runtime, e.g. "crun: the container … is not running", or no
    // exit code at all): when the container has stopped meanwhile, say so — with its log — rather than pass it on.
    if (out.exitCode < 0 || (out.exitCode >= 125 && /OCI runtime|is not running|container state/i.test(out.stderr.toString('utf8')))) {
      const info = await engine.container(this.layout.containerName(host), host).catch(() => null);
      if (!info?.running) throw await this.down(host);
    }
    return out;
  }

  /** A POSIX sh script in a host's container, with positional arguments ($1…). */
  sh(host: string, script: string, args: string[], extra: Omit<ExecRequest, 'argv'> = {}): Promise<ExecOutcome> {
    return this.run(host, { ...extra, argv: ['sh', '-c', script, 'lab', ...args] });
  }
}
