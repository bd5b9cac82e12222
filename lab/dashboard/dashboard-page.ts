/**
 * The dashboard's one page: HTML, CSS and script inline (no CDN, nothing fetched but the event stream), charts drawn
 * as SVG by the script. Everything shown goes through textContent, never innerHTML: task names, exceptions and
 * tracebacks come from workers and may hold markup. The nonce ties the inline script and style to the page's CSP.
 */
export function dashboardPage(nonce: string, streamPath: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>lab dashboard</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style nonce="${nonce}">
  body { font: 14px/1.4 system-ui, sans-serif; margin: 1.2em; color: #222; background: #fafafa; }
  h1 { font-size: 1.3em; margin: 0 0 .2em; } h2 { font-size: 1.05em; margin: 1.2em 0 .4em; }
  #status { color: #666; } #status.down { color: #b00; }
  table { border-collapse: collapse; background: #fff; min-width: 40em; }
  th, td { border: 1px solid #ddd; padding: .25em .6em; text-align: left; vertical-align: top; }
  td.num { text-align: right; font-variant-numeric: tabular-nums; }
  .on { color: #080; } .off { color: #b00; }
  .tiles { display: flex; gap: 1em; flex-wrap: wrap; }
  .tile { background: #fff; border: 1px solid #ddd; padding: .5em 1em; min-width: 9em; }
  .tile b { display: block; font-size: 1.5em; }
  svg { background: #fff; border: 1px solid #ddd; }
  pre { background: #fff; border: 1px solid #eee; padding: .5em; max-height: 14em; overflow: auto; font-size: 12px; margin: .3em 0 0; }
  .failure { margin-bottom: .8em; }
</style>
</head>
<body>
<h1>lab dashboard</h1>
<div id="status">connecting…</div>
<div class="tiles">
  <div class="tile">tasks/s (last 5 s)<b id="rate">0</b></div>
  <div class="tile">succeeded<b id="succeeded">0</b></div>
  <div class="tile">failed<b id="failed">0</b></div>
  <div class="tile">latency p50 (last 5 s)<b id="p50">—</b></div>
  <div class="tile">events<b id="events">0</b></div>
</div>
<h2>Workers</h2>
<table id="workers"><thead><tr><th>worker</th><th>state</th><th>software</th><th>pool</th><th>concurrency</th><th>active</th><th>processed</th><th>heartbeats</th><th>last seen</th></tr></thead><tbody></tbody></table>
<h2>Queues</h2>
<table id="queues"><thead><tr><th>queue</th><th>waiting</th><th>consumers</th><th>change/s</th></tr></thead><tbody></tbody></table>
<h2>Tasks finished per second</h2>
<svg id="throughput" data-chart="throughput" width="720" height="160" role="img" aria-label="tasks finished per second"></svg>
<h2>Latency, sent (or received) → done (ms): p50 and max per second</h2>
<svg id="latency" data-chart="latency" width="720" height="160" role="img" aria-label="latency per second"></svg>
<h2>Faults (lab fault, lab run --faults): shaded on the charts</h2>
<table id="faults"><thead><tr><th>fault</th><th>kind</th><th>from</th><th>to</th></tr></thead><tbody></tbody></table>
<h2>Latest failures</h2>
<div id="failures"><p>none yet</p></div>
<script nonce="${nonce}">
(() => {
  const NS = 'http://www.w3.org/2000/svg';
  const $ = (id) => document.getElementById(id);
  const cell = (tr, text, cls) => { const td = document.createElement('td'); td.textContent = text; if (cls) td.className = cls; tr.appendChild(td); return td; };
  const fmt = (v, d = 0) => v === null || v === undefined ? '—' : Number(v).toFixed(d);
  function rows(tbody, items, fill) {
    tbody.textContent = '';
    for (const it of items) { const tr = document.createElement('tr'); fill(tr, it); tbody.appendChild(tr); }
  }
  function chart(svg, series, colors, span, faults) {
    while (svg.firstChild) svg.removeChild(svg.firstChild);
    const w = svg.width.baseVal.value, h = svg.height.baseVal.value, pad = 30;
    const n = series[0].length;
    // A fault's time as a band behind the lines (span: the first and last second shown).
    for (const f of faults) {
      const a = Math.max(f.from, span[0]), b = Math.min(f.to === null ? span[1] + 1 : f.to, span[1] + 1);
      if (b <= a) continue;
      const x0 = pad + ((a - span[0]) / Math.max(1, n - 1)) * (w - pad - 5), x1 = pad + ((b - span[0]) / Math.max(1, n - 1)) * (w - pad - 5);
      const band = document.createElementNS(NS, 'rect');
      band.setAttribute('x', x0.toFixed(1)); band.setAttribute('width', Math.max(1, x1 - x0).toFixed(1)); band.setAttribute('y', 0); band.setAttribute('height', h - pad + 5);
      band.setAttribute('fill', '#f3c'); band.setAttribute('fill-opacity', '0.15'); band.setAttribute('data-fault', f.id);
      const title = document.createElementNS(NS, 'title'); title.textContent = f.text; band.appendChild(title);
      svg.appendChild(band);
    }
    let max = 1;
    for (const s of series) for (const v of s) if (v !== null && v > max) max = v;
    const axis = document.createElementNS(NS, 'line');
    axis.setAttribute('x1', pad); axis.setAttribute('x2', w - 5); axis.setAttribute('y1', h - pad + 5); axis.setAttribute('y2', h - pad + 5); axis.setAttribute('stroke', '#999');
    svg.appendChild(axis);
    const label = document.createElementNS(NS, 'text');
    label.setAttribute('x', 2); label.setAttribute('y', 12); label.setAttribute('font-size', '11'); label.textContent = fmt(max, max < 10 ? 1 : 0);
    svg.appendChild(label);
    series.forEach((s, i) => {
      let d = '';
      s.forEach((v, j) => {
        if (v === null) return;
        const x = pad + (j / Math.max(1, n - 1)) * (w - pad - 5);
        const y = h - pad + 5 - (v / max) * (h - pad - 10);
        d += (d ? 'L' : 'M') + x.toFixed(1) + ' ' + y.toFixed(1);
      });
      const path = document.createElementNS(NS, 'path');
      path.setAttribute('d', d || 'M0 0'); path.setAttribute('fill', 'none'); path.setAttribute('stroke', colors[i]); path.setAttribute('stroke-width', '1.5');
      svg.appendChild(path);
    });
  }
  function render(s) {
    const last5 = s.seconds.slice(-6, -1);
    const done5 = last5.reduce((a, b) => a + b.succeeded + b.failed, 0);
    $('rate').textContent = fmt(done5 / 5, 1);
    $('succeeded').textContent = s.totals.succeeded;
    $('failed').textContent = s.totals.failed;
    $('events').textContent = s.totals.events;
    const p50s = last5.map((b) => b.p50Ms).filter((v) => v !== null).sort((a, b) => a - b);
    $('p50').textContent = p50s.length ? fmt(p50s[Math.floor(p50s.length / 2)], 1) + ' ms' : '—';
    rows($('workers').tBodies[0], s.workers, (tr, w) => {
      cell(tr, w.hostname);
      cell(tr, w.online ? 'online' : 'offline', w.online ? 'on' : 'off');
      cell(tr, w.swIdent || '—');
      cell(tr, w.pool || '—');
      cell(tr, fmt(w.concurrency), 'num');
      cell(tr, fmt(w.active), 'num');
      cell(tr, fmt(w.processed), 'num');
      cell(tr, fmt(w.heartbeats), 'num');
      cell(tr, w.lastSeenS === null ? '—' : fmt(w.lastSeenS, 1) + ' s ago', 'num');
    });
    rows($('queues').tBodies[0], s.queues, (tr, q) => {
      cell(tr, q.name);
      cell(tr, fmt(q.messages), 'num');
      cell(tr, fmt(q.consumers), 'num');
      cell(tr, q.deltaPerS === null ? '—' : (q.deltaPerS > 0 ? '+' : '') + fmt(q.deltaPerS, 1), 'num');
    });
    const span = [s.seconds[0].t, s.seconds[s.seconds.length - 1].t];
    chart($('throughput'), [s.seconds.map((b) => b.succeeded), s.seconds.map((b) => b.failed)], ['#2a6', '#c33'], span, s.faults);
    chart($('latency'), [s.seconds.map((b) => b.p50Ms), s.seconds.map((b) => b.maxMs)], ['#36c', '#c83'], span, s.faults);
    rows($('faults').tBodies[0], s.faults, (tr, f) => {
      cell(tr, f.text);
      cell(tr, f.kind);
      cell(tr, new Date(f.from * 1000).toLocaleTimeString());
      cell(tr, f.to === null ? 'in effect' : new Date(f.to * 1000).toLocaleTimeString() + ' (healed, ' + fmt(f.to - f.from, 1) + ' s)');
    });
    const box = $('failures');
    box.textContent = '';
    if (!s.failures.length) { const p = document.createElement('p'); p.textContent = 'none yet'; box.appendChild(p); }
    for (const f of s.failures) {
      const div = document.createElement('div'); div.className = 'failure';
      const head = document.createElement('div');
      head.textContent = new Date(f.at * 1000).toLocaleTimeString() + ' · ' + (f.name || '?') + '[' + f.uuid + '] on ' + f.hostname + ': ' + f.exception;
      div.appendChild(head);
      if (f.traceback) { const pre = document.createElement('pre'); pre.textContent = f.traceback; div.appendChild(pre); }
      box.appendChild(div);
    }
  }
  const source = new EventSource(${JSON.stringify(streamPath)});
  source.onopen = () => { $('status').textContent = 'live'; $('status').className = ''; };
  source.onerror = () => { $('status').textContent = 'disconnected: retrying…'; $('status').className = 'down'; };
  source.onmessage = (m) => { const s = JSON.parse(m.data); $('status').textContent = 'live · ' + new Date(s.at * 1000).toLocaleTimeString(); render(s); };
})();
</script>
</body>
</html>
`;
}
