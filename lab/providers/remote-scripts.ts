/**
 * The POSIX sh scripts that act on the processes and files of a host lab reaches only by running commands there —
 * over ssh, or through the Docker exec API — written once and used by both providers. Each takes positional
 * arguments (never text pasted into the script) and prints words or `key=value` lines that the parsers below read.
 * They stay within what dash, busybox ash and bash all do: a Raspberry Pi, a Debian VM and an alpine image alike.
 */
import { parseProcStat } from '../topology/proc.js';
import type { ProcessCheck, ProcessIdentity, ProcStat } from '../topology/proc.js';

/**
 * `<op> <pid> <starttime> [arg]` with op `check`, `signal <SIG>` or `stop <grace in tenths of a second>`. Prints
 * same | gone | reused: nothing is signalled unless /proc/<pid>/stat still shows the recorded start time. A signal
 * goes to the process group when the process leads one (a spawned service does), else to the process alone.
 * `stop`: SIGTERM, up to the grace period, SIGKILL, then up to 2 s more; prints `same` if it still runs after that.
 * Exit 1 (with a reason on stderr) when the process runs but cannot be signalled (no permission).
 */
export const PROC_SCRIPT = [
  'op=$1; pid=$2; want=$3; arg=$4',
  'state() {',
  '  s=$(cat "/proc/$pid/stat" 2>/dev/null) || { echo gone; return; }',
  '  set -f; set -- ${s##*\\)}; set +f',
  '  if [ "$1" = Z ]; then echo gone; elif [ "${20}" = "$want" ]; then echo same; else echo reused; fi',
  '}',
  'sig() {',
  '  n=$1',
  '  s=$(cat "/proc/$pid/stat" 2>/dev/null) || return 1',
  '  set -f; set -- ${s##*\\)}; set +f',
  '  if [ "$3" = "$pid" ] && kill -s "$n" -- "-$pid" 2>/dev/null; then return 0; fi',
  '  kill -s "$n" "$pid" 2>/dev/null && return 0',
  '  [ "$(state)" = same ] && { echo "cannot send SIG$n to process $pid (not allowed?)" >&2; exit 1; }',
  '  return 1',
  '}',
  'now=$(state)',
  'if [ "$now" != same ] || [ "$op" = check ]; then echo "$now"; exit 0; fi',
  'if [ "$op" = signal ]; then if sig "$arg"; then echo same; else state; fi; exit 0; fi',
  'sig TERM; i=0',
  'while [ "$(state)" = same ]; do',
  '  [ "$i" -eq "$arg" ] && sig KILL',
  '  [ "$i" -ge $((arg + 20)) ] && { echo same; exit 0; }',
  '  sleep 0.1; i=$((i + 1))',
  'done',
  'echo gone',
].join('\n');

/**
 * `<NAME=value> <op> [arg]`: the processes whose environment holds exactly NAME=value (a token lab put there
 * before the spawn — never a name match), with op `list` (print their /proc stat lines), `signal <SIG>` (print their
 * pids, signal them) or `stop <grace in tenths>` (SIGTERM, wait, SIGKILL, wait up to 2 s; prints `left <pids>` for
 * any that survive). GNU grep reads every environment in one go; elsewhere (busybox) one `tr | grep` per process.
 */
export const TOKEN_SCRIPT = [
  't=$1; op=$2; arg=$3',
  'if printf "x\\000" | grep -qzxF x 2>/dev/null; then',
  '  find() { grep -lzxF -e "$t" /proc/[0-9]*/environ 2>/dev/null | while IFS= read -r f; do p=${f#/proc/}; p=${p%/environ}; [ "$p" = "$$" ] || echo "$p"; done; }',
  'else',
  '  find() { for e in /proc/[0-9]*/environ; do p=${e#/proc/}; p=${p%/environ}; [ "$p" = "$$" ] && continue',
  '    tr "\\000" "\\n" < "$e" 2>/dev/null | grep -qxF -- "$t" && echo "$p"; done; }',
  'fi',
  'pids=$(find)',
  'if [ "$op" = list ]; then for p in $pids; do cat "/proc/$p/stat" 2>/dev/null; done; exit 0; fi',
  '[ -n "$pids" ] || exit 0',
  'if [ "$op" = signal ]; then echo $pids; kill -s "$arg" $pids 2>/dev/null; exit 0; fi',
  'kill -s TERM $pids 2>/dev/null',
  'i=0; while [ "$i" -lt "$arg" ] && [ -n "$(find)" ]; do sleep 0.1; i=$((i + 1)); done',
  'left=$(find); [ -n "$left" ] || exit 0',
  'kill -s KILL $left 2>/dev/null',
  'i=0; while [ "$i" -lt 20 ] && [ -n "$(find)" ]; do sleep 0.1; i=$((i + 1)); done',
  'left=$(find); [ -z "$left" ] || echo "left" $left',
  'exit 0',
].join('\n');

