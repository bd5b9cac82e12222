/** The scenarios `lab run` knows, by name: the book's three programs, then its lessons. */
import type { AnyScenario } from './scenario.js';
import { echoScenario } from './echo/echo.js';
import { currencyScenario } from './currency/currency.js';
import { mergesortScenario } from './mergesort/mergesort.js';
import { LESSONS } from './lessons/index.js';
import { ledgerScenario } from './ledger/ledger.js';

export { LESSONS };

export const SCENARIOS: readonly AnyScenario[] = [echoScenario, currencyScenario, mergesortScenario, ledgerScenario, ...LESSONS];

export function findScenario(name: string): AnyScenario | undefined {
  return SCENARIOS.find((s) => s.name === name);
}

/** Every scenario's task module, once each: what a lab worker imports to serve all of them (`-A scenarios`). */
export { builtinTaskModules as allTaskModules } from './task-modules.js';
