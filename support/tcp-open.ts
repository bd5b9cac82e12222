/** What tests and benchmarks share: a TCP probe. */
/** Is something listening on host:port? */
export function tcpOpen(host: string, port: number, timeoutMs = 1000): Promise<string | null> {
  return import('node:net').then(
    ({ createConnection }) =>
      new Promise<string | null>((resolve) => {
        const s = createConnection({ host, port });
        const done = (r: string | null): void => {
          s.destroy();
          resolve(r);
        };
        s.setTimeout(timeoutMs, () => done(`nothing answered on ${host}:${port} within ${timeoutMs} ms`));
        s.once('connect', () => done(null));
        s.once('error', (e) => done(`${host}:${port}: ${e.message}`));
      }),
  );
}
