/** The embedded lab's result backend passes the same conformance suite as Redis. */
import { randomBytes } from 'node:crypto';
import { MemoryBackend } from '../../../lab/queue/backends/memory-backend.js';
import { backendConformance } from './backend-conformance.js';

// A fresh, privately named instance per test: nothing is shared, so cleanup is just close().
backendConformance(
  'memory',
  async () => {
    const b = new MemoryBackend(`test-${randomBytes(4).toString('hex')}`);
    await b.ready();
    return b;
  },
  async () => undefined,
);
