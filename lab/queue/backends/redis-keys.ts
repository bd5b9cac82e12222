/**
 * Celery's result keys in Redis (its KeyValueStoreBackend). Python peers read and write the same keys, so the
 * spelling is fixed:
 * - `celery-task-meta-<task id>`: a task's meta JSON; also the pub/sub channel each stored state is published on.
 * - `celery-taskset-meta-<group id>`: {"result": GroupResult.as_tuple()}.
 * - `celery-taskset-meta-<group id>.s`, `.t`, `.j`: a chord's header size, extra count, and the sorted set of its
 *   finished header parts.
 */
export const TASK_KEY_PREFIX = 'celery-task-meta-';
export const GROUP_KEY_PREFIX = 'celery-taskset-meta-';
