"use strict";
// The Strata dashboard: polls the JSON API about once a second and redraws.
// No libraries: the charts are the few SVG paths drawn below. Every value
// from the server is written with textContent or an attribute, never as
// HTML, because key names are whatever clients stored.
(() => {
  const POLL_MS = 1000;
  // Longer than a poll, so one slow answer is waited for, but short enough
  // that a hung server shows as an error within seconds.
  const TIMEOUT_MS = 4000;
  // The span the ops/s figure averages over.
  const RATE_WINDOW_MS = 5000;
  const TOKEN_KEY = "strata.token";
  const SVG_NS = "http://www.w3.org/2000/svg";
  const $ = (id) => document.getElementById(id);

  // A token in the fragment (#token=…) moves to sessionStorage and out of
  // the address bar, so it is not left in the history or on screen.
  const fragment = new URLSearchParams(location.hash.slice(1));
  if (fragment.has("token")) {
    sessionStorage.setItem(TOKEN_KEY, fragment.get("token"));
    history.replaceState(null, "", location.pathname + location.search);
  }
  let namespace = new URLSearchParams(location.search).get("ns") || "default";

  class HttpError extends Error {
    constructor(status, message) {
      super(message);
      this.status = status;
    }
  }

  async function api(path) {
    const headers = {};
    const token = sessionStorage.getItem(TOKEN_KEY);
    if (token) headers.Authorization = "Bearer " + token;
    const response = await fetch(path, {
      headers,
      cache: "no-store",
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
    if (!response.ok) {
      let message = response.statusText;
      try {
        message = (await response.json()).error.message;
      } catch {
        // Not the server's JSON error (a proxy's page, say): keep the status text.
      }
      throw new HttpError(response.status, message);
    }
    return response.json();
  }

  // ---- formatting -------------------------------------------------------

  const group = (n) => Math.round(n).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  const FORMATS = {
    count: group,
    percent: (v) => (v * 100).toFixed(1) + "%",
    rate: (v) => (v < 10 ? v.toFixed(1) : group(v)),
    micros: (v) => (v < 10 ? v.toFixed(1) : group(v)),
    bytes: (v) => {
      const units = ["B", "KiB", "MiB", "GiB", "TiB"];
      let i = 0;
      while (v >= 1024 && i < units.length - 1) {
        v /= 1024;
        i += 1;
      }
      return (i === 0 ? v : v.toFixed(1)) + " " + units[i];
    },
  };
  const format = (v, kind) => (typeof v === "number" ? FORMATS[kind || "count"](v) : String(v));

  // Sets every [data-metric] element named in `values`: the raw value in
  // data-value (what scripts and tests read), the formatted one as text.
  function setMetrics(values) {
    for (const el of document.querySelectorAll("[data-metric]")) {
      const name = el.dataset.metric;
      if (!(name in values)) continue;
      const v = values[name];
      el.dataset.value = v ?? "";
      el.textContent = v == null ? el.dataset.empty || "–" : format(v, el.dataset.format);
    }
  }

  // A bar filled to value/limit; red near a real limit (`warn`).
  function gauge(id, value, limit, warn = true) {
    const fraction = limit ? Math.min(value / limit, 1) : 0;
    const bar = $(id);
    if (!bar) return; // a cause this page does not know yet
    bar.style.width = (fraction * 100).toFixed(1) + "%";
    bar.classList.toggle("high", warn && fraction > 0.9);
  }

  function cell(row, text, className) {
    const td = row.insertCell();
    td.textContent = text;
    if (className) td.className = className;
  }

  // ---- charts -----------------------------------------------------------

  const W = 400, H = 160, LEFT = 44, RIGHT = 8, TOP = 8, BOTTOM = 20;

  function svg(tag, attrs, text) {
    const el = document.createElementNS(SVG_NS, tag);
    for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
    if (text !== undefined) el.textContent = text;
    return el;
  }

  // A round number at or above `v`, so the axis reads 50, 200, 1000….
  function niceCeil(v) {
    if (!(v > 0)) return 1;
    const step = 10 ** Math.floor(Math.log10(v));
    return [1, 2, 5, 10].map((m) => m * step).find((c) => c >= v);
  }

  // Draws each series of `lines` (arrays of [time, value or null]) over
  // the samples' time span; a null breaks the line instead of faking a 0,
  // and a value alone between nulls is a dot, since a path of one point
  // draws nothing.
  function chart(el, lines, { max, kind }) {
    const label = kind === "percent" ? (v) => Math.round(v * 100) + "%" : group;
    const points = lines.flat();
    const values = points.map(([, v]) => v).filter((v) => v != null);
    const top = max ?? niceCeil(Math.max(0, ...values));
    const times = points.map(([t]) => t);
    const t0 = Math.min(...times), t1 = Math.max(...times);
    const x = (t) => LEFT + ((t - t0) / Math.max(t1 - t0, 1)) * (W - LEFT - RIGHT);
    const y = (v) => TOP + (1 - v / top) * (H - TOP - BOTTOM);
    const parts = [];
    for (const f of [0, 0.5, 1]) {
      parts.push(svg("line", { class: "grid", x1: LEFT, x2: W - RIGHT, y1: y(top * f), y2: y(top * f) }));
      parts.push(svg("text", { x: LEFT - 6, y: y(top * f) + 4, "text-anchor": "end" }, label(top * f)));
    }
    if (values.length === 0) {
      parts.push(svg("text", { x: W / 2, y: H / 2, "text-anchor": "middle" }, "waiting for samples…"));
    } else {
      parts.push(svg("text", { x: LEFT, y: H - 6 }, "-" + Math.round((t1 - t0) / 1000) + " s"));
      parts.push(svg("text", { x: W - RIGHT, y: H - 6, "text-anchor": "end" }, "now"));
    }
    lines.forEach((line, i) => {
      let d = "";
      line.forEach(([t, v], j) => {
        if (v == null) return;
        const joined = line[j - 1]?.[1] != null;
        d += `${joined ? "L" : "M"}${x(t).toFixed(1)},${y(v).toFixed(1)}`;
        if (!joined && line[j + 1]?.[1] == null) {
          parts.push(svg("circle", { class: "dot-" + i, cx: x(t).toFixed(1), cy: y(v).toFixed(1), r: 2.5 }));
        }
      });
      parts.push(svg("path", { class: "series-" + i, d, "data-points": line.filter(([, v]) => v != null).length }));
    });
    el.replaceChildren(...parts);
  }

  // ---- rendering --------------------------------------------------------

  function renderNamespaces(list) {
    const select = $("ns");
    const names = list.map((n) => n.name);
    if ([...select.options].map((o) => o.value).join("\n") !== names.join("\n")) {
      select.replaceChildren(...names.map((n) => new Option(n, n)));
    }
    select.value = namespace;
    const body = $("namespaces");
    body.replaceChildren();
    for (const n of list) {
      const row = body.insertRow();
      row.dataset.namespace = n.name;
      row.classList.toggle("selected", n.name === namespace);
      cell(row, n.name);
      cell(row, n.policy);
      cell(row, format(n.entries));
    }
  }

  function render(list, stats, analytics, memory) {
    renderNamespaces(list);
    const samples = analytics.samples;
    const last = samples.at(-1);
    const disk = memory.disk;
    const ev = stats.evictions;
    // Over the last few seconds rather than the last interval alone, which
    // may be a fraction of a second with nothing in it.
    const lately = samples.filter((s) => s.at_ms >= last?.at_ms - RATE_WINDOW_MS);
    const rate = lately.length ? lately.reduce((n, s) => n + s.ops_per_sec, 0) / lately.length : null;
    const recent = samples.reduce((n, s) => n + s.evicted_expired + s.evicted_capacity + s.evicted_invalidated, 0);
    setMetrics({
      hit_ratio: stats.hit_ratio,
      trend: analytics.trend,
      ops_per_sec: rate,
      reads: stats.reads,
      hits: stats.hits,
      misses: stats.misses,
      writes: stats.inserts + stats.updates,
      inserts: stats.inserts,
      updates: stats.updates,
      entries: memory.entries,
      max_entries: memory.max_entries,
      weight: memory.weight,
      max_weight: memory.max_weight,
      utilisation: memory.utilisation,
      disk_entries: disk ? disk.entries : null,
      disk_bytes: disk ? disk.bytes : null,
      disk_capacity_bytes: disk ? disk.capacity_bytes : null,
      compression_saved_bytes: disk ? disk.compression_saved_bytes : null,
      process_resident_bytes: memory.process_resident_bytes,
      evicted_expired: ev.expired,
      evicted_capacity: ev.capacity,
      evicted_invalidated: ev.invalidated,
      evicted_replaced: ev.replaced,
      evicted_removed: ev.removed,
      evicted_recent: recent,
    });

    gauge("gauge-entries", memory.entries, memory.max_entries);
    gauge("gauge-weight", memory.weight, memory.max_weight);
    $("disk-gauge").hidden = !disk;
    if (disk) gauge("gauge-disk", disk.bytes, disk.capacity_bytes);
    // Causes are drawn against the largest, so their proportions show.
    const most = Math.max(1, ...Object.values(ev));
    for (const [cause, n] of Object.entries(ev)) gauge("gauge-ev-" + cause, n, most, false);

    const tiers = $("tiers");
    tiers.replaceChildren();
    for (const t of stats.tiers) {
      const row = tiers.insertRow();
      row.dataset.tier = t.name;
      const l = t.get_latency;
      cell(row, t.name);
      for (const v of [t.hits, t.misses]) cell(row, format(v));
      for (const v of [l.p50_us, l.p95_us, l.p99_us, l.max_us]) cell(row, format(v, "micros"));
      cell(row, t.healthy ? "healthy" : "down", t.healthy ? "healthy" : "unhealthy");
    }

    const keys = $("top-keys");
    keys.replaceChildren();
    for (const k of analytics.top_keys.slice(0, 10)) {
      const row = keys.insertRow();
      row.dataset.key = k.key;
      row.dataset.reads = k.reads;
      cell(row, k.key);
      cell(row, format(k.reads));
    }
    if (analytics.top_keys.length === 0) cell(keys.insertRow(), "no reads sampled yet");

    const series = (field) => samples.map((s) => [s.at_ms, s[field]]);
    chart($("chart-hit-ratio"), [series("hit_ratio")], { max: 1, kind: "percent" });
    chart($("chart-ops"), [series("ops_per_sec")], { kind: "rate" });
    chart($("chart-latency"), [series("memory_p99_us"), series("disk_p99_us")], { kind: "micros" });
  }

  // ---- the poll loop ----------------------------------------------------

  function setStatus(state, text) {
    const status = $("status");
    status.dataset.state = state;
    status.textContent = text;
    // The last figures stay on screen, dimmed, when they stop being live.
    $("main").classList.toggle("stale", state !== "ok");
  }

  function failed(error) {
    const auth = error instanceof HttpError && error.status === 401;
    $("auth").hidden = !auth;
    if (auth) {
      const had = sessionStorage.getItem(TOKEN_KEY);
      $("auth-error").textContent = had ? "refused: " + error.message : "";
      setStatus("auth", "token needed");
    } else if (error instanceof HttpError) {
      setStatus("error", `error ${error.status}: ${error.message}`);
    } else {
      // fetch rejects with a TypeError when the connection fails and with
      // a TimeoutError when the server does not answer in time.
      setStatus("error", `server unreachable (${error.message}); retrying`);
    }
  }

  let timer = 0, busy = false, again = false;

  async function poll() {
    clearTimeout(timer);
    if (busy) {
      again = true;
      return;
    }
    busy = true;
    try {
      const list = await api("/v1/namespaces");
      if (list.length && !list.some((n) => n.name === namespace)) namespace = list[0].name;
      const ns = encodeURIComponent(namespace);
      const [stats, analytics, memory] = await Promise.all([
        api(`/v1/${ns}/stats`),
        api(`/v1/${ns}/analytics`),
        api(`/v1/${ns}/memory`),
      ]);
      render(list, stats, analytics, memory);
      $("auth").hidden = true;
      setStatus("ok", `live · ${namespace} · ${new Date().toLocaleTimeString()}`);
    } catch (error) {
      failed(error);
    } finally {
      busy = false;
      // A poll asked for while this one ran (a new namespace or token) runs
      // now rather than a second later.
      timer = setTimeout(poll, again ? 0 : POLL_MS);
      again = false;
    }
  }

  function choose(name) {
    namespace = name;
    const url = new URL(location.href);
    url.searchParams.set("ns", name);
    history.replaceState(null, "", url);
    poll();
  }

  $("ns").addEventListener("change", (e) => choose(e.target.value));
  $("namespaces").addEventListener("click", (e) => {
    const row = e.target.closest("tr[data-namespace]");
    if (row) choose(row.dataset.namespace);
  });
  $("auth").addEventListener("submit", (e) => {
    e.preventDefault();
    const token = $("token").value.trim();
    if (token) sessionStorage.setItem(TOKEN_KEY, token);
    $("token").value = "";
    poll();
  });
  poll();
})();
