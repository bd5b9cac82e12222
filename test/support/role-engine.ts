/**
 * Podman's Docker API and the role images for one docker e2e file: started before its tests (what is missing is
 * kept, for `needs` to fail or skip on), the file's labs removed and the service stopped after them.
 */
import test from 'node:test';
import { podmanMissing, startPodman } from '../../support/podman.js';
import type { PodmanService } from '../../support/podman.js';
import { roleImages } from '../../support/role-images.js';
import type { RoleImageRefs } from '../../support/role-images.js';

export interface RoleEngine {
  podman: PodmanService | null;
  images: RoleImageRefs | null;
  /** Why the engine or the images are not there; null once both are. */
  missing: string | null;
}

export function useRoleEngine(labs: string[], file: string): RoleEngine {
  const engine: RoleEngine = { podman: null, images: null, missing: null };
  test.before(async () => {
    engine.missing = await podmanMissing();
    if (engine.missing) return;
    try {
      engine.podman = await startPodman();
      engine.images = await roleImages(engine.podman.socket);
    } catch (err) {
      engine.missing = `Podman and the role images: ${(err as Error).message}`;
    }
  });
  test.after(async () => {
    if (!engine.podman) return;
    const left = await engine.podman.removeLabs(labs).catch((err: Error) => [`(cleanup failed: ${err.message})`]);
    if (left.length > 0) process.stderr.write(`${file}: removed leftovers ${left.join(', ')}\n`);
    await engine.podman.stop();
  });
  return engine;
}
