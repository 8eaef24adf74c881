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

  function element(tag, className, text) {
    const el = document.createElement(tag);
    if (className) el.className = className;
    if (text !== undefined) el.textContent = text;
    return el;
  }

  // What the page shows, section by section: index.html holds only the empty containers. A card
  // is a value with its label (red while `bad`), a chart a few series over time, a table a row
  // per backfilled table or replica.
  const DISPATCHER_CARDS = [
    { id: 'lag', label: 'slot lag', text: (d) => bytes(d.lagBytes) },
    { id: 'rate', label: 'changes/s', text: (d) => count(d.changesPerSecond) },
    { id: 'changes', label: 'changes handled', text: (d) => count(d.changes) },
    {
      id: 'latency',
      label: 'handler p50 / p99',
      text: (d) => ms(d.handlerP50Ms) + ' / ' + ms(d.handlerP99Ms) + ' ms',
    },
    {
      id: 'errors',
      label: 'handler errors',
      text: (d) => count(d.handlerErrors),
      bad: (d) => d.handlerErrors > 0,
    },
    {
      id: 'dead',
      label: 'dead letters',
      text: (d) => count(d.deadLettered),
      bad: (d) => d.deadLettered > 0,
    },
    { id: 'reconnects', label: 'reconnects', text: (d) => count(d.reconnects) },
    { id: 'ack', label: 'acknowledged LSN', text: (d) => d.acknowledgedLsn, small: true },
    { id: 'commit', label: 'last commit', text: (d) => ago(d.lastCommitTime), small: true },
  ];
  const ROUTER_CARDS = [
    { id: 'qps', label: 'queries/s', text: (r) => count(r.queriesPerSecond) },
    { id: 'primary-queries', label: 'primary queries', text: (r) => count(r.primary.queries) },
    { id: 'fallbacks', label: 'fallbacks', text: (r) => count(r.fallbacks) },
    { id: 'retries', label: 'retries', text: (r) => count(r.retries) },
  ];
  const line = (label, stroke) => ({ label, stroke, width: 1.5 });
  const CHARTS = [
    {
      key: 'lag',
      caption: 'slot lag (bytes)',
      series: () => [
        { ...line('lag', palette[0]), fill: palette[0] + '22', value: (u, v) => bytes(v) },
      ],
      columns: () => [data.lag],
    },
    {
      key: 'rate',
      caption: 'changes/s per table',
      // One series per table seen so far: the chart is made again when a table appears.
      series: () =>
        [...data.tables.keys()].map((name, i) => line(name, palette[i % palette.length])),
      columns: () => [...data.tables.values()],
    },
    {
      key: 'latency',
      caption: 'handler time (ms)',
      series: () => [line('p50', palette[1]), line('p99', palette[4])],
      columns: () => [data.p50, data.p99],
    },
  ];
  const BACKFILL_TABLE = {
    id: 'backfill',
    columns: ['backfill table', 'rows', 'of about', 'rows/s', 'state'],
    cells: (b) => [
      b.table,
      count(b.rows),
      b.estimatedTotal === null ? '-' : count(b.estimatedTotal),
      count(b.rowsPerSecond),
      b.state,
    ],
  };
  const REPLICA_TABLE = {
    id: 'replicas',
    columns: ['replica', 'health', 'lag', 'lag time', 'queries', 'ejections', 'last error'],
    cells: (x) => [
      x.name,
      x.healthy ? (x.withinLag ? 'healthy' : 'lagging') : 'ejected',
      bytes(x.lagBytes),
      x.lagMs === null ? '-' : ms(x.lagMs) + ' ms',
      count(x.queries),
      count(x.ejections),
      x.lastError || '',
    ],
  };

  function addCards(containerId, cards) {
    for (const card of cards) {
      const value = element('div', card.small ? 'value small' : 'value', '-');
      value.id = card.id;
      const box = element('div', 'card');
      box.append(element('div', 'label', card.label), value);
      $(containerId).appendChild(box);
    }
  }
  function showCards(cards, part) {
    for (const card of cards) set(card.id, card.text(part), card.bad && card.bad(part));
  }
  function addFigures() {
    for (const chart of CHARTS) {
      const plot = element('div', 'chart');
      plot.id = 'chart-' + chart.key;
      const figure = element('figure');
      figure.append(element('figcaption', '', chart.caption), plot);
      $('charts').appendChild(figure);
    }
  }
  function addHeader(table) {
    const row = element('tr');
    for (const column of table.columns) row.appendChild(element('th', '', column));
    $(table.id).querySelector('thead').appendChild(row);
  }
  /** Replaces the rows of `table` with one per item; returns them. */
  function fillTable(table, items) {
    const body = $(table.id).querySelector('tbody');
    body.textContent = '';
    return items.map((item) => {
      const row = element('tr');
      for (const cell of table.cells(item)) row.appendChild(element('td', '', cell));
      body.appendChild(row);
      return row;
    });
  }

  function axes() {
    const fg = css('--muted');
    const grid = css('--line');
    return [
      { stroke: fg, grid: { stroke: grid }, ticks: { stroke: grid } },
      { stroke: fg, grid: { stroke: grid }, ticks: { stroke: grid }, size: 60 },
    ];
  }
  function makeChart(chart) {
    const el = $('chart-' + chart.key);
    if (charts[chart.key]) charts[chart.key].destroy();
    const series = chart.series();
    const width = Math.max(300, el.clientWidth || 400);
    charts[chart.key] = new uPlot(
      { width, height: 200, series: [{}].concat(series), axes: axes(), legend: { live: false } },
      [[]].concat(series.map(() => [])),
      el,
    );
  }
  function buildCharts() {
    for (const chart of CHARTS) makeChart(chart);
  }
  function redraw() {
    if (!charts.lag) return;
    for (const chart of CHARTS) charts[chart.key].setData([data.t].concat(chart.columns()));
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
    if (added && charts.rate) makeChart(CHARTS.find((chart) => chart.key === 'rate'));
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
      showCards(DISPATCHER_CARDS, d);
      const message = d.error || (d.lastError && d.lastError.message);
      $('error-box').hidden = !message;
      $('last-error').textContent = message || '';
      $('error-at').textContent = d.error
        ? '(stopped the dispatcher)'
        : d.lastError
          ? new Date(d.lastError.at).toLocaleString()
          : '';
      $('backfill').hidden = d.backfill.length === 0;
      fillTable(BACKFILL_TABLE, d.backfill);
    } else if (r) {
      const state = $('state');
      state.textContent = 'router';
      state.className = 'badge running';
    }
    if (r) {
      $('router').hidden = false;
      showCards(ROUTER_CARDS, r);
      const rows = fillTable(REPLICA_TABLE, r.replicas);
      r.replicas.forEach((x, i) => {
        rows[i].children[1].className = x.healthy && x.withinLag ? 'ok' : 'bad';
      });
    }
  }

  addCards('dispatcher-cards', DISPATCHER_CARDS);
  addCards('router-cards', ROUTER_CARDS);
  addFigures();
  addHeader(BACKFILL_TABLE);
  addHeader(REPLICA_TABLE);

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
