/**
 * Python Celery 5.2 ⇄ lab with Redis as the broker too (kombu's Redis transport: broker='redis://…'), in a database of
 * its own (the transport's unacked hash is per database). Every interop case of the RabbitMQ suite, on Redis.
 */
import { REDIS_URL, redis } from '../support/prereq.js';
import { celeryInterop } from './celery-interop.js';

celeryInterop({ label: 'Redis broker', brokerUrl: REDIS_URL.replace(/\/\d*(\?.*)?$/, '/3$1'), gate: redis, redeliveredFlag: null });
