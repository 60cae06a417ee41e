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

  // «Altas de hoy»: today as the browser's clock says (the server may run on UTC).
  const todayLink = document.getElementById("today-link");
  if (todayLink) {
    const d = new Date();
    const iso = d.getFullYear() + "-" + String(d.getMonth() + 1).padStart(2, "0") + "-" + String(d.getDate()).padStart(2, "0");
    // The browser's own date (the server's clock is UTC); «Mis altas» keeps its filter.
    const url = new URL(todayLink.href, location.href);
    url.searchParams.set("desde", iso);
    url.searchParams.set("hasta", iso);
    todayLink.href = url.pathname + url.search;
  }

  // ---- list page: import
  const importForm = document.getElementById("import-form");
  if (importForm) {
    const chosen = document.getElementById("import-file");
    chosen.addEventListener("change", () => {
      document.getElementById("import-name").textContent = chosen.files[0] ? chosen.files[0].name : "Ningún archivo elegido";
    });
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
  const CATEGORY = { diagnosis: "diagnóstico", procedure: "procedimiento", medication: "medicamento", code: "código",
    dose: "dosis", number: "número", lab: "laboratorio", date: "fecha", allergy: "alergia", control: "control" };
  function kindLabel(f) {
    return (KIND[f.kind] || "Hallazgo") + (CATEGORY[f.category] ? " · " + CATEGORY[f.category] : "");
  }
  // The list's order: what can hurt a patient first.
  function harm(f) {
    if (f.severity === "error") return f.kind === "unsupported" ? 0 : 1;
    if (f.kind === "suspicious_source" && f.category === "code") return 2;
    if (f.kind === "omission") return 3;
    return 4;
  }

  // Spans are in Unicode code points; the editor counts UTF-16 units.
  function unitsAt(text, cp) {
    let units = 0, n = 0;
    for (const ch of text) { if (n === cp) break; units += ch.length; n++; }
    return units;
  }
  function caretPoint() { return Array.from(editor.value.slice(0, editor.selectionStart)).length; }

  function showDetail(i, select) {
    const f = findings[i];
    if (!f) return;
    detail.hidden = false;
    detail.innerHTML = "";
    const h = document.createElement("h3");
    h.textContent = kindLabel(f);
    const m = document.createElement("p");
    const label = document.createElement("strong");
    label.textContent = f.kind === "suspicious_source" ? "Dónde: " : f.span ? "Texto: " : "Dato: ";
    m.append(label, document.createTextNode(f.mention));
    const why = document.createElement("p");
    const wl = document.createElement("strong");
    wl.textContent = "Por qué: ";
    why.append(wl, document.createTextNode(f.message));
    detail.append(h, m, why);
    document.querySelectorAll(".mark.selected").forEach((x) => x.classList.remove("selected"));
    const mark = highlighted.querySelector('[data-finding="' + i + '"]');
    if (mark) mark.classList.add("selected");
    const at = f.claim || f.span;
    if (select && at && renderedText === editor.value) {
      editor.focus();
      editor.setSelectionRange(unitsAt(editor.value, at[0]), unitsAt(editor.value, at[1]));
      if (mark) mark.scrollIntoView({ block: "center" });
    }
  }

  // Who wrote each sentence of the generated narrative (model, repaired, extract), while
  // the text is the one generated.
  const initialOrigins = document.getElementById("initial-origins");
  const origins = JSON.parse((initialOrigins && initialOrigins.textContent) || "[]");
  const originsText = editor.value;
  const ORIGIN = {
    model: "origin-model",
    repaired: "origin-model",
    extract: "origin-extract",
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
        span.className = ORIGIN[o.origin];
        span.textContent = chars.slice(s, e).join("");
        el.append(span);
        pos = e;
      }
    }
    el.append(document.createTextNode(chars.slice(pos, b).join("")));
  }

  // The marks live in a layer under the editor, with the same text and wrapping: the
  // physician edits the very text that is marked.
  function fit() {
    editor.style.height = "auto";
    editor.style.height = editor.scrollHeight + 2 + "px";
  }

  let renderedText = "";
  function render(text) {
    renderedText = text;
    const chars = Array.from(text);
    // Marks cannot nest: where findings overlap (a sentence without evidence that also
    // holds an invented drug), errors win, then shorter spans; the rest stay listed.
    // A finding marks its whole claim (a drug with its posology) when it has one.
    const range = (f) => f.claim || f.span;
    const placed = [];
    findings
      .map((f, i) => ({ f, i }))
      .filter((x) => range(x.f) && range(x.f)[1] <= chars.length)
      .sort((a, b) =>
        (a.f.severity === "error" ? 0 : 1) - (b.f.severity === "error" ? 0 : 1) ||
        (range(a.f)[1] - range(a.f)[0]) - (range(b.f)[1] - range(b.f)[0]))
      .forEach((x) => {
        const [s, e] = range(x.f);
        if (!placed.some((p) => s < range(p.f)[1] && range(p.f)[0] < e)) placed.push(x);
      });
    const spans = placed.sort((a, b) => range(a.f)[0] - range(b.f)[0]);
    highlighted.innerHTML = "";
    let pos = 0;
    for (const { f, i } of spans) {
      const [s, e] = range(f);
      if (s < pos) continue;
      appendPlain(highlighted, chars, pos, s, text);
      const mark = document.createElement("mark");
      mark.className = "mark " + cls(f);
      mark.dataset.finding = String(i);
      mark.textContent = chars.slice(s, e).join("");
      highlighted.append(mark);
      pos = e;
    }
    appendPlain(highlighted, chars, pos, chars.length, text);
    // A last line break needs a character after it to take its height.
    highlighted.append(document.createTextNode("\u200b"));
    highlighted.classList.toggle("stale", text !== editor.value);
    findingsList.innerHTML = "";
    let errors = 0;
    findings
      .map((f, i) => ({ f, i }))
      .sort((a, b) => harm(a.f) - harm(b.f) || (a.f.span ? a.f.span[0] : 1e9) - (b.f.span ? b.f.span[0] : 1e9))
      .forEach(({ f, i }) => {
        if (cls(f) === "error") errors++;
        const li = document.createElement("li");
        li.className = "finding " + cls(f);
        const b = document.createElement("button");
        b.type = "button";
        b.className = "link";
        b.textContent = f.kind === "suspicious_source"
          ? kindLabel(f) + " (" + f.mention + "): " + f.message
          : kindLabel(f) + ": " + (f.mention ? "«" + f.mention + "» — " : "") + f.message;
        b.addEventListener("click", () => showDetail(i, true));
        li.append(b);
        findingsList.append(li);
      });
    count.textContent = findings.length ? errors + " error(es), " + (findings.length - errors) + " advertencia(s)" : "sin hallazgos";
    count.className = "badge " + (errors ? "bad" : "ok");
    fit();
  }

  render(editor.value);
  window.addEventListener("resize", fit);

  // «Respaldo»: the evidence of the sentence at the caret. Spans are in code points.
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

  // The caret on a mark shows its finding; anywhere, the sentence's evidence.
  let caretFinding = -1;
  function atCaret(force) {
    const pos = caretPoint();
    showEvidenceAt(editor.value, pos, force);
    if (renderedText !== editor.value) return;
    const i = findings.findIndex((f) => { const r = f.claim || f.span; return r && r[0] <= pos && pos <= r[1]; });
    if (i >= 0 && i !== caretFinding) showDetail(i, false);
    caretFinding = i;
  }
  ["keyup", "click", "select", "focus"].forEach((e) => editor.addEventListener(e, () => atCaret(false)));

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
      if (document.activeElement === editor) atCaret(true);
    } catch (e) {
      count.textContent = "no se pudo validar: " + e.message;
    }
  }
  editor.addEventListener("input", () => {
    // The marks stay on the words until the check answers: out of place for a moment.
    highlighted.classList.add("stale");
    fit();
    clearTimeout(timer);
    timer = setTimeout(revalidate, 350);
  });

  const saveStatus = document.getElementById("save-status");
  const save = document.getElementById("save");
  const sign = document.getElementById("sign");
  const amend = document.getElementById("amend");
  if (amend) {
    amend.addEventListener("click", () => {
      editor.readOnly = false;
      amend.hidden = true;
      if (save) save.hidden = false;
      if (sign) sign.hidden = false;
      saveStatus.textContent = "Enmienda: al guardar se crea una versión nueva; la firmada no cambia.";
      editor.focus();
    });
  }
  if (save) {
    save.addEventListener("click", async () => {
      if (editor.readOnly) { saveStatus.textContent = "La versión firmada no se edita: use «Enmendar la versión firmada»."; return; }
      saveStatus.textContent = "Guardando…";
      try {
        const v = await api("POST", base + "/versions", { text: editor.value, parentId: latestId, amend: latestStatus === "signed" });
        saveStatus.textContent = "Guardado como versión " + v.number + ".";
        setTimeout(() => location.reload(), 400);
      } catch (e) {
        saveStatus.textContent = "No se guardó: " + e.message;
      }
    });
    document.addEventListener("keydown", (ev) => {
      if ((ev.ctrlKey || ev.metaKey) && ev.key.toLowerCase() === "s") {
        ev.preventDefault();
        if (!save.hidden) save.click();
      }
    });
  }

  if (sign) {
    const signNow = (ack) => api("POST", "/api/v1/versions/" + latestId + "/sign", ack ? { acknowledgeFindings: true } : {});
    sign.addEventListener("click", async () => {
      if (!latestId) { saveStatus.textContent = "No hay versión para firmar."; return; }
      if (editor.value.trim() !== editor.defaultValue.trim()) {
        saveStatus.textContent = "Guarde los cambios antes de firmar.";
        return;
      }
      if (!confirm("¿Aprobar y firmar la versión actual? Una versión firmada no cambia; los cambios posteriores serán enmiendas.")) return;
      try {
        await signNow(false);
      } catch (e) {
        if (e.status === 409 && e.data && e.data.needsConfirmation) {
          if (!confirm(e.message + "\n\n¿Firmar de todas formas?")) return;
          try { await signNow(true); }
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

  // ---- drafting: the stage, the time, and the words of the answer under way
  const gen = document.getElementById("generate");
  const cancel = document.getElementById("cancel");
  const jobStatus = document.getElementById("job-status");
  const progress = document.getElementById("progress");
  const stageEl = document.getElementById("stage");
  const timing = document.getElementById("timing");
  const bar = document.getElementById("progress-bar");
  const stream = document.getElementById("stream");
  let currentJob = null;
  let startedAt = Date.now(), typical = null, ahead = 0, queued = false, tick = null;

  function clock(s) {
    s = Math.max(0, Math.round(s));
    const m = Math.floor(s / 60), r = s % 60;
    return m ? m + " min " + String(r).padStart(2, "0") + " s" : r + " s";
  }
  function showTiming() {
    const el = (Date.now() - startedAt) / 1000;
    let t = clock(el) + (queued ? " en cola" : " de redacción");
    const total = typical ? typical * (queued ? ahead : 1) : null;
    if (total) {
      t += " · estimado: " + (el < total ? "unos " + clock(total - el) + " más" : "ya debería terminar");
      bar.value = Math.min(99, (100 * el) / total);
    } else {
      t += " · aún no hay una estimación (es la primera redacción de este servidor)";
      bar.removeAttribute("value");
    }
    timing.textContent = "· " + t;
  }
  function setQueued(a) {
    queued = true;
    ahead = a;
    stageEl.textContent = "En cola: " + (a === 1 ? "1 redacción por delante" : a + " redacciones por delante");
  }
  function snapshot(s) {
    typical = s.typicalS || null;
    startedAt = Date.now() - (s.elapsedS || 0) * 1000;
    stream.textContent = s.status === "running" ? s.text || "" : "";
    if (s.status === "queued") setQueued(s.ahead || 1);
    else { queued = false; stageEl.textContent = s.stageLabel || "Redactando"; }
  }

  function follow(job) {
    currentJob = job.jobId;
    if (cancel) cancel.hidden = false;
    if (gen) gen.disabled = true;
    progress.hidden = false;
    stream.textContent = "";
    clearInterval(tick);
    tick = setInterval(showTiming, 1000);
    const es = new EventSource(job.eventsUrl);
    const finish = () => { es.close(); clearInterval(tick); progress.hidden = true; if (cancel) cancel.hidden = true; if (gen) gen.disabled = false; };
    es.addEventListener("snapshot", (e) => {
      const s = JSON.parse(e.data);
      snapshot(s);
      showTiming();
      if (s.status === "done") { finish(); jobStatus.textContent = "Listo; cargando el borrador…"; location.reload(); }
      if (s.status === "failed") { finish(); jobStatus.textContent = "Falló: " + (s.message || ""); }
      if (s.status === "cancelled") { finish(); jobStatus.textContent = "Cancelada."; }
    });
    es.addEventListener("queued", (e) => setQueued(Math.max(1, JSON.parse(e.data).position - 1)));
    es.addEventListener("started", () => { queued = false; startedAt = Date.now(); stageEl.textContent = "Redactando"; });
    es.addEventListener("stage", (e) => {
      const d = JSON.parse(e.data);
      queued = false;
      stageEl.textContent = d.label;
      // A new answer: the last one was not kept as it was.
      if (d.stage && d.stage.stage === "writing") stream.textContent = "";
    });
    es.addEventListener("token", (e) => { stream.textContent += JSON.parse(e.data).text; });
    es.addEventListener("done", () => { finish(); jobStatus.textContent = "Listo; cargando el borrador…"; location.reload(); });
    es.addEventListener("failed", (e) => { finish(); jobStatus.textContent = "Falló: " + JSON.parse(e.data).message; });
    es.addEventListener("cancelled", () => { finish(); jobStatus.textContent = "Cancelada."; });
    es.onerror = () => { jobStatus.textContent = "Conexión interrumpida; reintentando…"; };
  }

  if (gen) {
    gen.addEventListener("click", async () => {
      if (latestId && !confirm("Se redactará un borrador nuevo; el texto actual queda en el historial de versiones. ¿Continuar?")) return;
      jobStatus.textContent = "Enviando…";
      try {
        const job = await api("POST", base + "/drafts");
        jobStatus.textContent = job.existing ? "Ya había una redacción en curso para este episodio: se muestra su avance." : "";
        follow(job);
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
  // A draft under way when the page was opened (or reloaded): follow it.
  if (root.dataset.job) {
    follow({ jobId: root.dataset.job, eventsUrl: "/api/v1/jobs/" + root.dataset.job + "/events" });
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
  // Unchanged stretches shortened to the words around the changes.
  const CONTEXT = 24;
  function shorten(t, first, last) {
    const w = words(t);
    if (w.length <= 2 * CONTEXT + 10) return t;
    const head = first ? [] : w.slice(0, CONTEXT);
    const tail = last ? [] : w.slice(-CONTEXT);
    return head.join("") + " […] " + tail.join("");
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
        h.textContent = "Versión " + v.number + (v.parentId ? ": cambios frente a la anterior" : "");
        diffBox.append(h);
        if (v.writtenFromOlderRevision) {
          const note = document.createElement("p");
          note.className = "muted";
          note.textContent = "Redactada a partir de la revisión " + v.episodeRevision + " de los datos del episodio (la actual es la " + v.currentEpisodeRevision + ").";
          diffBox.append(note);
        }
        const pre = document.createElement("div");
        pre.className = "difftext";
        const parts = diff(prev.text, v.text);
        parts.forEach(([op, t], k) => {
          const el = document.createElement(op === "=" ? "span" : op === "+" ? "ins" : "del");
          el.textContent = op === "=" && parts.length > 1 ? shorten(t, k === 0, k === parts.length - 1) : t;
          pre.append(el);
        });
        if (parts.length === 1 && parts[0][0] === "=") {
          const same = document.createElement("p");
          same.className = "muted";
          same.textContent = "Sin cambios de texto frente a la anterior.";
          diffBox.append(same);
        } else diffBox.append(pre);
      } catch (e) {
        diffBox.hidden = false;
        diffBox.textContent = "No se pudo cargar la versión: " + e.message;
      }
    });
  });
})();