/**
 * `<log> <user> <cwd> argv…`: start argv detached — its own session (setsid, when the host has it), output appended
 * to <log>, stdin from /dev/null — then print `pid=<pid>` and `stat=<its /proc stat line>`. Environment lines
 * `NAME=value` on stdin (up to an empty line) are exported first, so secrets never sit on a command line `ps` shows;
 * the caller's environment is passed on too. With <user> (run as root), the command runs as that user through
 * `setpriv`, which execs — no process in between; a user the host does not know is noted in the log and the
 * command runs as root. Exit 127 (`lab: command not found: …` on stderr) when argv[0] is not there.
 */
export const SPAWN_SCRIPT = [
  'log=$1; user=$2; dir=$3; shift 3',
  'while IFS= read -r kv && [ -n "$kv" ]; do export "$kv"; done',
  'mkdir -p "${log%/*}" 2>/dev/null; { : >> "$log"; } 2>/dev/null || { echo "lab: cannot create $log" >&2; exit 120; }',
  '[ -z "$dir" ] || cd -- "$dir" || exit 121',
  'command -v "$1" >/dev/null 2>&1 || { echo "lab: command not found: $1" >&2; exit 127; }',
  'if [ -n "$user" ]; then',
  '  if ent=$(getent passwd "$user"); then',
  '    IFS=: read -r _n _p uid gid _rest <<EOF',
  '$ent',
  'EOF',
  '    command -v setpriv >/dev/null 2>&1 || { echo "lab: setpriv (util-linux) is needed to run as $user" >&2; exit 126; }',
  '    set -- setpriv --reuid="$uid" --regid="$gid" --init-groups -- "$@"',
  '  else',
  '    echo "lab: no user $user here: running $1 as root" >> "$log"',
  '  fi',
  'fi',
  'if command -v setsid >/dev/null 2>&1; then set -- setsid "$@"; fi',
  '"$@" >> "$log" 2>&1 < /dev/null &',
  'pid=$!',
  'echo "pid=$pid"',
  'printf "stat="; cat "/proc/$pid/stat" 2>/dev/null || echo',
].join('\n');

/** What SPAWN_SCRIPT prints on stderr (after this prefix) when the command is not there. */
export const NOT_FOUND_PREFIX = 'lab: command not found: ';

/**
 * `<path> [sha256]`: replace the file's content with stdin IN PLACE (same inode — /etc/hosts may be a bind mount,
 * which a rename would fail on or detach). With a sha256, only if the file still has that content: exit 75 when it
 * changed meanwhile (the caller reads it again and retries), so an edit of the lab's block never loses another's.
 */
export const REWRITE_SCRIPT = [
  'f=$1; want=$2',
  'if [ -n "$want" ]; then',
  '  cur=$(sha256sum < "$f") || exit 1',
  '  cur=${cur%% *}',
  '  if [ "$cur" != "$want" ]; then echo "changed meanwhile" >&2; exit 75; fi',
  'fi',
  'cat > "$f"',
].join('\n');

/** The exit code of REWRITE_SCRIPT when the file changed between reading and writing it. */
export const REWRITE_CHANGED = 75;

/** PROC_SCRIPT's verdict (its last line), or null when it printed none. */
export function parseCheck(stdout: string): Exclude<ProcessCheck, 'unknown'> | null {
  const word = stdout.trim().split('\n').pop();
  return word === 'same' || word === 'gone' || word === 'reused' ? word : null;
}

/** The live processes in TOKEN_SCRIPT `list` output (zombies are as good as gone). */
export function parseTokenList(stdout: string): ProcessIdentity[] {
  const out: ProcessIdentity[] = [];
  for (const line of stdout.split('\n')) {
    const st = parseProcStat(line);
    if (st && st.state !== 'Z') out.push({ pid: st.pid, startTime: st.startTime });
  }
  return out;
}

/** Pids TOKEN_SCRIPT `stop` could not stop (its `left …` line), [] when every one went. */
export function parseTokenLeft(stdout: string): number[] {
  const line = stdout.split('\n').find((l) => l.startsWith('left '));
  return line ? line.slice(5).trim().split(/\s+/).map(Number).filter(Number.isInteger) : [];
}

/** SPAWN_SCRIPT's output: the pid it started, and that pid's stat line when the process was still there. */
export function parseSpawn(stdout: string): { pid: number; stat: ProcStat | null } {
  const lines = stdout.split('\n');
  const pid = Number(lines.find((l) => l.startsWith('pid='))?.slice(4));
  const stat = parseProcStat(lines.find((l) => l.startsWith('stat='))?.slice(5) ?? '');
  return { pid: Number.isInteger(pid) && pid > 0 ? pid : NaN, stat };
}

