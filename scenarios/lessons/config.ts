/**
 * The book's config module (its config.py, read with app.config_from_object('config')), for the routing lesson:
 * Celery's own setting names, routing the CPU-bound sort to one queue and the I/O-bound rate fetch to another.
 * The book names its queues queue1 and queue2; a lesson run names them afresh (lab.lesson.routing.<random>.cpu
 * and .io) so that nothing left from an earlier run can take part — hence a function of the two names.
 *
 *     # In config.py
 *     CELERY_ROUTES = {'mergesort.sort': {'queue': 'queue1'},
 *                      'currency.get_rate': {'queue': 'queue2'}}
 */
export function bookConfig(queues: { cpu: string; io: string }): Record<string, unknown> {
  return {
    CELERY_ROUTES: {
      'mergesort.sort': { queue: queues.cpu },
      'currency.get_rate': { queue: queues.io },
    },
  };
}

/** Where the settings came from, for messages about them. */
export const CONFIG_SOURCE = 'scenarios/lessons/config.ts';
