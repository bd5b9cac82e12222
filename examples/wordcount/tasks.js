// The tasks of the word-count example: plain JavaScript, importing lab's runtime as a user's package would
// (`npm install` lab, then `import { App } from 'lab/queue'`). Workers load this module: `lab worker -A ./tasks.js`,
// the embedded lab for `lab run ./scenario.js`, or a provisioned lab's workers through the inventory's `tasks:`.
import { App } from 'lab/queue';

export const app = new App('wordcount');

/** Count the words of one chunk of text: { word: count }. */
export function countWords(text) {
  const counts = {};
  for (const w of text.toLowerCase().match(/[a-z']+/g) ?? []) counts[w] = (counts[w] ?? 0) + 1;
  return counts;
}

// Task names are strings, as Python peers would call them.
export const count = app.task('wordcount.count', countWords, { params: ['text'] });
