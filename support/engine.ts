/**
 * What the docker tests and benchmarks ask of a Docker Engine API beyond what lab itself needs: make images
 * without a registry (import a tarball), push them to a local registry, and list or remove what a lab left behind.
 * Plain HTTP on the engine's Unix socket (node:http), so dockerode stays inside lab's adapter (docker-engine.ts).
 */
import { request } from 'node:http';

export interface EngineResponse {
  status: number;
  body: Buffer;
}

export class EngineApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
    this.name = 'EngineApiError';
  }
}

function splitRef(ref: string): { repo: string; tag: string } {
  const at = ref.indexOf('@');
  if (at >= 0) return { repo: ref.slice(0, at), tag: ref.slice(at + 1) };
  const slash = ref.lastIndexOf('/');
  const colon = ref.lastIndexOf(':');
  return colon > slash ? { repo: ref.slice(0, colon), tag: ref.slice(colon + 1) } : { repo: ref, tag: 'latest' };
}

/** The first `"error": "…"` of a streamed JSON answer (import, push), if any. */
function streamError(text: string): string | null {
  return /"error"\s*:\s*"([^"]*)"/.exec(text)?.[1] ?? null;
}

export class EngineClient {
  constructor(readonly socket: string) {}

  /** One API call; the answer whatever its status (callers decide what a 404 means). */
  call(method: string, path: string, options: { query?: Record<string, string | string[]>; body?: Buffer; headers?: Record<string, string> } = {}): Promise<EngineResponse> {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(options.query ?? {})) for (const one of Array.isArray(v) ? v : [v]) q.append(k, one);
    const full = q.size > 0 ? `${path}?${q}` : path;
    return new Promise((resolve, reject) => {
      const req = request({ socketPath: this.socket, method, path: full, headers: { host: 'docker', ...(options.body ? { 'content-type': 'application/x-tar', 'content-length': String(options.body.length) } : {}), ...options.headers } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.once('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
        res.once('error', reject);
      });
      req.once('error', reject);
      req.end(options.body);
    });
  }

  private async ok(method: string, path: string, what: string, options: Parameters<EngineClient['call']>[2] = {}): Promise<EngineResponse> {
    const r = await this.call(method, path, options);
    if (r.status >= 300) throw new EngineApiError(`${what}: engine answered HTTP ${r.status}: ${r.body.toString('utf8').trim()}`, r.status);
    return r;
  }

  /** The image's id, or null when the engine does not have it. */
  async image(ref: string): Promise<{ id: string } | null> {
    const r = await this.call('GET', `/images/${ref}/json`);
    if (r.status === 404) return null;
    if (r.status >= 300) throw new EngineApiError(`image ${ref}: HTTP ${r.status}: ${r.body.toString('utf8').trim()}`, r.status);
    return { id: String((JSON.parse(r.body.toString('utf8')) as { Id?: string }).Id) };
  }

  /** `docker import`: an image from a root-filesystem tarball (1024 zero bytes: an empty one), with Dockerfile `changes`. */
  async importImage(tar: Buffer, ref: string, changes: string[] = []): Promise<string> {
    // imported untagged, then tagged: engines differ in how they read repo/tag on import (Podman drops a tag after a registry port)
    const out = (await this.ok('POST', '/images/create', `import ${ref}`, { query: { fromSrc: '-', ...(changes.length ? { changes } : {}) }, body: tar })).body.toString('utf8');
    const err = streamError(out);
    if (err) throw new EngineApiError(`import ${ref}: ${err}`, 500);
    const id = /sha256:[0-9a-f]{64}/.exec(out)?.[0];
    if (!id) throw new EngineApiError(`import ${ref}: the engine answered ${out.trim().slice(0, 200)} without an image id`, 500);
    const { repo, tag } = splitRef(ref);
    await this.ok('POST', `/images/${id}/tag`, `tag ${id.slice(7, 19)} as ${ref}`, { query: { repo, tag } });
    const img = await this.image(ref);
    if (!img) throw new EngineApiError(`import ${ref}: tagged ${id} but the engine has no such image`, 500);
    return img.id;
  }

