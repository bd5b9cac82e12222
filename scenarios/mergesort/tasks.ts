/** The book's mergesort.py: one task, mergesort.sort, that a Python master can call too. */
import { App } from '../../lab/queue/index.js';
import { mergeSort } from './merge-sort.js';

export const app = new App('mergesort', { include: [new URL('./tasks.js', import.meta.url)] });

export const sort = app.task('mergesort.sort', (xs: unknown): number[] => {
  if (!Array.isArray(xs)) throw new TypeError(`sort() expects a list of numbers, got ${xs === null ? 'None' : typeof xs}`);
  for (let i = 0; i < xs.length; i++) {
    if (typeof xs[i] !== 'number') throw new TypeError(`sort() expects a list of numbers; item ${i} is ${JSON.stringify(xs[i])}`);
  }
  return mergeSort(xs as number[]);
});