/** A grace period for PROC_SCRIPT / TOKEN_SCRIPT: milliseconds → whole tenths of a second (at least one). */
export function tenths(ms: number): string {
  return String(Math.max(1, Math.ceil(ms / 100)));
}

/** `SIGTERM` → `TERM`, refusing anything that is not a signal name (it becomes a script argument). */
export function signalName(signal: string): string | null {
  const name = signal.replace(/^SIG/, '');
  return /^[A-Z][A-Z0-9]*$/.test(name) ? name : null;
}

/**
 * `<marker> <tail bytes> item…`: everything `lab up` again and `lab status` check on one host, in one command (one
 * round trip: an `ip netns exec`, an ssh channel, a Docker exec) instead of one per process, file and lookup. Items:
 * `p:<pid>:<starttime>` prints `proc <pid> <starttime> same|gone|reused` (as PROC_SCRIPT check); `f:<path>` prints `file <path>`,
 * the file's last <tail bytes>, then the marker line (or `nofile <path>`); `h:<name>` names are looked up together
 * with one `getent hosts` after the rest, printed between `getent <exit code>` and the marker. The marker is the
 * caller's own random word, so a file cannot end a section early.
 */
export const HOST_CHECK_SCRIPT = [
  'm=$1; n=$2; shift 2',
  'names=',
  'echo reachable',
  'for a in "$@"; do',
  '  case $a in',
  '    p:*) r=${a#p:}; pid=${r%%:*}; want=${r#*:}',
  '      if { read -r s < "/proc/$pid/stat"; } 2>/dev/null; then',
  '        set -f; set -- ${s##*\\)}; set +f',
  '        if [ "$1" = Z ]; then v=gone; elif [ "${20}" = "$want" ]; then v=same; else v=reused; fi',
  '      else v=gone; fi',
  '      echo "proc $pid $want $v" ;;',
  '    f:*) f=${a#f:}',
  '      if [ -r "$f" ]; then echo "file $f"; tail -c "$n" -- "$f" 2>/dev/null; echo; echo "$m"; else echo "nofile $f"; fi ;;',
  '    h:*) names="$names ${a#h:}" ;;',
  '  esac',
  'done',
  'if [ -n "$names" ]; then',
  '  set -f; out=$(getent hosts $names 2>&1); c=$?; set +f',
  '  echo "getent $c"; [ -z "$out" ] || echo "$out"; echo "$m"',
  'fi',
].join('\n');

/** HOST_CHECK_SCRIPT's output: each process's verdict, each file's text ('' when not there), the lookup. */
export interface HostCheckOutput {
  /** The script ran to its first line: the host runs commands. */
  reachable: boolean;
  procs: Map<string, Exclude<ProcessCheck, 'unknown'>>;
  /** Path → its last bytes as text without trailing whitespace; absent paths map to ''. */
  files: Map<string, string>;
  /** `getent hosts` exit code and output (stdout and stderr), when names were asked. */
  getent: { exitCode: number; output: string } | null;
}

/** The key of a process in HostCheckOutput.procs. */
export const procKey = (pid: number, startTime: number): string => `${pid}:${startTime}`;

/** Read HOST_CHECK_SCRIPT's output (`marker`: the word it was given). */
export function parseHostCheck(stdout: string, marker: string): HostCheckOutput {
  const lines = stdout.split('\n');
  const out: HostCheckOutput = { reachable: lines[0] === 'reachable', procs: new Map(), files: new Map(), getent: null };
  const section = (from: number): [string, number] => {
    let end = lines.indexOf(marker, from);
    if (end < 0) end = lines.length;
    return [lines.slice(from, end).join('\n').trimEnd(), end + 1];
  };
  for (let i = out.reachable ? 1 : 0; i < lines.length; ) {
    const line = lines[i]!;
    const proc = /^proc (\d+) (\d+) (same|gone|reused)$/.exec(line);
    if (proc) {
      out.procs.set(procKey(Number(proc[1]), Number(proc[2])), proc[3] as 'same' | 'gone' | 'reused');
      i++;
    } else if (line.startsWith('file ')) {
      const [text, next] = section(i + 1);
      out.files.set(line.slice(5), text);
      i = next;
    } else if (line.startsWith('nofile ')) {
      out.files.set(line.slice(7), '');
      i++;
    } else if (/^getent \d+$/.test(line)) {
      const [text, next] = section(i + 1);
      out.getent = { exitCode: Number(line.slice(7)), output: text };
      i = next;
    } else i++;
  }
  return out;
}
