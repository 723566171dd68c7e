// Render every chart of the page with vega-embed from its Vega-Lite spec (data-spec).
// Runs on each page load, including Material's instant navigation (document$), and
// again when the reader switches light/dark, so charts follow the colour scheme.
(function () {
  const views = new Map();
  // The Vega bundle is large: it is fetched once, and only when a page has a chart.
  const bundleUrl = new URL("vega-bundle.js", document.currentScript.src).href;
  let bundle = null;

  function loadVega() {
    if (window.vegaEmbed) return Promise.resolve();
    if (!bundle) {
      bundle = new Promise((resolve, reject) => {
        const script = document.createElement("script");
        script.src = bundleUrl;
        script.onload = resolve;
        script.onerror = () => reject(new Error("could not load " + bundleUrl));
        document.head.appendChild(script);
      });
    }
    return bundle;
  }

  // Vega-Lite draws rules and error bars black unless a chart colours them; on
  // the dark page that is invisible, and vega's dark theme does not change it.
  const DARK_CONFIG = {
    background: null,
    rule: { color: "#bdbdbd" },
    errorbar: { color: "#bdbdbd" },
    tick: { color: "#bdbdbd" },
  };

  function darkMode() {
    return document.body.getAttribute("data-md-color-scheme") === "slate";
  }

  function renderCharts() {
    const figures = document.querySelectorAll("figure.essay-chart");
    if (figures.length === 0) return;
    loadVega().then(() => drawCharts(figures), (error) => console.error(error));
  }

  function drawCharts(figures) {
    const dark = darkMode();
    figures.forEach((figure) => {
      const target = figure.querySelector(".vega-target");
      if (!target || !figure.dataset.spec) return;
      const previous = views.get(figure);
      if (previous) previous.finalize();
      const spec = JSON.parse(figure.dataset.spec);
      vegaEmbed(target, spec, {
        renderer: "svg",
        theme: dark ? "dark" : undefined,
        config: dark ? DARK_CONFIG : { background: null },
        actions: false, // the menu overflows the content column; SVGs are downloadable
        tooltip: { theme: dark ? "dark" : "light" },
      })
        .then((result) => {
          views.set(figure, result);
          figure.classList.add("is-rendered");
          figure.dataset.scheme = dark ? "dark" : "light";
        })
        .catch((error) => {
          figure.classList.remove("is-rendered");
          console.error("chart " + figure.dataset.chart + " failed:", error);
        });
    });
  }

  document$.subscribe(() => {
    views.clear();
    renderCharts();
  });

  new MutationObserver(renderCharts).observe(document.body, {
    attributes: true,
    attributeFilter: ["data-md-color-scheme"],
  });
})();
