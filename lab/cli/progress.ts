/** A one-line progress counter on stderr (with ETA), only on a terminal and never under --json. */
import { performance } from 'node:perf_hooks';

export interface ProgressLine {
  update(done: number, total: number, text: string): void;
  /** Print a line that stays (above the progress line). */
  note(text: string): void;
  clear(): void;
}

export function progressLine(enabled: boolean, stream: NodeJS.WriteStream = process.stderr): ProgressLine {
  const active = enabled && stream.isTTY === true;
  const start = performance.now();
  let shown = false;
  let last = 0;
  return {
    update(done, total, text) {
      if (!active) return;
      const now = performance.now();
      if (now - last < 100 && done < total) return; // a terminal does not need more than 10 updates a second
      last = now;
      const elapsed = (now - start) / 1000;
      const eta = done > 0 ? (elapsed / done) * (total - done) : NaN;
      const etaText = Number.isFinite(eta) && done > 0 ? ` · ETA ${eta < 60 ? `${eta.toFixed(0)}s` : `${Math.floor(eta / 60)}m${Math.round(eta % 60)}s`}` : '';
      const line = `[${done}/${total}] ${text}${etaText}`;
      stream.write(`\r\x1b[K${line.slice(0, (stream.columns ?? 100) - 1)}`);
      shown = true;
    },
    note(text) {
      if (active && shown) stream.write('\r\x1b[K');
      stream.write(`${text}\n`);
    },
    clear() {
      if (active && shown) stream.write('\r\x1b[K');
      shown = false;
    },
  };
}
