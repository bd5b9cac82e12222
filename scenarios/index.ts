/** The scenarios `lab run` knows, by name. */
import type { AnyScenario } from './scenario.js';
import { echoScenario } from './echo/echo.js';
import { currencyScenario } from './currency/currency.js';
import { mergesortScenario } from './mergesort/mergesort.js';

export const SCENARIOS: readonly AnyScenario[] = [echoScenario, currencyScenario, mergesortScenario];

export function findScenario(name: string): AnyScenario | undefined {
  return SCENARIOS.find((s) => s.name === name);
}

/** Every scenario's task module: what a lab worker imports to serve all of them. */
export function allTaskModules(): URL[] {
  return SCENARIOS.map((s) => s.tasksModule);
}
