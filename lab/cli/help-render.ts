/**
 * yargs renders a command's whole help text right after its handler starts — `usage.cacheHelpMessage()`, kept in
 * case the handler later calls showHelp() once yargs has reset its state. lab's handlers never show help (errors go
 * to the error boundary as one line; `--help` and usage errors are answered before any handler runs), and that
 * render (cliui, string-width, wrap-ansi over every option of the command) is 60–120 ms of main-thread CPU in the
 * middle of every command's own work: `lab up` and `lab status` wait on it.
 */

interface UsageInstance {
  cacheHelpMessage?: () => void;
}
interface WithInternals {
  getInternalMethods?: () => { getUsageInstance?: () => UsageInstance | undefined };
}

/**
 * Make yargs skip that render. Returns false (and changes nothing) when this yargs has no such method — a newer
 * yargs that renders help lazily, or one that moved it: the tests fail then, so the saving is not lost unseen.
 */
export function skipHelpRenderAfterHandler(cli: unknown): boolean {
  const usage = (cli as WithInternals).getInternalMethods?.().getUsageInstance?.();
  if (!usage || typeof usage.cacheHelpMessage !== 'function') return false;
  usage.cacheHelpMessage = () => undefined;
  return true;
}
