// The usage page's two charts, drawn with Chart.js from the figures the page embeds.
(function () {
  "use strict";

  const data = JSON.parse(document.getElementById("usage-data").textContent);
  const accent = "#1f5f99";
  const palette = ["#1f5f99", "#3f3a9e", "#1e7a46", "#8a5a00", "#b42318", "#4a5563"];
  const dollars = (value) => "$" + Number(value).toFixed(value >= 1 ? 2 : 4);
  Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
  Chart.defaults.font.size = 12;
  Chart.defaults.color = "#4a5563";
  Chart.defaults.animation = false;

  const daily = document.getElementById("cost-over-time");
  if (daily) {
    new Chart(daily, {
      type: "bar",
      data: {
        labels: data.daily.labels.map((day) => day.slice(5)),
        datasets: [{ label: "Cost (USD)", data: data.daily.costs, backgroundColor: accent, borderRadius: 2 }],
      },
      options: {
        maintainAspectRatio: false,
        plugins: { legend: { display: false }, tooltip: { callbacks: { label: (item) => dollars(item.raw) } } },
        scales: {
          x: { grid: { display: false }, ticks: { maxRotation: 0, autoSkipPadding: 12 } },
          y: { beginAtZero: true, ticks: { callback: dollars } },
        },
      },
    });
  }

  const providers = document.getElementById("cost-by-provider");
  if (providers) {
    new Chart(providers, {
      type: "bar",
      data: {
        labels: data.providers.labels,
        datasets: [{
          label: "Cost (USD)", data: data.providers.costs, borderRadius: 2,
          backgroundColor: data.providers.labels.map((_, i) => palette[i % palette.length]),
        }],
      },
      options: {
        indexAxis: "y",
        maintainAspectRatio: false,
        plugins: { legend: { display: false }, tooltip: { callbacks: { label: (item) => dollars(item.raw) } } },
        scales: { x: { beginAtZero: true, ticks: { callback: dollars } }, y: { grid: { display: false } } },
      },
    });
  }
})();
