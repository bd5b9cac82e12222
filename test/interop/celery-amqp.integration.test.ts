/** Python Celery 5.2 ⇄ lab with RabbitMQ as the broker (py-amqp on the Python side) and Redis as the backend. */
import { RABBITMQ_URL, rabbitmq } from '../support/prereq.js';
import { celeryInterop } from './celery-interop.js';

celeryInterop({ label: 'RabbitMQ', brokerUrl: RABBITMQ_URL, gate: rabbitmq, redeliveredFlag: false });
