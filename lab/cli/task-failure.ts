/**
 * A failed task as people and programs read it: the remote traceback in Python's form (as the book prints it,
 * "Traceback (most recent call last): … Exception: Booo!") and the failure as JSON.
 */

export interface TaskFailure {
  id: string;
  state: 'FAILURE' | 'REVOKED';
  exc_type: string;
  exc_message: string;
  traceback: string | null;
}

/** One JS stack frame ("    at fn (file:///x.js:10:5)") as Python prints a frame. */
function pythonFrame(line: string): string {
  const body = line.trim().replace(/^at /, '').replace(/^async /, '');
  const withFn = /^(.*?) \((.*)\)$/.exec(body);
  const fn = withFn ? withFn[1] : '<anonymous>';
  const where = withFn ? withFn[2] : body;
  const loc = /^(.*?):(\d+):(\d+)$/.exec(where);
  const file = (loc ? loc[1] : where).replace(/^file:\/\//, '');
  return loc ? `  File "${file}", line ${loc[2]}, in ${fn}` : `  File "${file}", in ${fn}`;
}

/**
 * The traceback a worker stored, printed as Python does: most recent call last, then "Type: message". A Python
 * worker's traceback is already in that form and is kept as it is; a lab worker stores a JavaScript stack (most
 * recent call first), whose frames are turned round and rewritten — the runtime's own frames stay, as Celery's
 * trace.py frames do in Python's.
 */
export function pythonTraceback(excType: string, excMessage: string, traceback: string | null): string {
  const last = excMessage === '' ? excType : `${excType}: ${excMessage}`;
  const tb = (traceback ?? '').replace(/\s+$/, '');
  if (/^Traceback \(most recent call last\):/.test(tb)) return `${tb}\n`;
  // Node's own frames (node:internal/…, node:async_hooks) are left out, as Python leaves out C frames.
  const frames = tb.split('\n').filter((l) => /^\s+at /.test(l) && !/\(node:[^)]*\)$|^\s+at node:/.test(l));
  if (frames.length === 0) return `Traceback (most recent call last):\n  (the worker stored no traceback)\n${last}\n`;
  return ['Traceback (most recent call last):', ...frames.reverse().map(pythonFrame), last].join('\n') + '\n';
}

export function failureJson(f: TaskFailure): string {
  return `${JSON.stringify({ id: f.id, state: f.state, exc_type: f.exc_type, exc_message: f.exc_message, traceback: f.traceback })}\n`;
}
