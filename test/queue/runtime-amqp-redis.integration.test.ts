import { runtimeConformance } from './runtime-conformance.js';
import { RABBITMQ_URL, REDIS_URL, rabbitmq, redis } from '../support/prereq.js';

runtimeConformance({
  name: 'RabbitMQ + Redis',
  brokerUrl: RABBITMQ_URL,
  backendUrl: REDIS_URL,
  available: async (t) => (await rabbitmq(t)) && (await redis(t)),
});
