/** The embedded lab's broker passes the same conformance suite as RabbitMQ. */
import { randomBytes } from 'node:crypto';
import { MemoryBroker } from '../../../lab/queue/brokers/memory-broker.js';
import { brokerConformance } from './broker-conformance.js';

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
