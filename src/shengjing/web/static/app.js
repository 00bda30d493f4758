// Shengjing console behaviour. No inline script anywhere (the CSP forbids it): pages carry their data as
// <script type="application/json"> blocks and this file draws them.
"use strict";

function readJson(id) {
  const node = document.getElementById(id);
  return node ? JSON.parse(node.textContent) : null;
}

// Marks a chart drawn once ECharts has finished (animations included), for people's tools and the tests.
function markRendered(chart, node) {
  chart.on("finished", () => { node.dataset.rendered = "true"; });
}

function drawDashboard() {
  const data = readJson("dashboard-data");
  if (!data || typeof echarts === "undefined") return;
  const orgNode = document.getElementById("chart-org-types");
  if (orgNode) {
    const orgChart = echarts.init(orgNode);
    markRendered(orgChart, orgNode);
    orgChart.setOption({
      title: { text: data.labels.orgs, left: "center", textStyle: { fontSize: 14 } },
      tooltip: { trigger: "item" },
      series: [{ type: "pie", radius: ["35%", "65%"], data: data.orgTypes }],
    });
  }
  const auditNode = document.getElementById("chart-audit-daily");
  if (auditNode && data.auditDaily.length) {
    const auditChart = echarts.init(auditNode);
    markRendered(auditChart, auditNode);
    auditChart.setOption({
      title: { text: data.labels.audit, left: "center", textStyle: { fontSize: 14 } },
      tooltip: { trigger: "axis" },
      xAxis: { type: "category", data: data.auditDaily.map((d) => d[0].slice(5)) },
      yAxis: { type: "value", minInterval: 1 },
      series: [{ type: "bar", data: data.auditDaily.map((d) => d[1]) }],
    });
  }
}

// The catalog's quality report: score per field, score history, rule pass rates (percent; null = no rule).
function drawQuality() {
  const data = readJson("quality-data");
  if (!data || typeof echarts === "undefined") return;
  const draw = (id, title, option) => {
    const node = document.getElementById(id);
    if (!node) return;
    const chart = echarts.init(node);
    markRendered(chart, node);
    chart.setOption({
      title: { text: title, left: "center", textStyle: { fontSize: 14 } },
      tooltip: { trigger: "axis" },
      grid: { containLabel: true, left: 8, right: 16, bottom: 8 },
      ...option,
    });
  };
  const bars = (pairs) => ({
    xAxis: { type: "value", min: 0, max: 100 },
    yAxis: { type: "category", data: pairs.map((p) => p[0]), inverse: true },
    series: [{ type: "bar", data: pairs.map((p) => p[1]), label: { show: true, position: "right" } }],
  });
  draw("chart-field-scores", data.labels.fields, bars(data.fields));
  draw("chart-rule-pass", data.labels.rules, bars(data.rules));
  draw("chart-score-history", data.labels.history, {
    xAxis: { type: "category", name: data.labels.version, data: data.history.map((h) => String(h[0])) },
    yAxis: { type: "value", min: 0, max: 100 },
    series: [{ type: "line", data: data.history.map((h) => h[1]), connectNulls: true }],
  });
}

// Classification and grading, city-wide: resources, fields and rows per level (rows on the right-hand axis),
// resources per level stacked per department, fields per detected type.
function drawGrading() {
  const data = readJson("grading-data");
  if (!data || typeof echarts === "undefined") return;
  const draw = (id, title, option) => {
    const node = document.getElementById(id);
    if (!node) return;
    const chart = echarts.init(node);
    markRendered(chart, node);
    chart.setOption({
      title: { text: title, left: "center", textStyle: { fontSize: 14 } },
      tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
      legend: { bottom: 0, type: "scroll" },
      grid: { containLabel: true, left: 8, right: 16, top: 40, bottom: 36 },
      ...option,
    });
  };
  const levels = data.levels.map((l) => l[0]);
  draw("chart-grading-levels", data.labels.levels, {
    tooltip: {
      trigger: "axis",
      axisPointer: { type: "shadow" },
      formatter: (items) => {
        const level = data.levels[items[0].dataIndex];
        return [`${level[0]} ${level[1]}`, ...items.map((i) => `${i.marker}${i.seriesName}: ${i.value.toLocaleString()}`)]
          .join("<br>");
      },
    },
    xAxis: { type: "category", data: levels },
    yAxis: [
      { type: "value", minInterval: 1 },
      { type: "value", name: data.labels.rows, minInterval: 1, splitLine: { show: false } },
    ],
    series: [
      { name: data.labels.resources, type: "bar", data: data.levels.map((l) => l[2]) },
      { name: data.labels.fields, type: "bar", data: data.levels.map((l) => l[3]) },
      { name: data.labels.rows, type: "bar", yAxisIndex: 1, data: data.levels.map((l) => l[4]) },
    ],
  });
  draw("chart-grading-departments", data.labels.departments, {
    xAxis: { type: "value", minInterval: 1 },
    yAxis: { type: "category", data: data.departments, inverse: true },
    series: data.departmentLevels.map((s) => ({
      name: s.name, type: "bar", stack: "levels", barMaxWidth: 32, data: s.data,
    })),
  });
  draw("chart-grading-types", data.labels.types, {
    legend: { show: false },
    xAxis: { type: "value", minInterval: 1 },
    yAxis: { type: "category", data: data.types.map((t) => t[0]), inverse: true },
    series: [{ type: "bar", barMaxWidth: 24, data: data.types.map((t) => t[1]), label: { show: true, position: "right" } }],
  });
}

