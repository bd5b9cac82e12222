/** Celery's monitoring tools against lab workers with Redis as the broker (kombu's PUBLISH/PSUBSCRIBE fanout). */
import { REDIS_URL, redis } from '../support/prereq.js';
import { celeryMonitoring } from './celery-monitoring.js';

celeryMonitoring({ label: 'Redis broker', brokerUrl: REDIS_URL, gate: redis });
