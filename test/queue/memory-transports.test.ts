/** The embedded lab's transports pass the same conformance suites as RabbitMQ + Redis. */
import { randomBytes } from 'node:crypto';
import { MemoryBroker } from '../../lab/queue/brokers/memory-broker.js';
import { MemoryBackend } from '../../lab/queue/backends/memory-backend.js';
import { brokerConformance } from './broker-conformance.js';
import { backendConformance } from './backend-conformance.js';

// A fresh, privately named instance per test: nothing is shared, so cleanup is just close().
brokerConformance(
  'memory',
  async () => {
    const b = new MemoryBroker(`test-${randomBytes(4).toString('hex')}`);
    await b.ready();
    return b;
  },
  async () => undefined,
);

backendConformance(
  'memory',
  async () => {
    const b = new MemoryBackend(`test-${randomBytes(4).toString('hex')}`);
    await b.ready();
    return b;
  },
  async () => undefined,
);
