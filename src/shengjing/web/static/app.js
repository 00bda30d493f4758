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

// Buttons that ask before acting: <button data-confirm="…">.
document.addEventListener("click", (event) => {
  const target = event.target.closest("[data-confirm]");
  if (target && !window.confirm(target.dataset.confirm)) event.preventDefault();
});

document.addEventListener("DOMContentLoaded", drawDashboard);
