/**
 * Atomic file writes, the one way lab replaces a file it owns (run records, reports, lab state, the ledger's
 * compaction): a reader sees the old content or the new, never a torn file, and once the promise resolves the new
 * content survives a crash. How: write a temp file in the same folder (a rename is only atomic within one file
 * system), fsync it, rename it over the target, then fsync the folder so the rename itself is on disk.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

export interface AtomicWriteOptions {
  /**
   * The file's exact mode (e.g. 0o600 for secrets), applied with chmod so a permissive umask cannot widen it.
   * Default: 0o666 less the umask, as for any new file.
   */
  mode?: number;
  /** Create the folder (and its parents) when it does not exist. Default false: callers that care set its mode. */
  mkdir?: boolean;
}

/** Replace `path` with `content` atomically and durably. On failure the target is untouched and no temp file is left. */
export async function writeFileAtomic(path: string, content: string | Uint8Array, options: AtomicWriteOptions = {}): Promise<void> {
  const dir = dirname(path);
  if (options.mkdir) await mkdir(dir, { recursive: true });
  // hidden and unique: two writers of one file never share a temp file, and `*.json` globs never see it
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const fh = await open(tmp, 'wx', options.mode ?? 0o666);
  try {
    if (options.mode !== undefined) await fh.chmod(options.mode);
    await fh.writeFile(content);
    await fh.sync();
  } catch (err) {
    await fh.close().catch(() => undefined);
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
  try {
    await fh.close();
    await rename(tmp, path);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
  await syncParentDir(path);
}

/** fsync the folder holding `path`, so a create or rename in it is durable. Best effort: some file systems refuse. */
export async function syncParentDir(path: string): Promise<void> {
  try {
    const fh = await open(dirname(path), 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  } catch {
    // EINVAL/EISDIR on file systems without directory fsync: the data itself was synced
  }
}
