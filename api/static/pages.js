// The results pages' charts (plotly.js) and live updates.
//
// The server renders each page's tables and inlines the charts' data as JSON (#page-data); this script draws the
// charts from that data and, while anything on the page is still queued or running, polls the page's /summary
// fragment (the tables, already escaped by the server, with fresh chart data) every few seconds.
(function () {
  "use strict";

  const CONFIG = { responsive: true, displaylogo: false };
  const GREY = "#888888";

  // Names reach plotly's labels, which accept a little markup: hand it text only.
  function esc(text) {
    return String(text).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
  }

  function rgba(hex, alpha) {
    const value = parseInt(String(hex).replace("#", ""), 16);
    if (Number.isNaN(value)) return "rgba(136,136,136," + alpha + ")";
    return "rgba(" + ((value >> 16) & 255) + "," + ((value >> 8) & 255) + "," + (value & 255) + "," + alpha + ")";
  }

  function percent(value) {
    return value === null || value === undefined ? "-" : (100 * value).toFixed(1) + "%";
  }

  function epochLayout(title, yTitle, log, curves) {
    const chartLayout = layout(title, "epoch", yTitle);
    const last = curves.reduce(function (most, row) { return Math.max(most, row.epoch.length); }, 0);
    chartLayout.xaxis.dtick = last > 30 ? 5 : 1;
    chartLayout.yaxis.tickformat = log ? ".2~%" : ".0%";
    if (log) chartLayout.yaxis.type = "log";
    return chartLayout;
  }

  function layout(title, xTitle, yTitle, extra) {
    return Object.assign(
      {
        title: { text: esc(title), font: { size: 14 } },
        margin: { l: 70, r: 20, t: 50, b: 55 },
        hovermode: "closest",
        xaxis: { title: { text: esc(xTitle) }, zeroline: false },
        yaxis: { title: { text: esc(yTitle) }, zeroline: false },
        legend: { orientation: "v", x: 1.02, y: 1, xanchor: "left", font: { size: 11 } },
        paper_bgcolor: "#ffffff",
        plot_bgcolor: "#ffffff",
      },
      extra || {}
    );
  }

  function emptyNote(text) {
    return [{ text: esc(text), xref: "paper", yref: "paper", x: 0.5, y: 0.5, showarrow: false, font: { size: 14, color: "#5b6575" } }];
  }

  function draw(id, traces, chartLayout, emptyText) {
    const node = document.getElementById(id);
    if (!node) return;
    if (!window.Plotly) {
      node.textContent = "The charts need plotly.js, which the server could not provide (install the plotly package).";
      return;
    }
    const hasData = traces.some(function (trace) {
      return (trace.y || []).some(function (v) { return v !== null && v !== undefined; });
    });
    if (!hasData) {
      // Empty axes would show made-up ranges: show the note alone.
      chartLayout.annotations = (chartLayout.annotations || []).concat(emptyNote(emptyText));
      chartLayout.xaxis.visible = false;
      chartLayout.yaxis.visible = false;
      chartLayout.shapes = [];
    }
    window.Plotly.react(node, traces, chartLayout, CONFIG);
  }

  // Many trials as one trace: their points joined, a null between two trials so that no line links them.
  function joined(rows, xOf, yOf, textOf) {
    const x = [];
    const y = [];
    const text = [];
    rows.forEach(function (row) {
      const xs = xOf(row);
      const ys = yOf(row);
      for (let i = 0; i < xs.length; i += 1) {
        x.push(xs[i]);
        y.push(ys[i] === undefined ? null : ys[i]);
        text.push(textOf(row, i));
      }
      x.push(null);
      y.push(null);
      text.push("");
    });
    return { x: x, y: y, text: text };
  }

  function count(n, noun) {
    return n + " " + noun + (n === 1 ? "" : "s");
  }

  function range1(n) {
    const out = [];
    for (let i = 1; i <= n; i += 1) out.push(i);
    return out;
  }

  function bestTrial(rows) {
    let best = null;
    rows.forEach(function (row) {
      if (row.state === "completed" && row.objective !== null && (best === null || row.objective > best.objective)) best = row;
    });
    return best;
  }

  function positive(values) {
    return values.map(function (v) { return v !== null && v > 0 ? v : null; });
  }

  // -- comparison page -------------------------------------------------------------------------------------

  function figure8(data) {
    const view = data.comparison;
    const colors = data.colors;
    const traces = [];
    const analysis = view.analysis;
    view.arms.forEach(function (space) {
      const color = colors[space] || GREY;
      const studies = view.studies.filter(function (s) { return s.arm === space; });
      const faint = joined(
        studies,
        function (s) { return range1(s.best_so_far.length); },
        function (s) { return s.best_so_far; },
        function (s, i) { return "study #" + s.id + ", replicate " + s.replicate + ", after " + (i + 1) + " trials"; }
      );
      traces.push({
        type: "scatter", mode: "lines+markers", name: esc(space) + ": replicates", legendgroup: space,
        x: faint.x, y: faint.y, text: faint.text, connectgaps: false, opacity: 0.35,
        line: { color: color, width: 1 }, marker: { color: color, size: 4 },
        hovertemplate: "%{text}<br>best so far %{y:.1%}<extra></extra>",
      });
    });
    const shapes = [];
    const annotations = [];
    let censored = false;
    if (analysis) {
      const ci = Math.round(100 * analysis.confidence);
      analysis.spaces.forEach(function (s) {
        const color = colors[s.name] || GREY;
        const x = range1(s.best_so_far_mean.length);
        traces.push({
          type: "scatter", mode: "lines", x: x, y: s.best_so_far_hi, line: { width: 0 }, legendgroup: s.name,
          showlegend: false, hoverinfo: "skip",
        });
        traces.push({
          type: "scatter", mode: "lines", x: x, y: s.best_so_far_lo, line: { width: 0 }, fill: "tonexty",
          fillcolor: rgba(color, 0.2), name: esc(s.name) + ": " + ci + "% CI", legendgroup: s.name, hoverinfo: "skip",
        });
        traces.push({
          type: "scatter", mode: "lines", x: x, y: s.best_so_far_mean, name: esc(s.name) + ": mean of " + s.n_replicates,
          legendgroup: s.name, line: { color: color, width: 3 },
          hovertemplate: esc(s.name) + " mean after %{x} trials: %{y:.1%}<extra></extra>",
        });
        const t = s.trials_to_target_mean;
        if (s.n_reached < s.n_replicates) censored = true;
        if (t.mean !== null) {
          const bound = s.n_reached < s.n_replicates ? "≥ " : "";
          traces.push({
            type: "scatter", mode: "markers", x: [t.mean], y: [analysis.target], legendgroup: s.name,
            name: esc(s.name) + ": trials to target " + bound + t.mean.toFixed(1) + " (" + s.n_reached + "/" + s.n_replicates + " reached)",
            marker: { symbol: "diamond", size: 11, color: color, line: { color: "#ffffff", width: 1 } },
            error_x: t.lo === null ? { visible: false } : {
              type: "data", symmetric: false, array: [t.hi - t.mean], arrayminus: [t.mean - t.lo], color: color, thickness: 2, width: 6,
            },
            hovertemplate: esc(s.name) + ": mean trials to target " + bound + "%{x:.1f}<extra></extra>",
          });
        }
      });
      shapes.push({
        type: "line", xref: "paper", x0: 0, x1: 1, y0: analysis.target, y1: analysis.target,
        line: { color: "#555555", width: 1, dash: "dash" },
      });
      annotations.push({
        xref: "paper", x: 0.01, y: analysis.target, yanchor: "top", xanchor: "left", showarrow: false,
        text: "target " + percent(analysis.target) + " (best " + percent(analysis.best_objective) + " − "
          + (100 * analysis.tolerance).toFixed(1) + " points)",
        font: { size: 11, color: "#555555" },
      });
    }
    const title = "Figure 8, " + view.task + ": " + count(view.replicates, "replicate") + " x "
      + count(view.n_trials, "trial") + " per space";
    const chartLayout = layout(title, "trials run (Bayesian-optimization iterations)", "best " + data.objective_label + " so far", {
      shapes: shapes,
      annotations: annotations,
    });
    // A replicate that never reached the target counts as n_trials + 1: that column is set apart.
    if (censored) {
      shapes.push({
        type: "rect", yref: "paper", x0: view.n_trials + 0.5, x1: view.n_trials + 1.5, y0: 0, y1: 1,
        fillcolor: "rgba(128,128,128,0.1)", line: { width: 0 }, layer: "below",
      });
      annotations.push({
        x: view.n_trials + 1, yref: "paper", y: 0.5, textangle: -90, showarrow: false,
        text: "not reached: counted as " + (view.n_trials + 1), font: { size: 11, color: "#666666" },
      });
    }
    chartLayout.xaxis.range = [0.5, view.n_trials + (censored ? 1.5 : 0.5)];
    chartLayout.xaxis.dtick = view.n_trials > 30 ? 5 : 1;
    chartLayout.yaxis.tickformat = ".0%";
    draw("figure8", traces, chartLayout, analysis ? "" : "No completed trial yet: nothing to plot.");
  }

  function spaceCurves(data, metric, log) {
    const traces = [];
    data.comparison.arms.forEach(function (space) {
      const color = data.colors[space] || GREY;
      const rows = data.curves.filter(function (row) { return row.arm === space && row.epoch.length > 0; });
      const values = function (row) { return log ? positive(row[metric]) : row[metric]; };
      const all = joined(rows, function (row) { return row.epoch; }, values, function (row) {
        return "study #" + row.study_id + " (replicate " + row.replicate + "), trial #" + row.number;
      });
      traces.push({
        type: "scatter", mode: "lines", name: esc(space) + ": every trial", legendgroup: space, x: all.x, y: all.y,
        text: all.text, connectgaps: false, line: { color: rgba(color, 0.3), width: 1 },
        hovertemplate: "%{text}<br>epoch %{x}: %{y:.3g}<extra></extra>",
      });
      const best = bestTrial(rows);
      if (best) {
        traces.push({
          type: "scatter", mode: "lines+markers", legendgroup: space, x: best.epoch, y: values(best),
          name: esc(space) + ": best trial (study #" + best.study_id + ", trial #" + best.number + ")",
          line: { color: color, width: 3 }, marker: { size: 5 },
          hovertemplate: "epoch %{x}: %{y:.3g}<extra></extra>",
        });
      }
    });
    return traces;
  }

  function drawComparison(data) {
    figure8(data);
    const learning = epochLayout("Validation accuracy per epoch", "validation accuracy", false, data.curves);
    draw("learning-curves", spaceCurves(data, "val_accuracy", false), learning, "No epoch finished yet.");
    const flips = epochLayout("Flip ratio per epoch", "flip ratio (share of weights flipped)", true, data.curves);
    draw("flip-ratio", spaceCurves(data, "flip_ratio", true), flips, "No epoch finished yet.");
  }

  // -- study page ------------------------------------------------------------------------------------------

  function trialColor(index, count) {
    // Early trials light, late ones dark: the order in which Bayesian optimization proposed them.
    const share = count > 1 ? index / (count - 1) : 1;
    return "hsl(215, 60%, " + Math.round(78 - 45 * share) + "%)";
  }

  function trialCurves(data, metric, log) {
    const rows = data.curves.filter(function (row) { return row.epoch.length > 0; });
    const best = bestTrial(rows);
    return rows.map(function (row, index) {
      const isBest = best !== null && row.number === best.number;
      return {
        type: "scatter", mode: "lines+markers", x: row.epoch, y: log ? positive(row[metric]) : row[metric],
        name: "trial #" + row.number + (isBest ? " (best)" : ""),
        line: { color: isBest ? "#d62728" : trialColor(index, rows.length), width: isBest ? 3 : 1.3 },
        marker: { size: isBest ? 5 : 3 },
        hovertemplate: "trial #" + row.number + ", epoch %{x}: %{y:.3g}<extra></extra>",
      };
    });
  }

  function drawStudy(data) {
    const study = data.study;
    const color = data.colors[study.arm] || GREY;
    const counted = study.trials.filter(function (t) { return t.state !== "running" && t.state !== "abandoned"; });
    const objectives = {
      type: "scatter", mode: "markers", name: "objective of each trial",
      x: counted.map(function (t, i) { return i + 1; }),
      y: counted.map(function (t) { return t.objective; }),
      text: counted.map(function (t) { return "trial #" + t.number + " (" + t.state + ")"; }),
      marker: { color: rgba(color, 0.6), size: 9, line: { color: "#ffffff", width: 1 } },
      hovertemplate: "%{text}: %{y:.1%}<extra></extra>",
    };
    const best = {
      type: "scatter", mode: "lines", name: "best so far", line: { color: color, width: 3, shape: "hv" },
      x: range1(study.best_so_far.length), y: study.best_so_far,
      hovertemplate: "best after %{x} trials: %{y:.1%}<extra></extra>",
    };
    const bestLayout = layout(
      "Study #" + study.id + ": " + study.space + " on " + study.task,
      "trials run (Bayesian-optimization iterations)",
      data.objective_label
    );
    bestLayout.xaxis.range = [0.5, study.n_trials + 0.5];
    bestLayout.yaxis.tickformat = ".0%";
    draw("best-so-far", [best, objectives], bestLayout, "No completed trial yet: nothing to plot.");
    const learning = epochLayout("Validation accuracy per epoch", "validation accuracy", false, data.curves);
    draw("learning-curves", trialCurves(data, "val_accuracy", false), learning, "No epoch finished yet.");
    const flips = epochLayout("Flip ratio per epoch", "flip ratio (share of weights flipped)", true, data.curves);
    draw("flip-ratio", trialCurves(data, "flip_ratio", true), flips, "No epoch finished yet.");
  }

  // -- live updates ----------------------------------------------------------------------------------------

  function setStatus(text) {
    const node = document.getElementById("live-status");
    if (node) node.textContent = text;
  }

  function isLive(container) {
    const root = container.querySelector(".summary-root");
    return root !== null && root.getAttribute("data-live") === "true";
  }

  function start() {
    const container = document.getElementById("summary");
    if (!container) return;
    const drawers = { comparison: drawComparison, study: drawStudy };
    const drawPage = drawers[container.getAttribute("data-page")];
    const summaryUrl = container.getAttribute("data-summary-url");
    const pollMs = Number(container.getAttribute("data-poll-ms")) || 4000;

    function redraw() {
      const dataNode = document.getElementById("page-data");
      if (drawPage && dataNode) drawPage(JSON.parse(dataNode.textContent));
    }

    // The summary fragment holds the tables and, in #page-data, the charts' data: one request updates both.
    async function tick() {
      try {
        const response = await fetch(summaryUrl, { cache: "no-store" });
        if (!response.ok) throw new Error("HTTP " + response.status);
        container.innerHTML = await response.text();
        redraw();
        const live = isLive(container);
        setStatus((live ? "live, updated " : "finished, updated ") + new Date().toLocaleTimeString());
        if (live) window.setTimeout(tick, pollMs);
      } catch (error) {
        setStatus("update failed (" + error.message + "), retrying");
        window.setTimeout(tick, 2 * pollMs);
      }
    }

    redraw();
    if (isLive(container)) {
      setStatus("live, updating every " + Math.round(pollMs / 1000) + " s");
      window.setTimeout(tick, pollMs);
    }
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
