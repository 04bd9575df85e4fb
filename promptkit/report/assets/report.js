// The row table: filters, search and pagination over the JSON embedded in the page.
// Text only ever reaches the page through textContent, never as markup.
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("report-data").textContent);
  var variants = data.variants, metrics = data.metrics, rows = data.rows;
  var OUTPUT = 0, PARSED = 1, SCORES = 2, ERROR = 3, REPEATS = 4, PARSE_ERROR = 5;
  var state = {
    query: "", filter: "all", metric: 0, reference: data.reference || 0,
    size: 50, page: 0, shown: variants.map(function () { return true; })
  };
  var matching = rows;
  var haystacks = null;

  function $(id) { return document.getElementById(id); }

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function score(cell) {
    if (!cell || cell[ERROR]) return null;
    var value = cell[SCORES][state.metric];
    return value === undefined ? null : value;
  }

  function passes(cell) {
    var value = score(cell);
    return value === null ? null : value >= 0.5;
  }

  function answer(cell) {
    return cell[PARSED] !== null ? cell[PARSED] : cell[OUTPUT].trim();
  }

  function disagree(row) {
    var answers = {}, results = {}, nAnswers = 0, nResults = 0;
    row[3].forEach(function (cell) {
      if (!cell || cell[ERROR]) return;
      var a = answer(cell), p = passes(cell);
      if (!(a in answers)) { answers[a] = 1; nAnswers += 1; }
      if (p !== null && !(p in results)) { results[p] = 1; nResults += 1; }
    });
    return nAnswers > 1 || nResults > 1;
  }

  function flip(row, index) {
    // +1 fixed, -1 broken, 0 same or unknown, against the reference variant
    if (index === state.reference) return 0;
    var ref = passes(row[3][state.reference]), own = passes(row[3][index]);
    if (ref === null || own === null || ref === own) return 0;
    return own ? 1 : -1;
  }

  function flipped(row) {
    for (var i = 0; i < variants.length; i += 1) if (flip(row, i) !== 0) return true;
    return false;
  }

  var FILTERS = {
    all: function () { return true; },
    disagree: disagree,
    flipped: flipped,
    failed: function (row) {
      return row[3].some(function (cell) { return passes(cell) === false; });
    },
    errors: function (row) {
      return row[3].some(function (cell) { return cell && cell[ERROR]; });
    }
  };

  function haystack(index) {
    if (haystacks === null) {
      haystacks = rows.map(function (row) {
        var parts = [row[0], row[1], row[2]];
        row[3].forEach(function (cell) {
          if (cell) parts.push(cell[OUTPUT], cell[PARSED] || "", cell[ERROR] || "");
        });
        return parts.join("\n").toLowerCase();
      });
    }
    return haystacks[index];
  }

  function recompute() {
    var keep = FILTERS[state.filter], query = state.query.toLowerCase();
    matching = [];
    for (var i = 0; i < rows.length; i += 1) {
      if (keep(rows[i]) && (!query || haystack(i).indexOf(query) !== -1)) matching.push(rows[i]);
    }
    state.page = 0;
    $("row-table").setAttribute("data-query", state.query);  // which search the rows reflect
    render();
  }

  function badge(cell) {
    var value = score(cell);
    if (value === null) return el("span", "badge none", cell && cell[ERROR] ? "error" : "–");
    var text = value === 0 || value === 1 ? String(value) : value.toFixed(2);
    return el("span", "badge " + (value >= 0.5 ? "pass" : "fail"), text);
  }

  function variantCell(row, index) {
    var cell = row[3][index], td = el("td", "cell");
    if (!cell) { td.appendChild(el("span", "badge none", "not run")); return td; }
    var head = el("div", "cell-head");
    head.appendChild(badge(cell));
    var change = flip(row, index);
    if (change > 0) head.appendChild(el("span", "flip up", "▲ fixed"));
    if (change < 0) head.appendChild(el("span", "flip down", "▼ broken"));
    // A short reply that parsed to itself is shown once, as the answer.
    var output = cell[OUTPUT], short = cell[PARSED] === null && !cell[PARSE_ERROR] && output.length <= 60 && output.indexOf("\n") === -1;
    var shown = cell[PARSED] !== null ? cell[PARSED] : short ? output.trim() : "";
    if (shown) head.appendChild(el("span", "answer", shown));
    if (cell[REPEATS] > 1) head.appendChild(el("span", "repeats", "×" + cell[REPEATS] + " (mean score)"));
    td.appendChild(head);
    if (cell[ERROR]) td.appendChild(el("div", "error clamp", cell[ERROR]));
    if (!short) td.appendChild(el("div", "output clamp", output));
    if (cell[PARSE_ERROR]) td.appendChild(el("div", "parse-error", cell[PARSE_ERROR]));
    return td;
  }

  function renderHead() {
    var table = $("row-table"), colgroup = el("colgroup"), tr = el("tr");
    var old = table.querySelector("colgroup");
    if (old) table.removeChild(old);
    ["c-id", "c-input", "c-expected"].forEach(function (name) { colgroup.appendChild(el("col", name)); });
    ["row", "input", "expected"].forEach(function (name) { tr.appendChild(el("th", "", name)); });
    variants.forEach(function (variant, index) {
      if (!state.shown[index]) return;
      colgroup.appendChild(el("col", "c-variant"));
      var th = el("th");
      var bar = el("span", "bar");
      bar.style.background = variant.color;
      th.appendChild(bar);
      th.appendChild(document.createTextNode(variant.label));
      if (index === state.reference) th.appendChild(el("small", "", " (reference)"));
      th.title = variant.id;
      tr.appendChild(th);
    });
    table.insertBefore(colgroup, table.firstChild);
    // Wide enough that each variant keeps a readable column; the wrapper scrolls sideways.
    table.style.minWidth = 480 + 220 * state.shown.filter(Boolean).length + "px";
    var thead = table.querySelector("thead");
    thead.textContent = "";
    thead.appendChild(tr);
  }

  function renderBody() {
    var tbody = $("row-table").querySelector("tbody");
    var pages = Math.max(1, Math.ceil(matching.length / state.size));
    state.page = Math.min(state.page, pages - 1);
    var start = state.page * state.size, slice = matching.slice(start, start + state.size);
    var fragment = document.createDocumentFragment();
    slice.forEach(function (row) {
      var tr = el("tr");
      tr.appendChild(el("td", "id", row[0]));
      var input = el("td");
      input.appendChild(el("div", "clamp", row[1]));
      tr.appendChild(input);
      tr.appendChild(el("td", "expected", row[2]));
      variants.forEach(function (_, index) { if (state.shown[index]) tr.appendChild(variantCell(row, index)); });
      tr.addEventListener("click", function () { tr.classList.toggle("open"); });
      fragment.appendChild(tr);
    });
    if (!slice.length) {
      var empty = el("td", "empty", "No row matches.");
      empty.colSpan = 3 + state.shown.filter(Boolean).length;
      var tr = el("tr");
      tr.appendChild(empty);
      fragment.appendChild(tr);
    }
    tbody.textContent = "";
    tbody.appendChild(fragment);
    var fmt = function (n) { return n.toLocaleString("en-US"); };
    var status = matching.length
      ? "rows " + fmt(start + 1) + "–" + fmt(start + slice.length) + " of " + fmt(matching.length)
      : "0 rows";
    if (matching.length !== rows.length) status += " (filtered from " + fmt(rows.length) + ")";
    status += " · page " + fmt(state.page + 1) + " of " + fmt(pages);
    $("row-status").textContent = status;
    var buttons = $("row-pager").querySelectorAll("button");
    buttons[0].disabled = buttons[1].disabled = state.page === 0;
    buttons[2].disabled = buttons[3].disabled = state.page >= pages - 1;
  }

  function render() { renderHead(); renderBody(); }

  function options(select, labels, selected) {
    labels.forEach(function (label, index) {
      var option = el("option", "", label);
      option.value = String(index);
      option.selected = index === selected;
      select.appendChild(option);
    });
  }

  function setUp() {
    options($("row-metric"), metrics, 0);
    if (metrics.length < 2) $("metric-control").style.display = "none";
    options($("row-reference"), variants.map(function (v) { return v.label; }), state.reference);
    var columns = $("row-columns");
    if (variants.length > 1) {
      columns.appendChild(el("span", "", "columns:"));
      variants.forEach(function (variant, index) {
        var label = el("label"), box = el("input");
        box.type = "checkbox";
        box.checked = true;
        box.addEventListener("change", function () { state.shown[index] = box.checked; render(); });
        label.appendChild(box);
        label.appendChild(document.createTextNode(variant.label));
        columns.appendChild(label);
      });
    }
    var timer = null;
    $("row-search").addEventListener("input", function (event) {
      clearTimeout(timer);
      timer = setTimeout(function () { state.query = event.target.value; recompute(); }, 120);
    });
    $("row-filter").addEventListener("change", function (e) { state.filter = e.target.value; recompute(); });
    $("row-metric").addEventListener("change", function (e) { state.metric = +e.target.value; recompute(); });
    $("row-reference").addEventListener("change", function (e) { state.reference = +e.target.value; recompute(); });
    $("row-size").addEventListener("change", function (e) { state.size = +e.target.value; state.page = 0; renderBody(); });
    $("row-pager").addEventListener("click", function (event) {
      var move = event.target.getAttribute && event.target.getAttribute("data-page");
      if (!move) return;
      var last = Math.max(0, Math.ceil(matching.length / state.size) - 1);
      state.page = { first: 0, prev: state.page - 1, next: state.page + 1, last: last }[move];
      state.page = Math.max(0, Math.min(state.page, last));
      renderBody();
    });
    render();
    document.body.setAttribute("data-ready", "1");
  }

  setUp();
})();
