/** Celery's monitoring tools against lab workers with RabbitMQ as the broker (py-amqp on the Python side). */
import { RABBITMQ_URL, rabbitmq } from '../support/prereq.js';
import { celeryMonitoring } from './celery-monitoring.js';

celeryMonitoring({ label: 'RabbitMQ', brokerUrl: RABBITMQ_URL, gate: rabbitmq });
