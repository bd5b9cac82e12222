import test from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_MIRROR, checkMirror, localMirror, mirrorFromSources } from '../../lab/images/debian-mirror.js';
import { hasCode } from '../../lab/errors.js';

const SOURCES = `Types: deb
URIs: http://mirror.lan/debian/
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://mirror.lan/debian-security
Suites: bookworm-security
Components: main
`;

test('mirror: the deb822 .sources URI serving the suite; a one-line sources.list; none', () => {
  assert.equal(mirrorFromSources(SOURCES, 'bookworm'), 'http://mirror.lan/debian');
  assert.equal(mirrorFromSources(SOURCES, 'trixie'), null);
  assert.equal(mirrorFromSources('deb [arch=amd64] http://ftp.de.debian.org/debian bookworm main\n', 'bookworm'), 'http://ftp.de.debian.org/debian');
  assert.equal(mirrorFromSources('Types: deb-src\nURIs: http://src.lan/debian\nSuites: bookworm\n', 'bookworm'), null, 'source packages are no mirror for debootstrap');
  assert.equal(mirrorFromSources('Types: deb\nURIs: http://off.lan/debian\nSuites: bookworm\nEnabled: no\n', 'bookworm'), null);
});

test("mirror: this machine's apt folder first, deb.debian.org when it names none", async (t) => {
  const etc = await mkdtemp(join(tmpdir(), 'lab-apt-'));
  t.after(() => rm(etc, { recursive: true, force: true }));
  assert.equal(await localMirror('bookworm', etc), DEFAULT_MIRROR);
  await mkdir(join(etc, 'sources.list.d'));
  await writeFile(join(etc, 'sources.list.d', 'debian.sources'), SOURCES);
  assert.equal(await localMirror('bookworm', etc), 'http://mirror.lan/debian');
});

test('mirror: unreachable — one line naming the URL that failed, exit 2; not a URL; not http', async () => {
  // a port nothing listens on: bound, then closed
  const port = await new Promise<number>((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
  await assert.rejects(checkMirror(`http://127.0.0.1:${port}/debian`, 'bookworm', 5000), (e: unknown) => {
    assert.ok(hasCode(e, 'E_MIRROR'));
    assert.equal((e as { exitCode: number }).exitCode, 2);
    assert.match((e as Error).message, new RegExp(`^cannot reach the Debian mirror: http://127\\.0\\.0\\.1:${port}/debian/dists/bookworm/Release \\(ECONNREFUSED\\)$`));
    return true;
  });
  await assert.rejects(checkMirror('not a url', 'bookworm'), (e: unknown) => hasCode(e, 'E_MIRROR') && /not a mirror URL: "not a url"/.test((e as Error).message));
  await assert.rejects(checkMirror('ftp://mirror.lan/debian', 'bookworm'), (e: unknown) => hasCode(e, 'E_MIRROR') && /needs an http/.test((e as Error).message));
});
