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

  // Legend swatches opaque (a CI band's faint colour would nearly vanish) and no
  // text under 11 px, in both schemes.
  const TEXT = { labelFontSize: 11, titleFontSize: 11 };
  const LIGHT_CONFIG = {
    background: null,
    axis: TEXT,
    legend: { ...TEXT, symbolOpacity: 1 },
    header: TEXT,
    title: { fontSize: 13 },
  };
  // Vega-Lite draws rules and error bars black unless a chart colours them; on
  // the dark page that is invisible, and vega's dark theme does not change it.
  // Its gridlines are bright there: subdued, a log grid stays a grid, not a mesh.
  const DARK_CONFIG = {
    ...LIGHT_CONFIG,
    axis: { ...TEXT, gridColor: "#ffffff", gridOpacity: 0.1, domainColor: "#777" },
    rule: { color: "#bdbdbd" },
    errorbar: { color: "#bdbdbd" },
    tick: { color: "#bdbdbd" },
  };

  // At phone width a chart drawn for the desktop column would be scaled down until
  // its text is unreadable. Instead: single and layered views fill the column
  // ("container"), side-by-side panels are stacked, stacked panels fit one by one.
  // Faceted charts keep their size and scroll sideways.
  const MARGIN = 90; // axis labels, titles and legend beside the plot
  const PHONE = 560; // a column narrower than this gets the phone layout
  // The content column's width (Material sizes a figure to its content, so the
  // figure itself would report the chart's own width, or a caption's).
  function column(figure) {
    return (figure.parentElement || figure).clientWidth;
  }
  function fitToColumn(spec, available) {
    if (spec.hconcat) {
      spec.vconcat = spec.hconcat;
      delete spec.hconcat;
    }
    if (spec.vconcat) {
      spec.vconcat.forEach((child) => fitToColumn(child, available));
    } else if (typeof spec.width === "number" && spec.width + MARGIN > available) {
      spec.width = Math.max(160, available - MARGIN);
    }
    if (available < PHONE) {
      oneLegendColumn(spec);
      wrapTitles(spec, available);
    }
    return spec;
  }

  // On a phone a long chart title or x-axis title is set on several lines rather
  // than widening the chart (about 6.5 px a character at 11 px, 8 at 13 px bold),
  // and a category axis' labels get no more room than the config gives them.
  function wrapTitles(spec, available) {
    (spec.layer || []).forEach((layer) => wrapTitles(layer, available));
    if (spec.spec) wrapTitles(spec.spec, available); // a faceted chart's inner view
    if (typeof spec.title === "string") spec.title = lines(spec.title, (available - 20) / 8);
    const x = (spec.encoding || {}).x;
    if (x && typeof x.title === "string") x.title = lines(x.title, (available - 60) / 6.5);
    const y = (spec.encoding || {}).y;
    if (y && y.axis && y.axis.labelLimit > 120) y.axis.labelLimit = 120;
  }
  function lines(text, width) {
    const limit = Math.max(20, Math.floor(width));
    if (text.length <= limit) return text;
    const out = [""];
    text.split(" ").forEach((word) => {
      const last = out.length - 1;
      if (out[last] && (out[last] + " " + word).length > limit) out.push(word);
      else out[last] = out[last] ? out[last] + " " + word : word;
    });
    return out;
  }

  // Labels get the room the column has (Vega cuts legend labels at 160 px unless
  // told otherwise): two legend columns at full length on a desktop, one on a
  // phone, where labels and titles are cut rather than widen the chart.
  function fitConfig(config, available) {
    const phone = available < PHONE;
    const columns = phone ? 1 : 2;
    const labelLimit = Math.max(120, Math.floor((available - 40) / columns) - 40);
    const axisLimit = phone ? 120 : 260; // a category axis' labels
    return {
      ...config,
      axis: { ...config.axis, labelLimit: axisLimit },
      legend: { ...config.legend, labelLimit, ...(phone ? { columns: 1 } : {}) },
      // On a phone the title is centred on the whole chart, labels included, so
      // that cut to the column it never reaches past it.
      title: { ...config.title, limit: available - 10, ...(phone ? { frame: "bounds" } : {}) },
    };
  }
  function oneLegendColumn(spec) {
    (spec.layer || []).forEach(oneLegendColumn);
    Object.values(spec.encoding || {}).forEach((channel) => {
      if (channel && channel.legend && channel.legend.columns) channel.legend.columns = 1;
    });
  }

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
      const available = column(figure);
      const spec = fitToColumn(JSON.parse(figure.dataset.spec), available);
      draw(figure, target, spec, available, dark, 3);
    });
  }

  // Axis labels and legends can take more than MARGIN: a chart still wider than
  // the column after a draw is drawn again (up to `tries` times), its plot narrower
  // by the overflow, rather than scaled down (with its text) by the browser.
  function draw(figure, target, spec, available, dark, tries, first) {
    const previous = views.get(figure);
    if (previous) previous.finalize();
    vegaEmbed(target, spec, {
      renderer: "svg",
      theme: dark ? "dark" : undefined,
      config: fitConfig(dark ? DARK_CONFIG : LIGHT_CONFIG, available),
      actions: false, // the menu overflows the content column; SVGs are downloadable
      tooltip: { theme: dark ? "dark" : "light" },
    })
      .then((result) => {
        views.set(figure, result);
        figure.classList.add("is-rendered");
        figure.dataset.scheme = dark ? "dark" : "light";
        const svg = target.querySelector("svg");
        const over = svg ? Number(svg.getAttribute("width")) - available : 0;
        if (first && over >= first.over - 1) {
          // Narrower did not help (a wide legend, say): the first draw it is.
          draw(figure, target, first.spec, available, dark, 0);
        } else if (tries > 0 && over > 1) {
          const before = first || { spec: structuredClone(spec), over };
          if (narrower(spec, over)) draw(figure, target, spec, available, dark, tries - 1, before);
        }
      })
      .catch((error) => {
        figure.classList.remove("is-rendered");
        console.error("chart " + figure.dataset.chart + " failed:", error);
      });
  }
  function narrower(spec, by) {
    // False when nothing can shrink any more (a faceted chart scrolls instead).
    if (spec.vconcat) return spec.vconcat.map((child) => narrower(child, by)).some(Boolean);
    if (typeof spec.width !== "number" || spec.width <= 160) return false;
    spec.width = Math.max(160, Math.floor(spec.width - by));
    return true;
  }

  document$.subscribe(() => {
    views.clear();
    renderCharts();
  });

  // A phone turned sideways, or a resized window: fit the charts to the new column.
  let resizing = null;
  let lastWidth = window.innerWidth;
  window.addEventListener("resize", () => {
    clearTimeout(resizing);
    resizing = setTimeout(() => {
      if (Math.abs(window.innerWidth - lastWidth) < 40) return;
      lastWidth = window.innerWidth;
      renderCharts();
    }, 250);
  });

  new MutationObserver(renderCharts).observe(document.body, {
    attributes: true,
    attributeFilter: ["data-md-color-scheme"],
  });
})();