  /** Push an image to its registry (a local one here: plain HTTP, no credentials). */
  async pushImage(ref: string): Promise<void> {
    const { repo, tag } = splitRef(ref);
    const auth = Buffer.from('{}').toString('base64');
    const out = (await this.ok('POST', `/images/${repo}/push`, `push ${ref}`, { query: { tag, tlsVerify: 'false' }, headers: { 'X-Registry-Auth': auth } })).body.toString('utf8');
    const err = streamError(out);
    if (err) throw new EngineApiError(`push ${ref}: ${err}`, 500);
  }

  async removeImage(ref: string): Promise<'removed' | 'gone'> {
    const r = await this.call('DELETE', `/images/${ref}`, { query: { force: 'true' } });
    if (r.status === 404) return 'gone';
    if (r.status >= 300) throw new EngineApiError(`remove image ${ref}: HTTP ${r.status}: ${r.body.toString('utf8').trim()}`, r.status);
    return 'removed';
  }

  async containersLabelled(label: string): Promise<{ id: string; name: string; state: string }[]> {
    const r = await this.ok('GET', '/containers/json', 'list containers', { query: { all: 'true', filters: JSON.stringify({ label: [label] }) } });
    const list = JSON.parse(r.body.toString('utf8')) as { Id: string; Names?: string[]; State?: string }[];
    return list.map((c) => ({ id: c.Id, name: (c.Names?.[0] ?? '').replace(/^\//, ''), state: c.State ?? '' }));
  }

  /** A container's bind mounts (source → destination), as the engine reports them. */
  async mountsOf(idOrName: string): Promise<string[]> {
    const r = await this.ok('GET', `/containers/${idOrName}/json`, `inspect ${idOrName}`);
    const mounts = (JSON.parse(r.body.toString('utf8')) as { Mounts?: { Type?: string; Source?: string; Destination?: string }[] }).Mounts ?? [];
    return mounts.filter((m) => m.Type === 'bind').map((m) => `${m.Source}:${m.Destination}`);
  }

  /** Create (not start) a container: for tests that need one lab did not make. Returns its id. */
  async createContainer(o: { name: string; image: string; cmd: string[]; labels: Record<string, string> }): Promise<string> {
    const body = Buffer.from(JSON.stringify({ Image: o.image, Cmd: o.cmd, Labels: o.labels }));
    const r = await this.ok('POST', '/containers/create', `create container ${o.name}`, { query: { name: o.name }, body, headers: { 'content-type': 'application/json' } });
    return (JSON.parse(r.body.toString('utf8')) as { Id: string }).Id;
  }

  async removeContainer(id: string): Promise<'removed' | 'gone'> {
    const r = await this.call('DELETE', `/containers/${id}`, { query: { force: 'true', v: 'true' } });
    if (r.status === 404) return 'gone';
    if (r.status >= 300) throw new EngineApiError(`remove container ${id}: HTTP ${r.status}: ${r.body.toString('utf8').trim()}`, r.status);
    return 'removed';
  }

  async networksLabelled(label: string): Promise<{ id: string; name: string }[]> {
    const r = await this.ok('GET', '/networks', 'list networks', { query: { filters: JSON.stringify({ label: [label] }) } });
    const list = JSON.parse(r.body.toString('utf8')) as { Id?: string; ID?: string; Name: string }[];
    return list.map((n) => ({ id: String(n.Id ?? n.ID), name: n.Name }));
  }

  async removeNetwork(id: string): Promise<'removed' | 'gone'> {
    const r = await this.call('DELETE', `/networks/${id}`);
    if (r.status === 404) return 'gone';
    if (r.status >= 300) throw new EngineApiError(`remove network ${id}: HTTP ${r.status}: ${r.body.toString('utf8').trim()}`, r.status);
    return 'removed';
  }

  async volumes(): Promise<string[]> {
    const r = await this.ok('GET', '/volumes', 'list volumes');
    return ((JSON.parse(r.body.toString('utf8')) as { Volumes?: { Name: string }[] | null }).Volumes ?? []).map((v) => v.Name);
  }
}
