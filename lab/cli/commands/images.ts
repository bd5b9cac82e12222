/** `lab images build`: role images from Debian packages (lab/images/build.ts). */
import type { CommandModule } from 'yargs';
import { UsageError } from '../../errors.js';
import { PACKAGE_ROOT } from '../../paths.js';
import { ROLES } from '../../topology/topology.js';
import type { Role } from '../../topology/topology.js';
import { interruptible } from '../interrupt.js';
import type { GlobalFlags } from '../shared-options.js';
import { stepPrinter } from '../step-printer.js';

interface BuildFlags extends GlobalFlags {
  roles: string;
  arch?: string;
  mirror?: string;
  suite: string;
  socket?: string;
}

const buildCommand: CommandModule<GlobalFlags, BuildFlags> = {
  command: 'build',
  describe: 'build one image per role from Debian packages (no registry needed), tagged by role and content hash',
  builder: (y) =>
    y
      .usage(
        '$0 images build [--roles broker,backend,workers,master] [--arch amd64|arm64|armhf] [--mirror URL]\n\n' +
          'debootstrap --variant=minbase of each role\'s packages (broker: rabbitmq-server; backend: redis-server; workers/master: ' +
          "Node 20 from the npm registry's node-linux-<arch> package, checked against its sha512, + the lab bundle + the Python peers), " +
          'imported into the Docker/Podman engine as localhost/lab-<broker|backend|node>:<content hash>. The root filesystems are cached ' +
          '(<lab home>/cache/images, or $LAB_CACHE_DIR): a second build only adds what changed (a new lab bundle). Needs root and debootstrap. ' +
          'Prints the docker.images lines for an inventory.',
      )
      .option('roles', { type: 'string', default: 'broker,backend,workers,master', describe: 'roles to build images for (workers, master and quotes share the node image)' })
      .option('arch', { type: 'string', describe: "target architecture (default: the engine's); another needs qemu-user-static + binfmt_misc" })
      .option('mirror', { type: 'string', describe: "Debian mirror (default: the one this machine's apt uses, else deb.debian.org)" })
      .option('suite', { type: 'string', default: 'bookworm', describe: 'Debian suite' })
      .option('socket', { type: 'string', describe: 'Engine API socket (default: $DOCKER_HOST, else /var/run/docker.sock)' })
      .example('$0 images build --socket /run/podman/podman.sock', 'all three images into rootful Podman')
      .example('$0 images build --roles broker --mirror http://mirror.lan/debian', 'the broker image from a local mirror') as never,
  handler: async (argv) => {
    const roles = argv.roles.split(',').map((r) => r.trim()).filter(Boolean);
    const bad = roles.filter((r) => !(ROLES as readonly string[]).includes(r));
    if (roles.length === 0 || bad.length > 0) throw new UsageError(`--roles: ${bad.length ? `unknown role ${bad.map((b) => JSON.stringify(b)).join(', ')}` : 'none given'} (roles: ${ROLES.join(', ')})`);
    const [{ buildImages, engineFor, usageLines }, { parseArch }, { localMirror }, { imageKindOf }] = await Promise.all([
      import('../../images/build.js'),
      import('../../images/arch.js'),
      import('../../images/debian-mirror.js'),
      import('../../images/role-images.js'),
    ]);
    const arch = argv.arch === undefined ? undefined : parseArch(argv.arch);
    const kinds = [...new Set(roles.map((r) => imageKindOf(r as Role)))];
    const mirror = argv.mirror ?? (await localMirror(argv.suite));
    const stop = interruptible();
    try {
      const r = await buildImages({ kinds, arch, mirror, suite: argv.suite, engine: await engineFor(argv.socket), packageRoot: PACKAGE_ROOT, progress: stepPrinter(!argv.json, true), signal: stop.signal });
      if (argv.json) {
        process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
        return;
      }
      process.stdout.write(`built ${r.images.length} image${r.images.length === 1 ? '' : 's'} for ${r.arch} from ${r.mirror} (${r.suite}) in ${(r.ms / 1000).toFixed(1)} s${r.node ? `; Node: ${r.node}` : ''}\n`);
      for (const i of r.images) process.stdout.write(`  ${i.kind.padEnd(8)} ${i.ref}  ${(i.bytes / 1e6).toFixed(0)} MB${i.cached.image ? '  (already on the engine)' : i.cached.rootfs ? '  (root filesystem from the cache)' : ''}\n`);
      process.stdout.write('use them in an inventory (provider: docker):\n');
      for (const l of usageLines(r)) process.stdout.write(`  ${l}\n`);
      process.stdout.write("or per host: image: <ref>. On another machine: docker save / docker load (no registry needed).\n");
    } finally {
      stop.dispose();
    }
  },
};

export const imagesCommandModule: CommandModule<GlobalFlags, GlobalFlags> = {
  command: 'images <command>',
  describe: 'role images for docker labs, built from Debian packages (lab images build --help)',
  builder: (y) => y.command(buildCommand as never).demandCommand(1, 'name a command: build') as never,
  handler: () => undefined,
};
