/* The momentum explorer: the heavy ball on the valley f = 0.1 x1^2 + 2 x2^2, redrawn as the reader
 * moves the sliders (step alpha, momentum beta) or drags the start point. Plain JavaScript, no
 * library, no network, no kernel. It computes exactly what the chapter's heavy_ball() computes,
 *     z = beta z + grad f(w),   w = w - alpha z,   z_0 = 0,
 * and publishes its numbers on its root element (data-alpha, data-beta, data-start, data-path,
 * data-rho, data-regimes) so that tests can compare them with the Python reference. */
(function () {
  "use strict";
  const SVG = "http://www.w3.org/2000/svg";
  const LAMBDAS = [0.2, 4.0];            // the valley's Hessian eigenvalues: x1 shallow, x2 steep
  const COLORS = ["#1f77b4", "#d62728"];
  const STEPS = 60;
  const VIEW = { x1: [-5.5, 1.5], x2: [-4.0, 4.0], width: 600, height: 400 };
  const PLOT = { width: 600, height: 260, left: 58, right: 12, top: 14, bottom: 36, floor: -10 };

  function el(name, attrs, parent) {
    const node = document.createElementNS(SVG, name);
    for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, value);
    if (parent) parent.appendChild(node);
    return node;
  }

  /* The path of the heavy ball, STEPS + 1 points, in the order of operations of heavy_ball(). */
  function heavyBall(start, alpha, beta) {
    let w = start.slice(), z = [0, 0];
    const path = [w.slice()];
    for (let k = 0; k < STEPS; k++) {
      z = [beta * z[0] + LAMBDAS[0] * w[0], beta * z[1] + LAMBDAS[1] * w[1]];
      w = [w[0] - alpha * z[0], w[1] - alpha * z[1]];
      path.push(w.slice());
    }
    return path;
  }

  /* Roots of x^2 - (1 + beta - alpha lambda) x + beta: spectral radius and regime of one direction. */
  function direction(alpha, beta, lambda) {
    const trace = 1 + beta - alpha * lambda;
    const disc = trace * trace - 4 * beta;
    let rho;
    if (disc < 0) rho = Math.sqrt(beta);
    else rho = Math.max(Math.abs((trace + Math.sqrt(disc)) / 2), Math.abs((trace - Math.sqrt(disc)) / 2));
    let regime;
    if (rho >= 1) regime = "diverges";
    else if (Math.abs(disc) <= 1e-9) regime = "critically damped";
    else if (disc < 0) regime = "under-damped";
    else if (trace > 0) regime = "over-damped";
    else regime = "zig-zag";
    const found = { rho: rho, regime: regime };
    return found;
  }

  function toScreen(x) {
    return [(x[0] - VIEW.x1[0]) / (VIEW.x1[1] - VIEW.x1[0]) * VIEW.width,
            (VIEW.x2[1] - x[1]) / (VIEW.x2[1] - VIEW.x2[0]) * VIEW.height];
  }

  function toValley(svg, event) {
    const point = svg.createSVGPoint();
    point.x = event.clientX; point.y = event.clientY;
    const local = point.matrixTransform(svg.getScreenCTM().inverse());
    const x1 = VIEW.x1[0] + local.x / VIEW.width * (VIEW.x1[1] - VIEW.x1[0]);
    const x2 = VIEW.x2[1] - local.y / VIEW.height * (VIEW.x2[1] - VIEW.x2[0]);
    const clamp = (v, range) => Math.min(range[1], Math.max(range[0], v));
    // two decimals: a start the reader can read off and type into heavy_ball() to reproduce the path
    return [Math.round(clamp(x1, VIEW.x1) * 100) / 100, Math.round(clamp(x2, VIEW.x2) * 100) / 100];
  }

  function drawValley(svg) {
    el("rect", { x: 0, y: 0, width: VIEW.width, height: VIEW.height, fill: "#ffffff" }, svg);
    const [cx, cy] = toScreen([0, 0]);
    const sx = VIEW.width / (VIEW.x1[1] - VIEW.x1[0]), sy = VIEW.height / (VIEW.x2[1] - VIEW.x2[0]);
    for (const level of [0.05, 0.2, 0.5, 1, 2, 3.5, 5, 7, 9.5, 13, 18, 24, 32]) {   // 0.1 x1^2 + 2 x2^2 = level
      el("ellipse", { cx: cx, cy: cy, rx: Math.sqrt(level / 0.1) * sx, ry: Math.sqrt(level / 2) * sy,
                      fill: "none", stroke: "#c8c8c8", "stroke-width": 1 }, svg);
    }
    el("path", { d: `M ${cx - 7} ${cy} L ${cx + 7} ${cy} M ${cx} ${cy - 7} L ${cx} ${cy + 7}`,
                 stroke: "#000", "stroke-width": 2 }, svg);
    for (let x1 = -5; x1 <= 1; x1++) {
      const t = el("text", { x: toScreen([x1, 0])[0], y: VIEW.height - 6, "font-size": 12, "text-anchor": "middle", fill: "#777" }, svg);
      t.textContent = `${x1}`;
    }
    for (let x2 = -3; x2 <= 3; x2++) {
      const t = el("text", { x: 4, y: toScreen([0, x2])[1] + 4, "font-size": 12, fill: "#777" }, svg);
      t.textContent = `${x2}`;
    }
    const label = el("text", { x: 28, y: 20, "font-size": 14, fill: "#555" }, svg);
    label.textContent = "drag the black start point (x1 across, x2 up)";
  }

  function logTicks(group) {
    for (let e = 0; e >= PLOT.floor; e -= 2) {
      const y = plotY(Math.pow(10, e));
      el("line", { x1: PLOT.left, x2: PLOT.width - PLOT.right, y1: y, y2: y, stroke: "#e6e6e6" }, group);
      const t = el("text", { x: PLOT.left - 6, y: y + 4, "font-size": 12, "text-anchor": "end", fill: "#444" }, group);
      t.textContent = e === 0 ? "1" : `1e${e}`;
    }
    for (let k = 0; k <= STEPS; k += 10) {
      const t = el("text", { x: plotX(k), y: PLOT.height - PLOT.bottom + 16, "font-size": 12,
                             "text-anchor": "middle", fill: "#444" }, group);
      t.textContent = String(k);
    }
    const xlabel = el("text", { x: (PLOT.left + PLOT.width) / 2, y: PLOT.height - 4, "font-size": 13,
                                "text-anchor": "middle", fill: "#222" }, group);
    xlabel.textContent = "step k";
    const ylabel = el("text", { x: 14, y: PLOT.top + 100, "font-size": 13, fill: "#222",
                                transform: `rotate(-90 14 ${PLOT.top + 100})`, "text-anchor": "middle" }, group);
    ylabel.textContent = "|x_i,k| / |x_i,0|";
  }

  function plotX(k) { return PLOT.left + k / STEPS * (PLOT.width - PLOT.left - PLOT.right); }
  function plotY(ratio) {
    const e = Math.max(PLOT.floor, Math.min(1, Math.log10(Math.max(ratio, 1e-300))));
    return PLOT.top + (1 - e) / (1 - PLOT.floor) * (PLOT.height - PLOT.top - PLOT.bottom);
  }

  function points(list) { return list.map(p => p.join(",")).join(" "); }

  function setup(root) {
    root.dataset.ready = "1";
    const alphaInput = root.querySelector("input[name=alpha]");
    const betaInput = root.querySelector("input[name=beta]");
    const valleySvg = root.querySelector("svg.mx-valley");
    const plotSvg = root.querySelector("svg.mx-directions");
    const readout = root.querySelector(".mx-readout");
    drawValley(valleySvg);
    const trail = el("polyline", { fill: "none", stroke: "#d62728", "stroke-width": 1.8, class: "mx-path" }, valleySvg);
    const dots = el("g", { fill: "#d62728" }, valleySvg);
    const handle = el("circle", { r: 9, fill: "#000", stroke: "#fff", "stroke-width": 2, class: "mx-start",
                                  style: "cursor: grab" }, valleySvg);
    logTicks(plotSvg);
    const curves = LAMBDAS.map((_, i) => ({
      bound: el("polyline", { fill: "none", stroke: COLORS[i], "stroke-width": 1.2, "stroke-dasharray": "5 4" }, plotSvg),
      error: el("polyline", { fill: "none", stroke: COLORS[i], "stroke-width": 2, class: `mx-error-${i + 1}` }, plotSvg),
    }));
    LAMBDAS.forEach((lambda, i) => {
      const x = PLOT.width - PLOT.right - 250, y = PLOT.top + 14 + 18 * i;
      el("line", { x1: x, x2: x + 22, y1: y - 4, y2: y - 4, stroke: COLORS[i], "stroke-width": 2 }, plotSvg);
      const t = el("text", { x: x + 28, y: y, "font-size": 13, fill: "#222" }, plotSvg);
      t.textContent = `x${i + 1} (λ = ${lambda}); dashed: ρ^k`;
    });
    let start = JSON.parse(root.dataset.start);

    function redraw() {
      const alpha = parseFloat(alphaInput.value), beta = parseFloat(betaInput.value);
      const path = heavyBall(start, alpha, beta);
      const info = LAMBDAS.map(lambda => direction(alpha, beta, lambda));
      root.dataset.alpha = String(alpha);
      root.dataset.beta = String(beta);
      root.dataset.start = JSON.stringify(start);
      root.dataset.path = JSON.stringify(path);
      root.dataset.rho = JSON.stringify(info.map(d => d.rho));
      root.dataset.regimes = JSON.stringify(info.map(d => d.regime));
      root.querySelector("output[name=alpha]").textContent = alpha.toFixed(3);
      root.querySelector("output[name=beta]").textContent = beta.toFixed(3);

      const visible = path.filter(p => Math.abs(p[0]) < 1e3 && Math.abs(p[1]) < 1e3).map(toScreen);
      trail.setAttribute("points", points(visible));
      dots.replaceChildren(...visible.map(([x, y]) => el("circle", { cx: x, cy: y, r: 2.6 })));
      const [hx, hy] = toScreen(start);
      handle.setAttribute("cx", hx); handle.setAttribute("cy", hy);

      LAMBDAS.forEach((_, i) => {
        const w0 = Math.abs(start[i]);
        const usable = w0 > 0;
        const ks = path.map((_, k) => k);
        curves[i].error.setAttribute("points", usable ? points(ks.map(k => [plotX(k), plotY(Math.abs(path[k][i]) / w0)])) : "");
        curves[i].bound.setAttribute("points", points(ks.map(k => [plotX(k), plotY(Math.pow(info[i].rho, k))])));
      });

      const norm = p => Math.hypot(p[0], p[1]);
      const d0 = norm(start);
      let reached = null;
      for (let k = STEPS; k >= 0 && d0 > 0 && norm(path[k]) <= 1e-6 * d0; k--) reached = k;
      const rows = LAMBDAS.map((lambda, i) =>
        `<tr><td>x${i + 1}</td><td>${lambda}</td><td>${(alpha * lambda).toFixed(3)}</td>` +
        `<td class="mx-rho">${info[i].rho.toFixed(4)}</td><td class="mx-regime">${info[i].regime}</td></tr>`).join("");
      readout.innerHTML =
        `<table><thead><tr><th>direction</th><th>λ</th><th>αλ</th><th>ρ(M)</th><th>regime</th></tr></thead>` +
        `<tbody>${rows}</tbody></table>` +
        `<p>start (${start[0].toFixed(2)}, ${start[1].toFixed(2)}); distance to the minimum after ${STEPS} steps: ` +
        `<span class="mx-final">${norm(path[STEPS]).toExponential(2)}</span>; ` +
        `a million-fold reduction ${reached === null ? `needs more than ${STEPS} steps` : `takes <span class="mx-steps">${reached}</span> steps`}.</p>`;
    }

    let dragging = false;
    handle.addEventListener("pointerdown", event => {
      dragging = true;
      handle.setPointerCapture(event.pointerId);
      handle.style.cursor = "grabbing";
      event.preventDefault();
    });
    handle.addEventListener("pointermove", event => {
      if (!dragging) return;
      start = toValley(valleySvg, event);
      redraw();
    });
    const release = () => { dragging = false; handle.style.cursor = "grab"; };
    handle.addEventListener("pointerup", release);
    handle.addEventListener("pointercancel", release);
    alphaInput.addEventListener("input", redraw);
    betaInput.addEventListener("input", redraw);
    root.querySelectorAll("button[data-alpha]").forEach(button => button.addEventListener("click", () => {
      alphaInput.value = button.dataset.alpha;
      betaInput.value = button.dataset.beta;
      redraw();
    }));
    redraw();
  }

  function setupAll() {
    document.querySelectorAll(".momentum-explorer:not([data-ready])").forEach(setup);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", setupAll);
  else setupAll();
})();
