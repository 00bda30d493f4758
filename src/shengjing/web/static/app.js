// Shengjing console behaviour. No inline script anywhere (the CSP forbids it): pages carry their data as
// <script type="application/json"> blocks and this file draws them.
"use strict";

function readJson(id) {
  const node = document.getElementById(id);
  return node ? JSON.parse(node.textContent) : null;
}

function drawDashboard() {
  const data = readJson("dashboard-data");
  if (!data || typeof echarts === "undefined") return;
  const orgNode = document.getElementById("chart-org-types");
  if (orgNode) {
    echarts.init(orgNode).setOption({
      title: { text: data.labels.orgs, left: "center", textStyle: { fontSize: 14 } },
      tooltip: { trigger: "item" },
      series: [{ type: "pie", radius: ["35%", "65%"], data: data.orgTypes }],
    });
    orgNode.dataset.rendered = "true";
  }
  const auditNode = document.getElementById("chart-audit-daily");
  if (auditNode && data.auditDaily.length) {
    echarts.init(auditNode).setOption({
      title: { text: data.labels.audit, left: "center", textStyle: { fontSize: 14 } },
      tooltip: { trigger: "axis" },
      xAxis: { type: "category", data: data.auditDaily.map((d) => d[0].slice(5)) },
      yAxis: { type: "value", minInterval: 1 },
      series: [{ type: "bar", data: data.auditDaily.map((d) => d[1]) }],
    });
    auditNode.dataset.rendered = "true";
  }
}

// Buttons that ask before acting: <button data-confirm="…">.
document.addEventListener("click", (event) => {
  const target = event.target.closest("[data-confirm]");
  if (target && !window.confirm(target.dataset.confirm)) event.preventDefault();
});

document.addEventListener("DOMContentLoaded", drawDashboard);
