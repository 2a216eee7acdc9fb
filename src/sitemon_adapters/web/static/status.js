// sitemon status page: refreshes the server-rendered page from the JSON API, no reload.
// Every string from the API goes in through textContent or an attribute, never as markup.
"use strict";
(function () {
  const body = document.body;
  const refreshMs = Math.max(1, Number(body.dataset.refresh) || 30) * 1000;
  const SVG = "http://www.w3.org/2000/svg";
  const PHASES = ["dns", "connect", "tls", "ttfb", "transfer"];

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function svgEl(tag, attrs) {
    const node = document.createElementNS(SVG, tag);
    for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, String(value));
    return node;
  }

  function percent(ratio) {
    return ratio === null ? "–" : (ratio * 100).toFixed(2) + "%";
  }

  function barClass(ratio) {
    if (ratio === null) return "b-none";
    return ratio >= 0.999 ? "b-up" : ratio < 0.9 ? "b-down" : "b-partial";
  }

  function when(iso) {
    return new Date(iso).toISOString().replace("T", " ").slice(0, 19) + " UTC";
  }

  function lastCheck(site) {
    const span = el("span", "last");
    if (!site.latest) {
      span.textContent = "never checked";
      return span;
    }
    span.append("checked ");
    const time = el("time", null, when(site.latest.started_at));
    time.setAttribute("datetime", site.latest.started_at);
    span.append(time);
    return span;
  }

  function errorText(site) {
    const latest = site.latest;
    if (!latest || latest.ok) return "";
    return latest.outcome + ": " + (latest.error_message || latest.status_code);
  }

  // The same words as the pages' cert_text filter.
  function certText(cert) {
    const days = Math.abs(cert.days_left) === 1 ? "1 day" : Math.abs(cert.days_left) + " days";
    return cert.days_left < 0 ? "certificate expired " + days + " ago" : "certificate: " + days + " left";
  }

  function certBadge(site) {
    const cert = site.certificate;
    const span = el("span", "cert" + (cert ? (cert.expiring ? " cert-expiring" : " cert-ok") : ""));
    if (cert) span.textContent = certText(cert);
    else span.hidden = true;
    return span;
  }

  function uptimeList(figures) {
    const dl = el("dl", "uptime");
    for (const figure of figures) {
      const div = el("div");
      div.append(el("dt", null, figure.window), el("dd", null, percent(figure.ratio)));
      dl.append(div);
    }
    return dl;
  }

  function uptimeBar(values) {
    const svg = svgEl("svg", { class: "bar", viewBox: "0 0 450 20", preserveAspectRatio: "none", role: "img" });
    svg.setAttribute("aria-label", "uptime per day, last 90 days");
    values.forEach((ratio, i) => {
      const rect = svgEl("rect", { class: "b " + barClass(ratio), x: i * 5, y: 0, width: 4, height: 20 });
      const title = svgEl("title", {});
      title.textContent = percent(ratio);
      rect.append(title);
      svg.append(rect);
    });
    return svg;
  }

  function regionList(site) {
    const ul = el("ul", "regions");
    for (const region of site.regions) {
      const li = el("li", "region state-" + region.state);
      li.append(el("span", "rname", region.region), " ", el("span", "rstate", region.state));
      ul.append(li);
    }
    return ul;
  }

  function siteRow(site) {
    const li = el("li", "site state-" + site.state);
    li.dataset.site = site.site_id;
    const head = el("div", "head");
    const link = el("a", "name", site.site_id);
    link.href = "/sites/" + encodeURIComponent(site.site_id);
    head.append(el("span", "badge-state", site.state.toUpperCase()), " ", link, " ", el("span", "url", site.url));
    const facts = el("div", "facts");
    facts.append(lastCheck(site), el("span", "error", errorText(site)), certBadge(site));
    li.append(head, facts, uptimeList(site.uptime), uptimeBar(site.bar), regionList(site));
    return li;
  }

  function groups(items) {
    const byTag = new Map();
    for (const item of items) {
      const tag = item.tags.length ? item.tags[0] : "untagged";
      if (!byTag.has(tag)) byTag.set(tag, []);
      byTag.get(tag).push(item);
    }
    return [...byTag.entries()].sort((a, b) =>
      (a[0] === "untagged") - (b[0] === "untagged") || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  }

  function renderList(page) {
    const container = document.getElementById("sites");
    const sections = [];
    for (const [tag, sites] of groups(page.items)) {
      const section = el("section", "group");
      const ul = el("ul", "sites");
      for (const site of sites) ul.append(siteRow(site));
      section.append(el("h2", null, tag), ul);
      sections.push(section);
    }
    if (!sections.length) sections.push(el("p", "empty", "No site matches."));
    container.replaceChildren(...sections);
    let summary = page.total + " sites";
    if (page.total > page.limit) {
      summary += ", " + (page.offset + 1) + "–" + Math.min(page.offset + page.limit, page.total) + " shown";
    }
    document.getElementById("summary").textContent = summary;
  }

  function incidentItem(item, withSite) {
    const li = el("li", "incident " + (item.open ? "open" : "resolved"));
    li.append(el("span", "badge-state", item.open ? "OPEN" : "RESOLVED"), " ");
    if (withSite) {
      const link = el("a", "name", item.site_id);
      link.href = "/sites/" + encodeURIComponent(item.site_id);
      li.append(link, " ");
    }
    const span = el("span", "when", "from ");
    const opened = el("time", null, when(item.opened_at));
    opened.setAttribute("datetime", item.opened_at);
    span.append(opened);
    if (item.resolved_at) {
      const resolved = el("time", null, when(item.resolved_at));
      resolved.setAttribute("datetime", item.resolved_at);
      span.append(" to ", resolved);
    }
    if (item.kind === "certificate") li.append(el("span", "kind", "certificate"), " ");
    li.append(span, " ", el("span", "error", (item.error_kind === "none" ? "" : item.error_kind + ": ") + (item.error_message || item.status_code)),
      " ", el("span", "regions-text", item.regions.join(", ")));
    return li;
  }

  function renderIncidents(page, withSite) {
    const section = document.getElementById("incidents");
    section.hidden = page.items.length === 0;
    section.querySelector("ul").replaceChildren(...page.items.map((item) => incidentItem(item, withSite)));
  }

  function renderDetail(site) {
    const detail = document.getElementById("detail");
    detail.className = "detail state-" + site.state;
    detail.querySelector(".badge-state").textContent = site.state.toUpperCase();
    detail.querySelector(".last").replaceWith(lastCheck(site));
    detail.querySelector(".error").textContent = errorText(site);
    detail.querySelector(".cert").replaceWith(certBadge(site));
    detail.querySelector("dl.uptime").replaceWith(uptimeList(site.uptime));
    detail.querySelector("svg.bar").replaceWith(uptimeBar(site.bar));
    detail.querySelector("ul.regions").replaceWith(regionList(site));
    const rows = site.regions.map((region) => {
      const tr = el("tr", "state-" + region.state);
      const latest = region.latest;
      const ms = latest.total_ms === null ? "–" : Math.round(latest.total_ms) + " ms";
      for (const text of [region.region, region.state, when(latest.started_at), ms, latest.status_code || "", latest.error_message]) {
        tr.append(el("td", null, text));
      }
      return tr;
    });
    detail.querySelector(".region-table tbody").replaceChildren(...rows);
  }

  function drawChart(latency) {
    const chart = document.getElementById("chart");
    const points = latency.points;
    const width = 600, height = 200, top = 12;
    const stackOf = (p) => PHASES.reduce((sum, phase) => sum + (p.phases_ms[phase] || 0), 0);
    const highest = Math.max(1, ...points.map((p) => Math.max(stackOf(p), p.p95_ms || 0)));
    const scale = (height - top) / highest;
    const step = width / Math.max(1, points.length);
    const nodes = points.map((p, i) => {
      const group = svgEl("g", { class: "point" });
      group.dataset.start = p.start;
      let y = height;
      for (const phase of PHASES) {
        const value = p.phases_ms[phase] || 0;
        if (!value) continue;
        const h = value * scale;
        y -= h;
        group.append(svgEl("rect", { class: "seg-" + phase, x: i * step + 1, y: y, width: Math.max(1, step - 2), height: h }));
      }
      if (p.p95_ms !== null) {
        group.append(svgEl("rect", { class: "p95-mark", x: i * step, y: height - p.p95_ms * scale - 1, width: step, height: 2 }));
      }
      const title = svgEl("title", {});
      const parts = PHASES.map((phase) => phase + " " + Math.round(p.phases_ms[phase] || 0) + " ms");
      title.textContent = p.start + " · " + p.checks + " checks · p50 " + Math.round(p.p50_ms || 0) +
        " ms · p95 " + Math.round(p.p95_ms || 0) + " ms · " + parts.join(", ");
      group.append(title);
      return group;
    });
    document.getElementById("chart-max").textContent = Math.round(highest) + " ms";
    chart.replaceChildren(...nodes);
  }

  async function getJson(url) {
    const response = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
    if (!response.ok) throw new Error("HTTP " + response.status);
    return response.json();
  }

  async function refresh() {
    if (body.dataset.page === "index") {
      const [sites, incidents] = await Promise.all([getJson(body.dataset.api), getJson(body.dataset.incidentsApi)]);
      renderList(sites);
      renderIncidents(incidents, true);
    } else if (body.dataset.page === "site") {
      const [site, latency, incidents] = await Promise.all([
        getJson(body.dataset.siteApi), getJson(body.dataset.latencyApi), getJson(body.dataset.incidentsApi)]);
      renderDetail(site);
      drawChart(latency);
      renderIncidents(incidents, false);
    }
  }

  async function tick() {
    const stamp = document.getElementById("refreshed");
    try {
      await refresh();
      const now = new Date();
      const time = el("time", null, when(now.toISOString()));
      time.setAttribute("datetime", now.toISOString());
      stamp.replaceChildren("as of ", time);
      body.dataset.refreshes = String(Number(body.dataset.refreshes || 0) + 1);
    } catch (error) {
      stamp.textContent = "refresh failed (" + error.message + "), retrying";
    }
    setTimeout(tick, refreshMs);
  }

  if (body.dataset.page === "site") {
    // The chart is drawn by this script: draw it now rather than after the first interval.
    tick();
  } else {
    setTimeout(tick, refreshMs);
  }
})();
