// The koyo status page: no build step, no external requests. Reads server-sent events from
// /events (meta, then the history, then one sample per second) and draws with uPlot.
/* global uPlot, window, document, getComputedStyle, EventSource */
'use strict';
(function () {
  const $ = (id) => document.getElementById(id);
  const css = (name) => getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  const palette = [
    '#1e88e5',
    '#43a047',
    '#fb8c00',
    '#8e24aa',
    '#e53935',
    '#00acc1',
    '#6d4c41',
    '#c0ca33',
  ];
  let historySeconds = 900;
  const data = { t: [], lag: [], p50: [], p99: [], tables: new Map() };
  const charts = {};
  window.koyoStatus = { data, charts, samples: 0 };

  function bytes(n) {
    if (n === null || n === undefined) return '-';
    const units = ['B', 'kB', 'MB', 'GB', 'TB'];
    let i = 0;
    while (Math.abs(n) >= 1024 && i < units.length - 1) {
      n /= 1024;
      i++;
    }
    return (i === 0 ? n : n.toFixed(1)) + ' ' + units[i];
  }
  const count = (n) =>
    n === null || n === undefined ? '-' : Math.round(n).toLocaleString('en-US');
  const ms = (n) =>
    n === null || n === undefined
      ? '-'
      : n < 1
        ? n.toFixed(2)
        : n < 10
          ? n.toFixed(1)
          : Math.round(n).toLocaleString('en-US');
  const ago = (iso) => {
    if (!iso) return '-';
    const s = Math.max(0, (Date.now() - Date.parse(iso)) / 1000);
    return (
      new Date(iso).toLocaleTimeString() +
      ' (' +
      (s < 60 ? Math.round(s) + ' s' : Math.round(s / 60) + ' min') +
      ' ago)'
    );
  };
  const set = (id, text, bad) => {
    const el = $(id);
    el.textContent = text;
    if (bad !== undefined) el.classList.toggle('bad', bad);
  };

  function axes() {
    const fg = css('--muted');
    const grid = css('--line');
    return [
      { stroke: fg, grid: { stroke: grid }, ticks: { stroke: grid } },
      { stroke: fg, grid: { stroke: grid }, ticks: { stroke: grid }, size: 60 },
    ];
  }
  function makeChart(key, el, series) {
    if (charts[key]) charts[key].destroy();
    const width = Math.max(300, el.clientWidth || 400);
    charts[key] = new uPlot(
      { width, height: 200, series: [{}].concat(series), axes: axes(), legend: { live: false } },
      [[]].concat(series.map(() => [])),
      el,
    );
  }
  function tableSeries() {
    return [...data.tables.keys()].map((name, i) => ({
      label: name,
      stroke: palette[i % palette.length],
      width: 1.5,
    }));
  }
  function buildCharts() {
    makeChart('lag', $('chart-lag'), [
      {
        label: 'lag',
        stroke: palette[0],
        width: 1.5,
        fill: palette[0] + '22',
        value: (u, v) => bytes(v),
      },
    ]);
    makeChart('rate', $('chart-rate'), tableSeries());
    makeChart('latency', $('chart-latency'), [
      { label: 'p50', stroke: palette[1], width: 1.5 },
      { label: 'p99', stroke: palette[4], width: 1.5 },
    ]);
  }
  function redraw() {
    if (!charts.lag) return;
    charts.lag.setData([data.t, data.lag]);
    charts.latency.setData([data.t, data.p50, data.p99]);
    charts.rate.setData([data.t].concat([...data.tables.values()]));
  }

  function push(sample) {
    const d = sample.dispatcher;
    window.koyoStatus.samples++;
    if (!d) return;
    data.t.push(sample.t);
    data.lag.push(d.lagBytes);
    data.p50.push(d.handlerP50Ms);
    data.p99.push(d.handlerP99Ms);
    let added = false;
    for (const name of Object.keys(d.tableRates)) {
      if (!data.tables.has(name)) {
        data.tables.set(
          name,
          data.t.slice(0, -1).map(() => null),
        );
        added = true;
      }
    }
    for (const [name, values] of data.tables)
      values.push(name in d.tableRates ? d.tableRates[name] : null);
    while (data.t.length > historySeconds) {
      data.t.shift();
      data.lag.shift();
      data.p50.shift();
      data.p99.shift();
      for (const v of data.tables.values()) v.shift();
    }
    if (added && charts.rate) makeChart('rate', $('chart-rate'), tableSeries());
  }

  function show(sample) {
    const d = sample.dispatcher;
    const r = sample.router;
    $('live').textContent = 'updated ' + new Date(sample.t * 1000).toLocaleTimeString();
    if (d) {
      $('dispatcher').hidden = false;
      const state = $('state');
      state.textContent = d.state;
      state.className = 'badge ' + d.state;
      set('lag', bytes(d.lagBytes));
      set('rate', count(d.changesPerSecond));
      set('changes', count(d.changes));
      set('latency', ms(d.handlerP50Ms) + ' / ' + ms(d.handlerP99Ms) + ' ms');
      set('errors', count(d.handlerErrors), d.handlerErrors > 0);
      set('dead', count(d.deadLettered), d.deadLettered > 0);
      set('reconnects', count(d.reconnects));
      set('ack', d.acknowledgedLsn);
      set('commit', ago(d.lastCommitTime));
      const message = d.error || (d.lastError && d.lastError.message);
      $('error-box').hidden = !message;
      $('last-error').textContent = message || '';
      $('error-at').textContent = d.error
        ? '(stopped the dispatcher)'
        : d.lastError
          ? new Date(d.lastError.at).toLocaleString()
          : '';
      const body = $('backfill').querySelector('tbody');
      body.textContent = '';
      $('backfill').hidden = d.backfill.length === 0;
      for (const b of d.backfill)
        addRow(body, [
          b.table,
          count(b.rows),
          b.estimatedTotal === null ? '-' : count(b.estimatedTotal),
          count(b.rowsPerSecond),
          b.state,
        ]);
    } else if (r) {
      const state = $('state');
      state.textContent = 'router';
      state.className = 'badge running';
    }
    if (r) {
      $('router').hidden = false;
      set('qps', count(r.queriesPerSecond));
      set('primary-queries', count(r.primary.queries));
      set('fallbacks', count(r.fallbacks));
      set('retries', count(r.retries));
      const body = $('replicas').querySelector('tbody');
      body.textContent = '';
      for (const x of r.replicas) {
        const row = addRow(body, [
          x.name,
          x.healthy ? (x.withinLag ? 'healthy' : 'lagging') : 'ejected',
          bytes(x.lagBytes),
          x.lagMs === null ? '-' : ms(x.lagMs) + ' ms',
          count(x.queries),
          count(x.ejections),
          x.lastError || '',
        ]);
        row.children[1].className = x.healthy && x.withinLag ? 'ok' : 'bad';
      }
    }
  }
  function addRow(body, cells) {
    const tr = document.createElement('tr');
    for (const c of cells) {
      const td = document.createElement('td');
      td.textContent = c;
      tr.appendChild(td);
    }
    body.appendChild(tr);
    return tr;
  }

  const events = new EventSource('/events');
  events.addEventListener('meta', (e) => {
    const meta = JSON.parse(e.data);
    historySeconds = meta.historySeconds;
    $('title').textContent = meta.title;
    document.title = meta.title + ' - koyo status';
    $('connection').textContent = meta.connection || '';
  });
  events.addEventListener('history', (e) => {
    data.t.length = 0;
    data.lag.length = 0;
    data.p50.length = 0;
    data.p99.length = 0;
    data.tables.clear();
    const samples = JSON.parse(e.data);
    for (const s of samples) push(s);
    buildCharts();
    redraw();
    if (samples.length > 0) show(samples[samples.length - 1]);
  });
  events.addEventListener('sample', (e) => {
    const s = JSON.parse(e.data);
    push(s);
    redraw();
    show(s);
  });
  events.onerror = () => {
    $('live').textContent = 'disconnected, retrying...';
  };
  window.matchMedia('(prefers-color-scheme: dark)').addEventListener('change', () => {
    buildCharts();
    redraw();
  });
  window.addEventListener('resize', () => {
    for (const c of Object.values(charts))
      c.setSize({ width: Math.max(300, c.root.parentElement.clientWidth), height: 200 });
  });
})();
