/** The book chapter's lessons, in the order `lab run lessons` runs them (the order the chapter tells them). */
import type { AnyScenario } from '../scenario.js';
import { noWorkerLesson } from './no-worker.js';
import { exceptionLesson } from './exception.js';
import { retryLesson } from './retry.js';
import { expiresLesson } from './expires.js';
import { purgeLesson } from './purge.js';
import { routingLesson } from './routing.js';
import { poolsLesson } from './pools.js';
import { ignoreResultLesson } from './ignore-result.js';

/** `lab run <lesson>` prints what the book says first, then what happened. */
function withBookLine(s: AnyScenario): AnyScenario {
  const describe = s.describe;
  return { ...s, describe: (summary) => [`the book: ${s.lesson ?? s.summary}`, ...(describe ? describe.call(s, summary) : [])] };
}

export const LESSONS: readonly AnyScenario[] = [noWorkerLesson, purgeLesson, exceptionLesson, retryLesson, expiresLesson, routingLesson, poolsLesson, ignoreResultLesson].map(withBookLine);