// The resource form's field rows: add a blank row from its <template>, remove a row (one always stays).
document.addEventListener("click", (event) => {
  const add = event.target.closest("[data-field-add]");
  if (add) {
    const template = document.getElementById("field-row-template");
    const rows = document.getElementById("field-rows");
    if (template && rows) {
      rows.appendChild(template.content.cloneNode(true));
      rows.lastElementChild.querySelector("input").focus();
    }
    return;
  }
  const remove = event.target.closest("[data-field-remove]");
  if (remove) {
    const row = remove.closest("[data-field-row]");
    const rows = row && row.parentElement;
    if (!row || !rows) return;
    if (rows.children.length > 1) row.remove();
    else row.querySelectorAll("input").forEach((input) => { input.value = ""; });
  }
});

// Buttons that ask before acting: <button data-confirm="…">.
document.addEventListener("click", (event) => {
  const target = event.target.closest("[data-confirm]");
  if (target && !window.confirm(target.dataset.confirm)) event.preventDefault();
});

document.addEventListener("DOMContentLoaded", drawDashboard);
document.addEventListener("DOMContentLoaded", drawQuality);
document.addEventListener("DOMContentLoaded", drawGrading);

// A data model's ER diagram: entities as boxes listing their attributes, relations as labelled arrows; entities of
// other models that a relation reaches are drawn greyed.
function drawModel() {
  const data = readJson("model-diagram");
  const node = document.getElementById("chart-model");
  if (!data || !node || typeof echarts === "undefined") return;
  const chart = echarts.init(node);
  markRendered(chart, node);
  chart.setOption({
    tooltip: { formatter: (p) => (p.dataType === "node" ? [p.data.name, ...p.data.attributes].join("<br>") : p.data.name) },
    series: [{
      type: "graph",
      layout: "force",
      force: { repulsion: 900, edgeLength: 220 },
      roam: true,
      symbol: "rect",
      symbolSize: [150, 44],
      edgeSymbol: ["none", "arrow"],
      label: { show: true, formatter: (p) => `${p.data.name}\n${p.data.id}` },
      edgeLabel: { show: true, formatter: (p) => `${p.data.name} (${p.data.cardinality})` },
      data: data.nodes.map((n) => ({ ...n, itemStyle: { color: n.external ? "#adb5bd" : "#0d6efd" } })),
      links: data.links,
    }],
  });
}
document.addEventListener("DOMContentLoaded", drawModel);

// Bars whose length is data (the sandbox's privacy budgets): the CSP forbids style attributes, so the width comes
// from data-progress (percent) through the CSSOM.
function drawProgress(root) {
  (root || document).querySelectorAll("[data-progress]").forEach((bar) => {
    const pct = Math.max(0, Math.min(100, Number(bar.dataset.progress) || 0));
    bar.style.width = `${pct}%`;
  });
}

// The sandbox workbench: a column or table name clicked in the schema browser goes into the SQL editor.
document.addEventListener("click", (event) => {
  const source = event.target.closest("[data-insert]");
  const editor = document.getElementById("sql");
  if (!source || !editor) return;
  const text = source.dataset.insert;
  const start = editor.selectionStart ?? editor.value.length;
  const end = editor.selectionEnd ?? start;
  const before = editor.value.slice(0, start);
  const gap = before && !/[\s(,.]$/.test(before) ? " " : "";
  editor.setRangeText(gap + text, start, end, "end");
  editor.focus();
});

// A region marked data-swap-errors shows the page the server answers even with a 4xx status (a refused query, a
// form error): htmx would otherwise leave the old content in place.
document.addEventListener("htmx:beforeSwap", (event) => {
  const status = event.detail.xhr.status;
  if (status >= 400 && status < 500 && event.target.closest("[data-swap-errors]")) {
    event.detail.shouldSwap = true;
    event.detail.isError = false;
  }
});

document.addEventListener("DOMContentLoaded", () => drawProgress(document));
document.addEventListener("htmx:load", (event) => drawProgress(event.target));
