/**
 * The book's currency.py: get_rate(pair, url_tmplt) fetches one quote over HTTP and returns (pair, rate).
 * The lab runs its own quote server (no internet here), "{}" standing for the pair in its URL template. Called with
 * the pair only — the book's get_rate.delay('EURUSD') — a lab worker asks the lab's quote server, which lab gives
 * its workers (and the embedded lab) in LAB_QUOTES_URL; an explicit url_tmplt still wins.
 */
import { Agent, get } from 'node:http';
import { App } from '../../lab/queue/index.js';

export const app = new App('currency', { include: [new URL('./tasks.js', import.meta.url)] });

const agent = new Agent({ keepAlive: true });

export function fetchText(url: string, timeoutMs = 30_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = get(url, { agent, timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => (res.statusCode === 200 ? resolve(body) : reject(new Error(`HTTP ${res.statusCode} from ${url}: ${body.trim().slice(0, 200)}`))));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer from ${url} within ${timeoutMs} ms`)));
    req.on('error', reject);
  });
}

export async function getRateLocal(pair: string, urlTmplt: string): Promise<[string, number]> {
  const body = await fetchText(urlTmplt.replace('{}', encodeURIComponent(pair)));
  const rate = Number(body.trim());
  if (!Number.isFinite(rate)) throw new ValueError(`could not convert string to float: '${body.trim().slice(0, 50)}'`);
  return [pair, rate];
}

/** Python's ValueError, so a Python master sees the same exception type the book's code raises. */
class ValueError extends Error {
  override name = 'ValueError';
}

/** The lab's quote server, as lab tells its workers and the embedded lab (LAB_QUOTES_URL); null when none is known. */
export function labQuotesUrl(env: NodeJS.ProcessEnv = process.env): string | null {
  return env.LAB_QUOTES_URL?.trim() || null;
}

export const getRate = app.task('currency.get_rate', (pair: string, url_tmplt?: string | null) => {
  if (typeof pair !== 'string') throw new TypeError('get_rate() expects a currency pair string');
  const url = url_tmplt || labQuotesUrl();
  if (!url) {
    throw new TypeError(
      "get_rate() has no quote server: this worker's LAB_QUOTES_URL is not set (lab sets it for its workers; `lab env` prints the lab's) — set it, or pass url_tmplt, e.g. http://HOST4:8000/d/quotes.csv?s={}=X&f=p",
    );
  }
  return getRateLocal(pair, url);
}, { params: ['pair', 'url_tmplt'] });
