/* tag-bench HTML report: the sample browser. Plain ES2017, no library, no network; works from file://.
   Data: #tb-data (runs, samples, the status filters with their labels, colours) and #tb-images (thumbnail
   data URIs), both JSON.
   Text from runs is only ever set with textContent / attributes, never parsed as HTML. */
(function () {
  "use strict";
  var DATA = JSON.parse(document.getElementById("tb-data").textContent);
  // Claims and reference AUs come as arrays (see CLAIM_FIELDS in tag_bench/report/html.py).
  function record(fields) {
    return function (row) { var o = {}; fields.forEach(function (f, i) { o[f] = row[i]; }); return o; };
  }
  DATA.runs.forEach(function (r) {
    r.samples = r.samples.map(record(DATA.sample_fields));
    r.samples.forEach(function (s) {
      s.claims = s.claims.map(record(DATA.claim_fields));
      if (s.reference) s.reference.aus = s.reference.aus.map(record(DATA.reference_au_fields));
      if (s.interventions) s.interventions = s.interventions.map(record(DATA.intervention_fields));
    });
  });
  var IMAGES = JSON.parse(document.getElementById("tb-images").textContent);
  var PAGE = 60;
  var SVGNS = "http://www.w3.org/2000/svg";
  var state = { run: 0, status: "", gold: "", pred: "", au: "", sort: "file", shown: PAGE, selected: null,
                allActive: false, zoom: true };

  function $(id) { return document.getElementById(id); }

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    setAttrs(node, attrs);
    (children || []).forEach(function (c) {
      if (c === null || c === undefined) return;
      node.appendChild(typeof c === "string" ? document.createTextNode(c) : c);
    });
    return node;
  }

  function svg(tag, attrs) {
    var node = document.createElementNS(SVGNS, tag);
    setAttrs(node, attrs);
    return node;
  }

  function setAttrs(node, attrs) {
    Object.keys(attrs || {}).forEach(function (k) {
      var v = attrs[k];
      if (v === null || v === undefined || v === false) return;
      if (k === "text") node.textContent = v;
      else node.setAttribute(k, v === true ? "" : String(v));
    });
  }

  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }

  function fmt(x, digits) { return x === null || x === undefined ? "–" : Number(x).toFixed(digits); }

  function yesNo(x) { return x === null || x === undefined ? "–" : (x ? "yes" : "no"); }

  function auNumber(au) { var m = /(\d+)/.exec(au || ""); return m ? Number(m[1]) : 999; }

  function run() { return DATA.runs[state.run]; }

  function option(select, value, label, title) {
    select.appendChild(el("option", { value: value, title: title || null, text: label }));
  }

  // ---------------------------------------------------------------------------------------- filters

  function setupRun() {
    var r = run();
    var samples = r.samples;
    var status = $("tb-status"), gold = $("tb-gold"), pred = $("tb-pred"), au = $("tb-au");
    [status, gold, pred, au].forEach(clear);
    // a browser holding fewer samples than the run (--only, --max-samples, a large run's sample) says
    // both counts: here, and over the whole run
    var part = samples.length < r.n;
    option(status, "", "all (" + samples.length + (part ? " of " + r.n : "") + ")");
    Object.keys(DATA.flags).forEach(function (f) {
      var k = samples.filter(function (s) { return s.flags.indexOf(f) >= 0; }).length;
      option(status, f, DATA.flags[f].label + " (" + k + (part ? " of " + r.flag_counts[f] : "") + ")",
             DATA.flags[f].definition);
    });
    var classes = r.classes.slice();
    samples.forEach(function (s) { if (classes.indexOf(s.gold) < 0) classes.push(s.gold); });
    option(gold, "", "any");
    classes.forEach(function (c) { option(gold, c, c); });
    option(pred, "", "any");
    var preds = r.classes.slice();
    samples.forEach(function (s) { if (s.pred !== null && preds.indexOf(s.pred) < 0) preds.push(s.pred); });
    preds.forEach(function (c) { option(pred, c, c); });
    option(pred, "__none__", "(no usable answer)");
    var aus = {};
    samples.forEach(function (s) { s.cited.forEach(function (a) { aus[a] = (aus[a] || 0) + 1; }); });
    option(au, "", "any");
    Object.keys(aus).sort(function (a, b) { return auNumber(a) - auNumber(b) || (a < b ? -1 : 1); })
      .forEach(function (a) { option(au, a, a + " (" + aus[a] + ")"); });
    state.status = state.gold = state.pred = state.au = "";
    state.selected = null;
    cards.clear();
    state.shown = PAGE;
    $("tb-total").textContent = String(samples.length);
    $("tb-selection").textContent = r.name + " on " + r.task + ": " + r.selection + " in this page. " +
      "Status counts over the whole run: " + Object.keys(r.flag_counts).filter(function (f) {
        return r.flag_counts[f] > 0; }).map(function (f) { return DATA.flags[f].label + " " + r.flag_counts[f]; })
        .join(", ") + "." + (part ? " The leaderboards, figures and run facts cover all " + r.n + " samples " +
        "of the run; only this browser holds fewer." : "");
    var detail = $("tb-detail");
    clear(detail);
    detail.appendChild(el("p", { "class": "hint", text: "Click a sample to see its image with the claimed " +
      "boxes, the raw response and the claims." }));
  }

  function filtered() {
    var out = run().samples.filter(function (s) {
      if (state.status && s.flags.indexOf(state.status) < 0) return false;
      if (state.gold && s.gold !== state.gold) return false;
      if (state.pred === "__none__" && s.pred !== null) return false;
      if (state.pred && state.pred !== "__none__" && s.pred !== state.pred) return false;
      if (state.au && s.cited.indexOf(state.au) < 0) return false;
      return true;
    });
    if (state.sort !== "file") {
      var sign = state.sort === "iou-asc" ? 1 : -1;
      out = out.map(function (s, i) { return [s, i]; }).sort(function (a, b) {
        var x = a[0].mean_iou, y = b[0].mean_iou;
        if (x === null && y === null) return a[1] - b[1];
        if (x === null) return 1;  // samples without a scored box last, either way
        if (y === null) return -1;
        return sign * (x - y) || a[1] - b[1];
      }).map(function (p) { return p[0]; });
    }
    return out;
  }

  function render() {
    var list = filtered();
    $("tb-count").textContent = String(list.length);
    var grid = $("tb-grid");
    clear(grid);
    list.slice(0, state.shown).forEach(function (s) { grid.appendChild(cardOf(s)); });
    $("tb-more").hidden = list.length <= state.shown;
    if (!list.length) grid.appendChild(el("p", { "class": "hint", text: "No sample matches these filters." }));
  }

  // ------------------------------------------------------------------------------------------ cards

  /* A sample's card, made once per run shown: a filter change puts back cards already drawn (their
     thumbnails decoded) instead of drawing them again. */
  var cards = new Map();
  function cardOf(s) {
    var node = cards.get(s);
    if (!node) { node = card(s); cards.set(s, node); }
    node.classList.toggle("selected", state.selected === s);
    return node;
  }

  function card(s) {
    var node = el("div", { "class": "tb-card card" + (state.selected === s ? " selected" : ""),
                           "data-id": s.id, tabindex: 0, role: "button" }, [
      overlay(s, { labels: false }),
      el("div", { "class": "id", title: s.id, text: s.id }),
      el("div", { "class": "labels" }, [
        s.gold + " → ",
        el("span", { "class": s.correct ? "right" : "wrong", text: s.pred !== null ? s.pred : "(" + s.status + ")" })
      ]),
      el("div", { "class": "flags" }, s.flags.filter(function (f) { return f !== "wrong"; }).slice(0, 3)
        .map(function (f) { return el("span", { "class": "badge", text: DATA.flags[f].label }); }))
    ]);
    node.addEventListener("click", function () { select(s, node); });
    node.addEventListener("keydown", function (e) { if (e.key === "Enter") select(s, node); });
    return node;
  }

  function select(s, node) {
    state.selected = s;
    Array.prototype.forEach.call(document.querySelectorAll(".tb-card.selected"), function (c) {
      c.classList.remove("selected");
    });
    if (node) node.classList.add("selected");
    detail(s);
  }

  // ---------------------------------------------------------------------------------------- overlay

  function refAU(s, au) {
    if (!s.reference) return null;
    for (var i = 0; i < s.reference.aus.length; i++) if (s.reference.aus[i].au === au) return s.reference.aus[i];
    return null;
  }

  /* The image with the claimed boxes (solid, coloured by outcome) and the reference region of each cited
     AU (dashed), in presented-image pixels: the SVG's viewBox is the presented image. */
  function overlay(s, opts) {
    var size = s.size;
    var cls = opts.labels ? "overlay" : "thumb";
    if (!size) {
      var empty = svg("svg", { "class": cls, viewBox: "0 0 100 60", role: "img" });
      empty.appendChild(svg("text", { x: 50, y: 32, "text-anchor": "middle", "font-size": 8, fill: "#777",
                                      text: "no image" }));
      return empty;
    }
    var w = size[0], h = size[1];
    var view = opts.zoom ? focus(s, w, h) : [0, 0, w, h];
    var root = svg("svg", { "class": cls, viewBox: view.join(" "), preserveAspectRatio: "xMidYMid meet",
                            role: "img", "aria-label": "sample " + s.id });
    if (s.img !== null) {
      root.appendChild(svg("image", { href: IMAGES[s.img], x: 0, y: 0, width: w, height: h,
                                      preserveAspectRatio: "none" }));
    } else {
      root.appendChild(svg("rect", { x: 0, y: 0, width: w, height: h, fill: "#e8e8e8" }));
      root.appendChild(svg("text", { x: w / 2, y: h / 2, "text-anchor": "middle", "font-size": Math.max(w, h) / 16,
                                     fill: "#777", text: "image not available" }));
    }
    var font = Math.max(view[2], view[3]) / 26;
    var stroke = opts.labels ? 2.5 : 1.5;
    var boxed = [];
    s.claims.forEach(function (c) { if (c.box && c.au && boxed.indexOf(c.au) < 0) boxed.push(c.au); });
    var refs = boxed.slice();
    if (opts.allActive && s.reference) {
      s.reference.aus.forEach(function (a) { if (a.active && refs.indexOf(a.au) < 0) refs.push(a.au); });
    }
    var refLabels = [];
    refs.forEach(function (au) {
      var a = refAU(s, au);
      if (!a || !a.box) return;
      var b = a.box;
      var r = svg("rect", { "class": "reference", "data-au": au, x: b[0], y: b[1], width: b[2] - b[0],
                            height: b[3] - b[1], fill: "none", stroke: DATA.colours.reference,
                            "stroke-width": boxed.indexOf(au) >= 0 ? stroke * 0.8 : stroke * 0.5,
                            "stroke-dasharray": "5 3", "vector-effect": "non-scaling-stroke" });
      r.appendChild(svg("title", { text: au + " reference region" + (a.score !== null ? " (score " +
                                         fmt(a.score, 2) + ")" : "") }));
      root.appendChild(r);
      var hits = s.claims.filter(function (c) { return c.au === au && c.box; });
      var allHit = hits.length && hits.every(function (c) { return c.outcome === "hit"; });
      if (opts.labels && !allHit) refLabels.push([b, au + " ref"]);
    });
    var placed = [];
    s.claims.forEach(function (c) {
      if (!c.box) return;
      var b = c.box, colour = DATA.colours[c.outcome];
      var r = svg("rect", { "class": "claim outcome-" + c.outcome, "data-au": c.au || "", x: b[0], y: b[1],
                            width: Math.max(b[2] - b[0], 0.5), height: Math.max(b[3] - b[1], 0.5), fill: "none",
                            stroke: colour, "stroke-width": stroke, "vector-effect": "non-scaling-stroke" });
      r.appendChild(svg("title", { text: (c.au || "?") + ": " + DATA.outcomes[c.outcome] +
                                         (c.iou !== null ? ", IoU " + fmt(c.iou, 2) : "") }));
      root.appendChild(r);
      if (opts.labels) {
        var text = (c.au || "?") + (c.iou !== null ? " " + fmt(c.iou, 2) : "");
        label(root, place(placed, b, text, font, false), text, colour, font, false);
      }
    });
    refLabels.forEach(function (p) { label(root, place(placed, p[0], p[1], font * 0.8, true), p[1],
                                           DATA.colours.reference, font * 0.8, true); });
    return root;
  }

  /* The part of the image around the face and every box drawn (with a margin), or null when that is
     most of the image anyway. */
  function extent(s) {
    var boxes = [];
    if (s.reference && s.reference.face) boxes.push(s.reference.face);
    s.claims.forEach(function (c) { if (c.box) boxes.push(c.box); });
    if (s.reference) s.reference.aus.forEach(function (a) { if (a.box) boxes.push(a.box); });
    if (!boxes.length) return null;
    var x1 = Infinity, y1 = Infinity, x2 = -Infinity, y2 = -Infinity;
    boxes.forEach(function (b) {
      x1 = Math.min(x1, b[0]); y1 = Math.min(y1, b[1]); x2 = Math.max(x2, b[2]); y2 = Math.max(y2, b[3]);
    });
    return [x1, y1, x2, y2];
  }

  function focus(s, w, h) {
    var e = extent(s);
    if (!e) return [0, 0, w, h];
    var side = Math.max(e[2] - e[0], e[3] - e[1]) * 1.3;
    var cx = (e[0] + e[2]) / 2, cy = (e[1] + e[3]) / 2;
    var x = Math.max(0, Math.min(cx - side / 2, w - side)), y = Math.max(0, Math.min(cy - side / 2, h - side));
    return [Math.round(x), Math.round(y), Math.round(Math.min(side, w)), Math.round(Math.min(side, h))];
  }

  function zoomable(s, size) {
    var e = size && extent(s);
    if (!e) return false;
    return (e[2] - e[0]) * (e[3] - e[1]) * 1.69 < 0.45 * size[0] * size[1];
  }

  /* Where a label of box b goes: above its top-left corner (a claim) or under its bottom-right corner (a
     reference region), else inside the box or further out, the first place that overlaps no label
     placed before. */
  function place(placed, b, text, font, reference) {
    var w = text.length * font * 0.6 + font * 0.4, h = font * 1.15;
    var tries = reference
      ? [[b[2] - w, b[3]], [b[2] - w, b[3] - h], [b[2] - w, b[3] + h], [b[2] - w, b[3] + 2 * h]]
      : [[b[0], b[1] - h], [b[0], b[1]], [b[0], b[1] - 2 * h], [b[0], b[3]]];
    var pick = tries[0];
    for (var i = 0; i < tries.length; i++) {
      var t = tries[i];
      var free = placed.every(function (p) {
        return t[0] >= p[0] + p[2] || t[0] + w <= p[0] || t[1] >= p[1] + p[3] || t[1] + h <= p[1];
      });
      if (free) { pick = t; break; }
    }
    placed.push([pick[0], pick[1], w, h]);
    return pick;
  }

  function label(root, at, text, colour, font, plain) {
    var width = text.length * font * 0.6 + font * 0.4;
    var left = at[0], top = at[1];
    if (!plain) root.appendChild(svg("rect", { x: left, y: top, width: width, height: font * 1.15, fill: colour }));
    root.appendChild(svg("text", { x: left + font * 0.2, y: top + font * 0.9, "font-size": font,
                                   "font-family": "system-ui, sans-serif", fill: plain ? colour : textOn(colour),
                                   "paint-order": plain ? "stroke" : null, stroke: plain ? "#fff" : null,
                                   "stroke-width": plain ? font * 0.18 : null, text: text }));
  }

  function textOn(hex) {
    var r = parseInt(hex.substr(1, 2), 16) / 255, g = parseInt(hex.substr(3, 2), 16) / 255,
        b = parseInt(hex.substr(5, 2), 16) / 255;
    return 0.299 * r + 0.587 * g + 0.114 * b > 0.55 ? "#000" : "#fff";
  }

  // ----------------------------------------------------------------------------------------- detail

  function detail(s) {
    var box = $("tb-detail");
    clear(box);
    box.appendChild(el("h3", { text: s.id }));
    var verdict = s.correct ? el("span", { "class": "badge ok", text: "correct" })
                            : el("span", { "class": "badge bad", text: "wrong" });
    box.appendChild(el("p", {}, [
      "gold ", el("b", { text: s.gold }), " · predicted ", el("b", { text: s.pred !== null ? s.pred : "–" }), " ",
      verdict, " ", el("span", { "class": "badge", text: "status " + s.status }), " ",
      el("span", { "class": "badge", text: "AU reference " + (s.reference_status || "–") }), " ",
      el("span", { "class": "badge", text: "grounded " + yesNo(s.grounded) }), " ",
      el("span", { "class": "badge", text: "evidence consistent " + yesNo(s.consistent) })
    ]));
    var holder = el("div", { "class": "figure" });
    var zoom = zoomable(s, s.size);
    var draw = function () {
      clear(holder);
      holder.appendChild(overlay(s, { labels: true, allActive: state.allActive, zoom: zoom && state.zoom }));
    };
    draw();
    box.appendChild(holder);
    var toggle = el("input", { type: "checkbox", id: "tb-all-active" });
    toggle.checked = state.allActive;
    toggle.addEventListener("change", function () { state.allActive = toggle.checked; draw(); });
    var options = el("div", { "class": "legend" }, [el("label", {}, [toggle, " show the reference region of every active AU"])]);
    if (zoom) {
      var zoomToggle = el("input", { type: "checkbox", id: "tb-zoom" });
      zoomToggle.checked = state.zoom;
      zoomToggle.addEventListener("change", function () { state.zoom = zoomToggle.checked; draw(); });
      options.appendChild(el("label", {}, [" · ", zoomToggle, " zoom to the face"]));
    }
    box.appendChild(options);
    box.appendChild(legend());
    if (s.image_error) box.appendChild(el("p", { "class": "warning", text: "image: " + s.image_error }));
    if (s.error) box.appendChild(el("p", { "class": "warning", text: "error: " + s.error }));
    if (s.interventions) box.appendChild(interventions(s));

    box.appendChild(el("h4", { text: "Raw response" }));
    if (s.text === null) {
      box.appendChild(el("p", { "class": "hint", text: "no response (" + s.status + ")" }));
    } else {
      box.appendChild(response(s));
      if (s.text_cut) box.appendChild(el("p", { "class": "hint", text: s.text_cut + " characters of a long " +
                                                "response are not shown." }));
    }
    box.appendChild(el("p", {}, [
      "parsed answer: ", el("code", { text: s.answer !== null ? s.answer : "–" }), " → ",
      el("b", { text: s.pred !== null ? s.pred : "(" + s.status + ")" })
    ]));
    if (s.notes.length) {
      box.appendChild(el("ul", { "class": "notes" }, s.notes.map(function (n) { return el("li", { text: n }); })));
    }

    box.appendChild(el("h4", { text: "Claims" }));
    if (!s.claims.length) {
      box.appendChild(el("p", { "class": "hint", text: "no AU cited with a box or by name" }));
    } else {
      var rows = s.claims.map(function (c) {
        var o = c.outcome;
        return el("tr", {}, [
          el("td", {}, [o ? el("span", { "class": "swatch", style: "background:" + DATA.colours[o] }) : null,
                        c.au || "?"]),
          el("td", { text: c.box ? c.box.map(function (v) { return Math.round(v); }).join(", ") : "no box" }),
          el("td", { text: fmt(c.iou, 3) }),
          el("td", { text: yesNo(c.centre) }),
          el("td", { text: yesNo(c.active) }),
          el("td", { text: o ? DATA.outcomes[o] : "–" })
        ]);
      });
      box.appendChild(el("table", { "class": "claims" }, [
        el("thead", {}, [el("tr", {}, ["AU", "box (x1, y1, x2, y2)", "IoU", "centre inside", "reference active",
                                       "outcome"].map(function (h) { return el("th", { text: h }); }))]),
        el("tbody", {}, rows)
      ]));
    }

    box.appendChild(el("h4", { text: "AU reference" }));
    if (!s.reference) {
      box.appendChild(el("p", { "class": "hint", text: "no AU reference record (" + (s.reference_status || "none") + ")" }));
    } else if (s.reference.status !== "ok") {
      box.appendChild(el("p", { text: run().reference + ": " + s.reference.status +
                                      (s.reference.message ? " (" + s.reference.message + ")" : "") }));
    } else {
      var active = s.reference.aus.filter(function (a) { return a.active; });
      var other = s.reference.aus.filter(function (a) { return !a.active; });
      box.appendChild(el("p", { "class": "hint", text: run().reference }));
      box.appendChild(el("div", { "class": "chips active-aus" }, ["active: "].concat(active.length ? active.map(
        function (a) { return el("span", { "class": "badge active", text: a.au + " " + fmt(a.score, 2) }); })
        : ["none"])));
      if (other.length) {
        box.appendChild(el("div", { "class": "chips" }, ["cited, not active: "].concat(other.map(function (a) {
          return el("span", { "class": "badge", text: a.au + " " + (a.active === null ? "not judged" : fmt(a.score, 2)) });
        }))));
      }
    }
  }

  /* The intervene stage: the original thumbnail and each intervened one, with the answer under each
     (flipped answers marked), one row per fill. */
  function interventions(s) {
    var node = el("div", { "class": "interventions" }, [el("h4", { text: "Interventions" })]);
    var none = s.interventions.filter(function (i) { return i.condition === "none"; })[0];
    var fills = [];
    s.interventions.forEach(function (i) { if (i.fill && fills.indexOf(i.fill) < 0) fills.push(i.fill); });
    function cell(label, img, answer, flip) {
      return el("figure", { "class": "iv" + (flip ? " flip" : "") }, [
        img === null || img === undefined ? null : el("img", { src: IMAGES[img], alt: label }),
        el("figcaption", {}, [el("span", { "class": "hint", text: label }), el("br"),
                              el("b", { text: answer }), flip ? el("span", { "class": "badge bad", text: "flip" }) : null])
      ]);
    }
    fills.forEach(function (f) {
      var row = el("div", { "class": "iv-row" }, [el("span", { "class": "iv-fill", text: f })]);
      row.appendChild(cell("original", s.img, s.pred !== null ? s.pred : "(" + s.status + ")", false));
      if (none) row.appendChild(cell("none (asked again)", none.img, none.answer, none.flip));
      s.interventions.filter(function (i) { return i.fill === f; }).forEach(function (i) {
        row.appendChild(cell(i.condition, i.img, i.answer, i.flip));
      });
      node.appendChild(row);
    });
    return node;
  }

  function legend() {
    var node = el("div", { "class": "legend" });
    ["hit", "miss", "hallucinated", "unscored"].forEach(function (o) {
      node.appendChild(el("span", {}, [el("i", { style: "border-color:" + DATA.colours[o] }), DATA.outcomes[o]]));
    });
    node.appendChild(el("span", {}, [el("i", { "class": "dashed", style: "border-color:" + DATA.colours.reference }),
                                     "reference region of the AU"]));
    return node;
  }

  /* The raw response with the parsed answer, the AU mentions and the boxes marked. Spans are in code
     points (Python's indices), so the text is split into code points, not UTF-16 units. */
  function response(s) {
    var pre = el("pre", { "class": "response" });
    var chars = Array.from(s.text);
    var at = 0;
    s.highlights.forEach(function (h) {
      if (h[0] > at) pre.appendChild(document.createTextNode(chars.slice(at, h[0]).join("")));
      pre.appendChild(el("mark", { "class": DATA.highlight_kinds[h[2]], text: chars.slice(h[0], h[1]).join("") }));
      at = h[1];
    });
    if (at < chars.length) pre.appendChild(document.createTextNode(chars.slice(at).join("")));
    return pre;
  }

  // ------------------------------------------------------------------------------------------- wiring

  function init() {
    var runSelect = $("tb-run");
    if (!DATA.runs.length) {
      $("tb-grid").appendChild(el("p", { "class": "hint", text: "No run." }));
      return;
    }
    DATA.runs.forEach(function (r, i) { option(runSelect, String(i), r.name + " · " + r.task); });
    runSelect.addEventListener("change", function () { state.run = Number(runSelect.value); setupRun(); render(); });
    [["tb-status", "status"], ["tb-gold", "gold"], ["tb-pred", "pred"], ["tb-au", "au"], ["tb-sort", "sort"]]
      .forEach(function (p) {
        $(p[0]).addEventListener("change", function (e) { state[p[1]] = e.target.value; state.shown = PAGE; render(); });
      });
    $("tb-more").addEventListener("click", function () { state.shown += PAGE; render(); });
    setupRun();
    render();
  }

  init();
})();
