// The reports page's chart: its data comes from the json_script block "bo-chart-data".
(() => {
  const holder = document.getElementById("bo-chart-data");
  const canvas = document.getElementById("bo-chart");
  if (!holder || !canvas || !window.Chart) return;
  const raw = JSON.parse(holder.textContent || '""');
  if (!raw) return;
  const data = JSON.parse(raw);
  // The series' names come translated with the data (names); the English ones only if missing.
  const names = Object.assign({ revenue: "Revenue", cost: "Upstream cost", profit: "Profit" }, data.names || {});
  new Chart(canvas, {
    data: {
      labels: data.labels,
      datasets: [
        { type: "bar", label: names.revenue, data: data.revenue, backgroundColor: "rgba(59,91,219,.75)", borderRadius: 3 },
        { type: "bar", label: names.cost, data: data.cost, backgroundColor: "rgba(173,181,189,.8)", borderRadius: 3 },
        { type: "line", label: names.profit, data: data.profit, borderColor: "#2b8a3e", backgroundColor: "#2b8a3e", tension: .25, pointRadius: 2 },
      ],
    },
    options: { maintainAspectRatio: false, animation: false, interaction: { mode: "index", intersect: false },
      plugins: { legend: { position: "bottom" } }, scales: { y: { beginAtZero: true } } },
  });
})();
