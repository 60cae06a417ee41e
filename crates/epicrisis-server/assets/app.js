// Epicrisis web interface: streaming drafts, live validation, highlights, versions.
// No external code; everything the page needs is here.
"use strict";

(function () {
  const main = document.getElementById("main");
  const csrf = main ? main.dataset.csrf : "";

  async function api(method, url, body) {
    const opts = { method, headers: { "X-CSRF-Token": csrf }, credentials: "same-origin" };
    if (body !== undefined) {
      if (body instanceof Blob || typeof body === "string") {
        opts.body = body;
        opts.headers["Content-Type"] = "application/json";
      } else {
        opts.body = JSON.stringify(body);
        opts.headers["Content-Type"] = "application/json";
      }
    }
    const r = await fetch(url, opts);
    let data = null;
    try { data = await r.json(); } catch (_) { data = null; }
    if (!r.ok) {
      const msg = (data && (data.error && data.error.message || data.error)) || ("HTTP " + r.status);
      const e = new Error(msg);
      e.status = r.status;
      e.data = data;
      throw e;
    }
    return data;
  }

  document.querySelectorAll("time[data-ms]").forEach((t) => {
    const d = new Date(Number(t.dataset.ms));
    t.dateTime = d.toISOString();
    t.textContent = d.toLocaleString("es-CL");
  });

  // ---- list page: import
  const importForm = document.getElementById("import-form");
  if (importForm) {
    importForm.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const status = document.getElementById("import-status");
      const file = document.getElementById("import-file").files[0];
      if (!file) { status.textContent = "Elija un archivo."; return; }
      status.textContent = "Importando…";
      try {
        const r = await api("POST", "/api/v1/episodes", file);
        location.href = "/episodios/" + encodeURIComponent(r.episodeId);
      } catch (e) {
        status.textContent = "No se pudo importar: " + e.message;
      }
    });
  }

  // ---- episode page
  const root = document.getElementById("episode");
  if (!root) return;
  const episode = root.dataset.episode;
  const base = "/api/v1/episodes/" + encodeURIComponent(episode);
  let latestId = root.dataset.latest ? Number(root.dataset.latest) : null;
  let latestStatus = root.dataset.status || "";
  const editor = document.getElementById("editor");
  const highlighted = document.getElementById("highlighted");
  const findingsList = document.getElementById("findings");
  const detail = document.getElementById("finding-detail");
  const count = document.getElementById("finding-count");
  let findings = JSON.parse(document.getElementById("initial-findings").textContent || "[]");

  function cls(f) {
    if (f.class) return f.class;
    if (f.severity === "error") return "error";
    if (f.kind === "omission") return "omission";
    return "warning";
  }

  const KIND = { unsupported: "No respaldado por los datos", omission: "Omisión", suspicious_source: "Dato de origen dudoso", style: "Redacción" };

  function showDetail(i) {
    const f = findings[i];
    if (!f) return;
    detail.hidden = false;
    detail.innerHTML = "";
    const h = document.createElement("h3");
    h.textContent = (KIND[f.kind] || f.kind) + " · " + f.category;
    const m = document.createElement("p");
    m.innerHTML = "<strong>Texto:</strong> ";
    m.append(document.createTextNode(f.mention));
    const why = document.createElement("p");
    why.innerHTML = "<strong>Por qué:</strong> ";
    why.append(document.createTextNode(f.message));
    detail.append(h, m, why);
    document.querySelectorAll(".mark.selected").forEach((x) => x.classList.remove("selected"));
    const mark = highlighted.querySelector('[data-finding="' + i + '"]');
    if (mark) { mark.classList.add("selected"); mark.scrollIntoView({ block: "nearest" }); }
  }

  // Who wrote each sentence of the generated narrative (model, repaired, extract), while
  // the text is the one generated.
  const initialOrigins = document.getElementById("initial-origins");
  const origins = JSON.parse((initialOrigins && initialOrigins.textContent) || "[]");
  const originsText = editor.value;
  const ORIGIN = {
    model: ["origin-model", "Redactado por el modelo: léalo con atención"],
    repaired: ["origin-model", "Redactado por el modelo tras una corrección: léalo con atención"],
    extract: ["origin-extract", "Extracto literal de una nota de evolución"],
  };
  // Appends chars[a, b) to `el`, the narrative's sentences in their own spans.
  function appendPlain(el, chars, a, b, text) {
    let pos = a;
    if (text === originsText) {
      for (const o of origins) {
        const s = Math.max(o.span[0], pos), e = Math.min(o.span[1], b);
        if (s >= e || !ORIGIN[o.origin]) continue;
        el.append(document.createTextNode(chars.slice(pos, s).join("")));
        const span = document.createElement("span");
        span.className = ORIGIN[o.origin][0];
        span.title = ORIGIN[o.origin][1];
        span.textContent = chars.slice(s, e).join("");
        el.append(span);
        pos = e;
      }
    }
    el.append(document.createTextNode(chars.slice(pos, b).join("")));
  }

  let renderedText = "";
  function render(text) {
    renderedText = text;
    // Spans are in Unicode code points.
    const chars = Array.from(text);
    // Marks cannot nest: where findings overlap (a sentence without evidence that also
    // holds an invented drug), errors win, then shorter spans; the rest stay listed.
    const placed = [];
    findings
      .map((f, i) => ({ f, i }))
      .filter((x) => x.f.span && x.f.span[1] <= chars.length)
      .sort((a, b) =>
        (a.f.severity === "error" ? 0 : 1) - (b.f.severity === "error" ? 0 : 1) ||
        (a.f.span[1] - a.f.span[0]) - (b.f.span[1] - b.f.span[0]))
      .forEach((x) => {
        const [s, e] = x.f.span;
        if (!placed.some((p) => s < p.f.span[1] && p.f.span[0] < e)) placed.push(x);
      });
    const spans = placed.sort((a, b) => a.f.span[0] - b.f.span[0]);
    highlighted.innerHTML = "";
    let pos = 0;
    for (const { f, i } of spans) {
      const [s, e] = f.span;
      if (s < pos) continue;
      appendPlain(highlighted, chars, pos, s, text);
      const mark = document.createElement("mark");
      mark.className = "mark " + cls(f);
      mark.dataset.finding = String(i);
      mark.tabIndex = 0;
      mark.title = f.message;
      mark.textContent = chars.slice(s, e).join("");
      mark.addEventListener("click", () => showDetail(i));
      mark.addEventListener("keydown", (ev) => { if (ev.key === "Enter") showDetail(i); });
      highlighted.append(mark);
      pos = e;
    }
    appendPlain(highlighted, chars, pos, chars.length, text);
    findingsList.innerHTML = "";
    let errors = 0;
    findings.forEach((f, i) => {
      if (cls(f) === "error") errors++;
      const li = document.createElement("li");
      li.className = "finding " + cls(f);
      const b = document.createElement("button");
      b.type = "button";
      b.className = "link";
      b.textContent = (f.span ? "«" + f.mention + "» " : (KIND[f.kind] || f.kind) + ": ") + "— " + f.message;
      b.addEventListener("click", () => showDetail(i));
      li.append(b);
      findingsList.append(li);
    });
    count.textContent = findings.length ? errors + " error(es), " + (findings.length - errors) + " advertencia(s)" : "sin hallazgos";
    count.className = "badge " + (errors ? "bad" : "ok");
  }

  render(editor.value);

  // «Respaldo»: the evidence of the sentence at the caret in the editor, or under the
  // pointer (or the caret) in the highlighted view. Spans are in code points.
  const evidencePanel = document.getElementById("evidence");
  const initialEvidence = document.getElementById("initial-evidence");
  let evidence = JSON.parse((initialEvidence && initialEvidence.textContent) || "[]");
  let evidenceText = editor.value;
  let shownSentence;

  function sentenceAt(pos) {
    return evidence.find((s) => s.span[0] <= pos && pos < s.span[1]) ||
      evidence.find((s) => s.span[0] <= pos && pos <= s.span[1]) || null;
  }

  function evidenceLine(label, text) {
    const li = document.createElement("li");
    const b = document.createElement("strong");
    b.textContent = label + ": ";
    li.append(b, document.createTextNode(text));
    return li;
  }

  // Shows the evidence of the sentence at code point `pos` of `text`.
  function showEvidenceAt(text, pos, force) {
    if (!evidencePanel) return;
    if (text !== evidenceText) {
      // Stale (a draft just arrived, or the text is being typed): validate again,
      // which shows it.
      clearTimeout(timer);
      timer = setTimeout(revalidate, 350);
      return;
    }
    const s = sentenceAt(pos);
    if (s === shownSentence && !force) return;
    shownSentence = s;
    evidencePanel.innerHTML = "";
    const p = (msg, className) => {
      const el = document.createElement("p");
      if (className) el.className = className;
      el.textContent = msg;
      evidencePanel.append(el);
    };
    if (!s) { p("Ubique el cursor en una oración del texto.", "muted"); return; }
    const q = document.createElement("blockquote");
    q.textContent = Array.from(evidenceText).slice(s.span[0], s.span[1]).join("").trim();
    evidencePanel.append(q);
    if (!s.passages.length && !s.items.length) {
      if (s.checked) p("Sin respaldo en las notas ni en los datos", "mark warning no-evidence");
      else p("Esta línea no afirma nada que haya que respaldar.", "muted");
      return;
    }
    const ul = document.createElement("ul");
    ul.className = "evidence-list";
    for (const x of s.passages) {
      const where = x.day != null ? "Nota del día " + x.day : "Nota " + (x.note + 1);
      ul.append(evidenceLine(where, "«" + x.text + "»"));
    }
    for (const x of s.items) ul.append(evidenceLine(x.label, x.name));
    evidencePanel.append(ul);
  }

  function showEditorEvidence(force) {
    const pos = Array.from(editor.value.slice(0, editor.selectionStart)).length;
    showEvidenceAt(editor.value, pos, force);
  }
  ["keyup", "click", "select", "focus"].forEach((e) => editor.addEventListener(e, () => showEditorEvidence(false)));

  // The code point offset of (node, offset) inside the highlighted view.
  function highlightedOffset(node, offset) {
    if (!highlighted.contains(node)) return null;
    let pos = 0;
    const walker = document.createTreeWalker(highlighted, NodeFilter.SHOW_TEXT);
    for (let t = walker.nextNode(); t; t = walker.nextNode()) {
      if (t === node) return pos + Array.from(t.data.slice(0, offset)).length;
      pos += Array.from(t.data).length;
    }
    return null;
  }

  function pointOffset(x, y) {
    if (document.caretPositionFromPoint) {
      const c = document.caretPositionFromPoint(x, y);
      return c && highlightedOffset(c.offsetNode, c.offset);
    }
    if (document.caretRangeFromPoint) {
      const r = document.caretRangeFromPoint(x, y);
      return r && highlightedOffset(r.startContainer, r.startOffset);
    }
    return null;
  }

  highlighted.addEventListener("mousemove", (ev) => {
    const pos = pointOffset(ev.clientX, ev.clientY);
    if (pos != null) showEvidenceAt(renderedText, pos, false);
  });
  document.addEventListener("selectionchange", () => {
    const sel = document.getSelection();
    if (!sel || !sel.rangeCount || !highlighted.contains(sel.anchorNode)) return;
    const pos = highlightedOffset(sel.anchorNode, sel.anchorOffset);
    if (pos != null) showEvidenceAt(renderedText, pos, false);
  });

  let timer = null;
  let seq = 0;
  async function revalidate() {
    const mine = ++seq;
    const text = editor.value;
    try {
      const r = await api("POST", base + "/validate", { text });
      if (mine !== seq) return;
      findings = r.findings;
      if (r.evidence) { evidence = r.evidence; evidenceText = text; }
      render(text);
      if (document.activeElement === editor) showEditorEvidence(true);
    } catch (e) {
      count.textContent = "no se pudo validar: " + e.message;
    }
  }
  editor.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(revalidate, 350);
  });

  const saveStatus = document.getElementById("save-status");
  const save = document.getElementById("save");
  if (save) {
    save.addEventListener("click", async () => {
      saveStatus.textContent = "Guardando…";
      try {
        const v = await api("POST", base + "/versions", { text: editor.value, parentId: latestId, amend: latestStatus === "signed" });
        saveStatus.textContent = "Guardado como versión " + v.number + ".";
        setTimeout(() => location.reload(), 400);
      } catch (e) {
        saveStatus.textContent = "No se guardó: " + e.message;
      }
    });
  }

  const sign = document.getElementById("sign");
  if (sign) {
    sign.addEventListener("click", async () => {
      if (!latestId) { saveStatus.textContent = "No hay versión para firmar."; return; }
      if (editor.value.trim() !== (root.dataset.savedText || editor.defaultValue).trim()) {
        saveStatus.textContent = "Guarde los cambios antes de firmar.";
        return;
      }
      if (!confirm("¿Aprobar y firmar la versión actual? Una versión firmada no cambia; los cambios posteriores serán enmiendas.")) return;
      try {
        await api("POST", "/api/v1/versions/" + latestId + "/sign", {});
      } catch (e) {
        if (e.status === 409 && /no respaldan/.test(e.message)) {
          if (!confirm(e.message + "\n\n¿Firmar de todas formas?")) return;
          try { await api("POST", "/api/v1/versions/" + latestId + "/sign", { acknowledgeFindings: true }); }
          catch (e2) { saveStatus.textContent = "No se firmó: " + e2.message; return; }
        } else {
          saveStatus.textContent = "No se firmó: " + e.message;
          return;
        }
      }
      saveStatus.textContent = "Firmada.";
      setTimeout(() => location.reload(), 400);
    });
  }

  // ---- generation with streaming
  const gen = document.getElementById("generate");
  const cancel = document.getElementById("cancel");
  const jobStatus = document.getElementById("job-status");
  const stream = document.getElementById("stream");
  let currentJob = null;

  function follow(job) {
    currentJob = job.jobId;
    if (cancel) cancel.hidden = false;
    if (gen) gen.disabled = true;
    stream.hidden = false;
    stream.textContent = "";
    const es = new EventSource(job.eventsUrl);
    const finish = () => { es.close(); if (cancel) cancel.hidden = true; if (gen) gen.disabled = false; };
    const position = (p) => {
      if (p === 0 || p === null || p === undefined) jobStatus.textContent = "Redactando…";
      else jobStatus.textContent = "En cola: posición " + p;
    };
    es.addEventListener("snapshot", (e) => {
      const s = JSON.parse(e.data);
      stream.textContent = s.text || "";
      if (s.status === "queued") position(s.position);
      if (s.status === "running") position(0);
      if (s.status === "done") { finish(); jobStatus.textContent = "Listo."; location.reload(); }
      if (s.status === "failed") { finish(); jobStatus.textContent = "Falló: " + (s.message || ""); }
      if (s.status === "cancelled") { finish(); jobStatus.textContent = "Cancelada."; }
    });
    es.addEventListener("queued", (e) => position(JSON.parse(e.data).position));
    es.addEventListener("started", () => position(0));
    es.addEventListener("token", (e) => { stream.textContent += JSON.parse(e.data).text; });
    es.addEventListener("done", () => { finish(); jobStatus.textContent = "Listo; cargando el borrador…"; location.reload(); });
    es.addEventListener("failed", (e) => { finish(); jobStatus.textContent = "Falló: " + JSON.parse(e.data).message; });
    es.addEventListener("cancelled", () => { finish(); jobStatus.textContent = "Cancelada."; });
    es.onerror = () => { jobStatus.textContent = "Conexión interrumpida; reintentando…"; };
  }

  if (gen) {
    gen.addEventListener("click", async () => {
      jobStatus.textContent = "Enviando…";
      try {
        follow(await api("POST", base + "/drafts"));
      } catch (e) {
        const wait = e.data && e.data.retryAfter ? " (reintente en " + e.data.retryAfter + " s)" : "";
        jobStatus.textContent = "No se pudo generar: " + e.message + wait;
      }
    });
  }
  if (cancel) {
    cancel.addEventListener("click", async () => {
      if (!currentJob) return;
      try { await api("POST", "/api/v1/jobs/" + currentJob + "/cancel"); } catch (e) { jobStatus.textContent = e.message; }
    });
  }

  // ---- versions and differences
  function words(s) { return s.split(/(\s+)/).filter((x) => x.length); }
  function diff(a, b) {
    const x = words(a), y = words(b);
    const n = x.length, m = y.length;
    if (n * m > 4000000) return [["=", b]];
    const dp = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1));
    for (let i = n - 1; i >= 0; i--) for (let j = m - 1; j >= 0; j--)
      dp[i][j] = x[i] === y[j] ? dp[i + 1][j + 1] + 1 : Math.max(dp[i + 1][j], dp[i][j + 1]);
    const out = [];
    let i = 0, j = 0;
    const push = (op, t) => { if (out.length && out[out.length - 1][0] === op) out[out.length - 1][1] += t; else out.push([op, t]); };
    while (i < n && j < m) {
      if (x[i] === y[j]) { push("=", x[i]); i++; j++; }
      else if (dp[i + 1][j] >= dp[i][j + 1]) { push("-", x[i]); i++; }
      else { push("+", y[j]); j++; }
    }
    while (i < n) push("-", x[i++]);
    while (j < m) push("+", y[j++]);
    return out;
  }
  const diffBox = document.getElementById("diff");
  document.querySelectorAll("button.version").forEach((b) => {
    b.addEventListener("click", async () => {
      const id = Number(b.dataset.id);
      try {
        const v = await api("GET", "/api/v1/versions/" + id);
        const prev = v.parentId ? await api("GET", "/api/v1/versions/" + v.parentId) : { text: "" };
        diffBox.hidden = false;
        diffBox.innerHTML = "";
        const h = document.createElement("h3");
        h.textContent = "Versión " + v.number + (v.parentId ? " frente a la anterior" : "");
        diffBox.append(h);
        if (v.writtenFromOlderRevision) {
          const note = document.createElement("p");
          note.className = "muted";
          note.textContent = "Redactada a partir de la revisión " + v.episodeRevision + " de los datos del episodio (la actual es la " + v.currentEpisodeRevision + ").";
          diffBox.append(note);
        }
        const pre = document.createElement("div");
        pre.className = "difftext";
        for (const [op, t] of diff(prev.text, v.text)) {
          const el = document.createElement(op === "=" ? "span" : op === "+" ? "ins" : "del");
          el.textContent = t;
          pre.append(el);
        }
        diffBox.append(pre);
      } catch (e) {
        diffBox.hidden = false;
        diffBox.textContent = "No se pudo cargar la versión: " + e.message;
      }
    });
  });
})();
