/**
 * The role images (`lab images build`) for the docker tests and benchmarks: built once per test run into the engine
 * the caller started, from a cache under a stable path of this machine (`/var/cache/lab-images`, or $LAB_CACHE_DIR),
 * so the root filesystems are debootstrapped once per machine (minutes: RabbitMQ's Erlang) and a run only rebuilds the
 * node image when the lab bundle changed (every commit). Images stay in the engine's store after the run: they are the
 * cache between runs, tagged by content, never served stale.
 */
import { buildImages, engineFor } from '../lab/images/build.js';
import type { BuildResult } from '../lab/images/build.js';
import { localMirror } from '../lab/images/debian-mirror.js';
import { PACKAGE_ROOT } from '../lab/paths.js';

export const ROLE_IMAGE_CACHE = process.env.LAB_CACHE_DIR ?? '/var/cache/lab-images';

export interface RoleImageRefs {
  broker: string;
  backend: string;
  node: string;
  result: BuildResult;
}

const built = new Map<string, Promise<RoleImageRefs>>();

/** Build (or find) the three role images on the engine at `socket`; progress lines go to stderr, one per step. */
export function roleImages(socket: string): Promise<RoleImageRefs> {
  let p = built.get(socket);
  if (!p) {
    p = (async () => {
      const result = await buildImages({
        kinds: ['broker', 'backend', 'node'],
        mirror: await localMirror('bookworm'),
        suite: 'bookworm',
        engine: await engineFor(socket),
        packageRoot: PACKAGE_ROOT,
        cacheDir: ROLE_IMAGE_CACHE,
        progress: (e) => {
          if (e.status !== 'info') process.stderr.write(`role images: ${e.host ?? 'lab'} ${e.step} ${e.status}${e.detail ? `: ${e.detail}` : ''}\n`);
        },
      });
      const ref = (k: string): string => result.images.find((i) => i.kind === k)!.ref;
      return { broker: ref('broker'), backend: ref('backend'), node: ref('node'), result };
    })();
    built.set(socket, p);
    p.catch(() => built.delete(socket));
  }
  return p;
}
