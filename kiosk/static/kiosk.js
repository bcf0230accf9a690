// The kiosk's screen (/borne): polls /borne/etat every second, renders it, captures the
// wedge scanner and the touch buttons, and sends every scan through the outbox.
// Everything a student reads comes from the server (French) or is written here in French.

import { createWedge, optionsFrom } from "./wedge.js";
import { mintEventId, openOutbox } from "./outbox.js";
import { playQueued, playRefusal, playSuccess, unlockOnGesture, voice } from "./feedback.js";

const body = document.body;
const cfg = body.dataset;
const $ = (id) => document.getElementById(id);

const POLL_MS = 1000;
const POLL_TIMEOUT_MS = 5000;
const FEEDBACK_TONE_MS = 12000; // the colour of the last answer, then neutral
const FEEDBACK_TEXT_MS = 60000; // the text of the last answer, then cleared
const REFUSAL_KEEP_MS = 5 * 60000;
const REFUSALS_SHOWN = 5;
const COUNTDOWN_S = 60;
const WHOAMI_MS = 6000;
const PANEL_IDLE_MS = 60000;
const ACTIVITY_KEY = "atelier.borne.activite";
const RELOAD_KEY = "atelier.borne.rechargement";
const RELOAD_EVERY_MS = 5000;
const IDLE_SENTENCE = "Badge-toi pour commencer";
const NO_NETWORK_SENTENCE = "Pas de réseau. Tes scans sont gardés.";
const DOUBLE_TAP_MS = 800; // a gloved tap can land twice: one press per button per 800 ms
const FEELING_MS = 20000; // « Comment ça s'est passé ? » goes away by itself after this
const FEELING_TRIES = 3;

const state = {
  etat: null,
  fetchedAt: 0,
  skewMs: 0,
  offline: false,
  unauthorized: false,
  feedback: null, // {message, ok, at}
  refusals: [], // {code, message, at}
  voiceOn: false,
  lastActivity: Date.now(),
  idleFiredAt: 0,
  polls: 0,
};

const el = {
  stationName: $("station-name"),
  net: $("net"), netIcon: $("net-icon"), netText: $("net-text"),
  closing: $("closing"), closingText: $("closing-text"),
  voiceToggle: $("voice-toggle"), voiceIcon: $("voice-icon"), voiceText: $("voice-text"),
  clock: $("clock"),
  feedback: $("feedback"), feedbackIcon: $("feedback-icon"), status: $("status"),
  instruction: $("instruction"), instructionIcon: $("instruction-icon"), instructionText: $("instruction-text"),
  helpBanner: $("help-banner"), helpText: $("help-text"),
  work: $("work"), ofNumber: $("of-number"), ofProduct: $("of-product"),
  piece: $("piece"), pieceCode: $("piece-code"), routing: $("routing"),
  run: $("run"), runOpName: $("run-op-name"), runClock: $("run-clock"), runIcon: $("run-icon"),
  timer: $("timer"), runState: $("run-state"),
  welding: $("welding"), arc: $("arc"), arcIcon: $("arc-icon"), arcText: $("arc-text"),
  wps: $("wps"), wpsId: $("wps-id"), wpsRange: $("wps-range"),
  lastWeld: $("last-weld"), lastWeldIcon: $("last-weld-icon"), lastWeldText: $("last-weld-text"),
  welderOffline: $("welder-offline"),
  nobody: $("nobody"), students: $("students"),
  refusals: $("refusals"), refusalList: $("refusal-list"),
  countdown: $("countdown"), countdownText: $("countdown-text"),
  whoami: $("whoami"), whoamiNames: $("whoami-names"),
  pauseIcon: $("pause-icon"), pauseText: $("pause-text"),
  panel: $("student-panel"), panelTitle: $("panel-title"), panelBody: $("panel-body"), panelClose: $("panel-close"),
  feeling: $("feeling"), feelingTitle: $("feeling-title"), feelingChoices: $("feeling-choices"), feelingSkip: $("feeling-skip"),
};

// ---- Small DOM helpers (text only: nothing from the server is ever parsed as HTML) -----

const SVG = "http://www.w3.org/2000/svg";

function icon(name, cls = "") {
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("class", `icon ${cls}`.trim());
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("focusable", "false");
  const use = document.createElementNS(SVG, "use");
  use.setAttribute("href", `#i-${name}`);
  svg.append(use);
  return svg;
}

function setIcon(svg, name) {
  const use = svg.querySelector("use");
  if (use.getAttribute("href") !== `#i-${name}`) {
    use.setAttribute("href", `#i-${name}`);
  }
}

function node(tag, { cls, text, attrs } = {}, ...children) {
  const n = document.createElement(tag);
  if (cls) {
    n.className = cls;
  }
  if (text !== undefined && text !== null) {
    n.textContent = text;
  }
  for (const [k, v] of Object.entries(attrs || {})) {
    n.setAttribute(k, v);
  }
  n.append(...children.filter(Boolean));
  return n;
}

function setText(n, text) {
  const value = text ?? "";
  if (n.textContent !== value) {
    n.textContent = value;
  }
}

// Codes (« P-2026-000123 », « OF-2026-0042-20 », « ST-SOUD-03 ») in a server's sentence
// never break at their hyphens: each one goes in a span that does not wrap. The text of
// the element stays exactly the sentence (the status region reads as the server said).
const CODE_IN_TEXT = /\b[A-Z]{1,4}(?:-[A-Z0-9]+)+\b/g;

function setCodedText(n, text) {
  const value = text ?? "";
  if (n.textContent === value) {
    return;
  }
  const parts = [];
  let last = 0;
  for (const match of value.matchAll(CODE_IN_TEXT)) {
    if (match.index > last) {
      parts.push(document.createTextNode(value.slice(last, match.index)));
    }
    parts.push(node("span", { cls: "code", text: match[0] }));
    last = match.index + match[0].length;
  }
  if (last < value.length) {
    parts.push(document.createTextNode(value.slice(last)));
  }
  n.replaceChildren(...parts);
}

function show(n, visible) {
  if (n.hidden === visible) {
    n.hidden = !visible;
  }
}

// Re-render a part only when its data changed: buttons keep their focus.
const memo = new Map();
function changed(key, value) {
  const json = JSON.stringify(value ?? null);
  if (memo.get(key) === json) {
    return false;
  }
  memo.set(key, json);
  return true;
}

const hhmm = new Intl.DateTimeFormat("fr-FR", { hour: "2-digit", minute: "2-digit" });
const dayTime = new Intl.DateTimeFormat("fr-FR", { weekday: "short", hour: "2-digit", minute: "2-digit" });

function serverNow() {
  return Date.now() + state.skewMs;
}

function fmtTime(iso, format = hhmm) {
  const t = Date.parse(iso);
  return Number.isFinite(t) ? format.format(t) : "";
}

export function duration(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  const mm = String(Math.floor((s % 3600) / 60)).padStart(2, "0");
  const ss = String(s % 60).padStart(2, "0");
  return s >= 3600 ? `${Math.floor(s / 3600)}:${mm}:${ss}` : `${mm}:${ss}`;
}

// French spacing that never breaks: « Fin », « ! », « : » stay with their word.
function typeset(text) {
  return (text || "").replace(/« /g, "«\u00a0").replace(/ ([»!?:;])/g, "\u00a0$1");
}

// The server's level words already say « niveau 3 : maîtrisé »: shown as a sentence start.
function capitalise(text) {
  return text ? text[0].toUpperCase() + text.slice(1) : "";
}

function plural(n, one, many) {
  return `${n} ${n > 1 ? many : one}`;
}

// ---- Pictograms for the instruction and the routing -------------------------------------

const NEXT_ICONS = {
  badge: "badge", work_order: "workorder", operation: "operation", piece: "piece",
  finish: "flag", paused: "pause", help: "help", wait: "clock",
};

// The server chooses each step's pictogram (app/read/kiosk.py), by the sprite's names.
const STEP_ICONS = new Set(["debit", "bending", "welding", "assembly", "grinding", "control"]);

export function stepIcon(step) {
  return STEP_ICONS.has(step.pictogram) ? step.pictogram : "generic";
}

// ---- Status region: the feedback of the latest scan -------------------------------------

function offlineText() {
  const n = outbox ? outbox.size() : 0;
  return `hors ligne — ${n} ${n > 1 ? "scans" : "scan"} en attente`;
}

function isOffline() {
  return state.offline || Boolean(outbox && outbox.isOffline());
}

// Offline since the page loaded: nothing is known of the station, say only what works.
function renderNoState() {
  if (state.etat) {
    return;
  }
  const offline = isOffline();
  setText(el.instructionText, offline ? NO_NETWORK_SENTENCE : IDLE_SENTENCE);
  setIcon(el.instructionIcon, offline ? "offline" : "badge");
  el.instruction.dataset.kind = offline ? "offline" : "badge";
}

// Refusals a student must act on in their own way get their own pictogram.
const REFUSAL_ICONS = { not_habilitated: "habilitation", keyboard_layout: "keyboard" };

function renderStatus() {
  renderNoState();
  const now = Date.now();
  let text = "";
  let tone = "idle";
  let pict = "clock";
  if (isOffline()) {
    text = offlineText();
    tone = "offline";
    pict = "offline";
  } else if (state.feedback && now - state.feedback.at < FEEDBACK_TEXT_MS) {
    text = state.feedback.message;
    pict = state.feedback.ok ? "check" : REFUSAL_ICONS[state.feedback.error] || "cross";
    tone = now - state.feedback.at < FEEDBACK_TONE_MS ? (state.feedback.ok ? "ok" : "bad") : "past";
  }
  setCodedText(el.status, text);
  if (el.feedback.dataset.tone !== tone) {
    el.feedback.dataset.tone = tone;
  }
  setIcon(el.feedbackIcon, pict);
  el.feedback.dataset.pictogram = pict;
  // The connection chip in the header.
  const offline = isOffline();
  el.net.classList.toggle("is-online", !offline);
  el.net.classList.toggle("is-offline", offline);
  setIcon(el.netIcon, offline ? "offline" : "online");
  setText(el.netText, offline ? "hors ligne" : "en ligne");
  body.classList.toggle("is-offline", offline);
}

function codedSpan(cls, text) {
  const span = node("span", { cls });
  setCodedText(span, text);
  return span;
}

function renderRefusals() {
  const now = Date.now();
  state.refusals = state.refusals.filter((r) => now - r.at < REFUSAL_KEEP_MS).slice(-REFUSALS_SHOWN);
  const shown = state.refusals.map((r) => [r.code, r.message, r.at]);
  if (!changed("refusals", shown)) {
    return;
  }
  el.refusalList.replaceChildren(
    ...state.refusals.slice().reverse().map((r) =>
      node("li", { cls: "refusal" },
        icon("cross", "refusal-icon"),
        node("span", { cls: "refusal-code", text: r.code }),
        codedSpan("refusal-message", r.message),
        node("time", { cls: "refusal-time", text: hhmm.format(r.at) }),
      ),
    ),
  );
  show(el.refusals, state.refusals.length > 0);
}

// ---- Rendering /borne/etat --------------------------------------------------------------

let spokenInstruction = null;
let pendingSpeech = null;
let speechTimer = null;

function render() {
  const etat = state.etat;
  if (!etat) {
    return;
  }
  const st = etat.station || {};
  const students = Array.isArray(st.students) ? st.students : [];
  const kiosk = etat.kiosk || {};

  setText(el.stationName, st.name || kiosk.name || cfg.stationName);
  if (kiosk.closing_time) {
    setText(el.closingText, `Fermeture ${kiosk.closing_time}`);
  }
  show(el.closing, Boolean(kiosk.closing_time));
  if (voice.stored() === null && typeof kiosk.speech === "boolean" && kiosk.speech !== state.voiceOn) {
    setVoice(kiosk.speech, false);
  }

  body.classList.toggle("is-idle", students.length === 0);
  body.classList.toggle("is-team", students.length > 1);

  // The one instruction.
  const next = st.next || {};
  const kind = students.length === 0 && !next.message ? "badge" : next.kind || "wait";
  const sentence = next.message || (students.length === 0 ? IDLE_SENTENCE : "");
  setText(el.instructionText, typeset(sentence));
  setIcon(el.instructionIcon, NEXT_ICONS[kind] || "clock");
  el.instruction.dataset.kind = kind;

  // A call for help.
  show(el.helpBanner, Boolean(st.help_since));
  if (st.help_since) {
    const at = fmtTime(st.help_since);
    setText(el.helpText, at ? `Aide demandée à ${at} — le maître pro arrive` : "Aide demandée — le maître pro arrive");
  }
  el.helpBanner.closest("body").classList.toggle("needs-help", Boolean(st.help_since));

  renderWork(st);
  renderRun(st);
  renderWelding(st);
  renderStudents(students);
  rememberRun(st, students);

  // Pause button: A-PAUSE pauses a running operation and resumes a paused one.
  const paused = st.run && st.run.status === "paused";
  setText(el.pauseText, paused ? "Reprendre" : "Pause");
  setIcon(el.pauseIcon, paused ? "play" : "pause");

  // Say the instruction when it changes (after the answer of the scan that changed it).
  if (state.voiceOn) {
    if (pendingSpeech !== null) {
      clearTimeout(speechTimer);
      voice.say(pendingSpeech, sentence !== spokenInstruction ? sentence : "");
    } else if (spokenInstruction !== null && sentence !== spokenInstruction) {
      voice.say(sentence);
    }
  }
  pendingSpeech = null;
  spokenInstruction = sentence;
}

function renderWork(st) {
  const wo = st.work_order;
  show(el.work, Boolean(wo));
  if (!wo) {
    changed("routing", null);
    return;
  }
  setText(el.ofNumber, wo.number);
  setText(el.ofProduct, wo.product || "");
  show(el.piece, Boolean(st.piece));
  setText(el.pieceCode, st.piece || "");
  const routing = Array.isArray(st.routing) ? st.routing : [];
  // The current step: being done, paused, or only chosen (no run yet: the piece comes next).
  const phase = st.run ? (st.run.status === "paused" ? "paused" : "running") : "chosen";
  if (!changed("routing", [routing, phase])) {
    return;
  }
  el.routing.replaceChildren(
    ...routing.map((step) => {
      const li = node("li", { cls: "step" });
      if (step.current) {
        li.classList.add("is-current");
        li.setAttribute("aria-current", "step");
      } else if (step.done_for_piece) {
        li.classList.add("is-done");
      }
      li.append(
        node("span", { cls: "step-head" },
          icon(stepIcon(step), "step-icon"),
          node("span", { cls: "step-num", text: String(step.step ?? "") })),
        node("span", { cls: "step-name", text: step.name || step.type || "" }),
      );
      if (step.current) {
        li.append(node("span", {
          cls: `step-mark mark-current${phase === "paused" ? " mark-paused" : ""}`,
          text: STEP_PHASES[phase],
        }));
      } else if (step.done_for_piece) {
        li.append(node("span", { cls: "step-mark mark-done" }, icon("check", "mark-icon"), document.createTextNode("fait")));
      }
      return li;
    }),
  );
}

const STEP_PHASES = { running: "en cours", paused: "en pause", chosen: "à faire" };

function renderRun(st) {
  const run = st.run;
  const op = st.operation || (run && typeof run.operation === "object" ? run.operation : null);
  show(el.run, Boolean(op || run));
  if (!op && !run) {
    return;
  }
  const name = op ? `${op.step ? `${op.step} · ` : ""}${op.name || op.type || ""}` : "";
  setText(el.runOpName, name || (run && typeof run.operation === "string" ? run.operation : ""));
  show(el.runClock, Boolean(run));
  if (run) {
    const paused = run.status === "paused";
    el.runClock.dataset.state = paused ? "paused" : "running";
    setIcon(el.runIcon, paused ? "pause" : "play");
    setText(el.runState, paused ? "en pause" : "en cours");
  }
  tickTimer();
}

function tickTimer() {
  const run = state.etat && state.etat.station && state.etat.station.run;
  if (!run) {
    return;
  }
  let elapsed = Number(run.elapsed_s) || 0;
  // Offline, the timer stops at what the server last said: the run may have been paused.
  if (run.status === "running" && !isOffline()) {
    elapsed += (Date.now() - state.fetchedAt) / 1000;
  }
  setText(el.timer, duration(elapsed));
  const label = `${run.status === "paused" ? "En pause" : "En cours"} depuis ${duration(elapsed)}`;
  if (el.timer.getAttribute("aria-label") !== label) {
    el.timer.setAttribute("aria-label", label);
  }
}

function range(values, unit) {
  if (!Array.isArray(values) || values.length < 2) {
    return "";
  }
  return `${values[0]}–${values[1]} ${unit}`;
}

function renderWelding(st) {
  const w = st.welding;
  // Without the server, whether the arc burns now is not known: say so, show no glow.
  const offline = isOffline();
  show(el.welding, Boolean(w));
  body.classList.toggle("arc-on", Boolean(w && w.arc_on && !offline));
  if (!w) {
    return;
  }
  if (offline) {
    el.arc.dataset.arc = "unknown";
    setIcon(el.arcIcon, "offline");
    setText(el.arcText, "Arc : inconnu (hors ligne)");
  } else {
    el.arc.dataset.arc = w.arc_on ? "on" : "off";
    setIcon(el.arcIcon, w.arc_on ? "arc" : "arc-off");
    setText(el.arcText, w.arc_on ? "Arc allumé" : "Arc éteint");
  }
  show(el.welderOffline, w.online === false);
  const wps = w.wps;
  show(el.wps, Boolean(wps));
  if (wps) {
    setText(el.wpsId, wps.id || "");
    setText(el.wpsRange, [range(wps.i_a, "A"), range(wps.u_v, "V")].filter(Boolean).join(" · "));
  }
  const last = w.last_weld;
  show(el.lastWeld, Boolean(last));
  if (last) {
    el.lastWeld.dataset.ok = last.ok ? "1" : "0";
    setIcon(el.lastWeldIcon, last.ok ? "check" : "cross");
    const at = fmtTime(last.at);
    setText(el.lastWeldText, `${at ? `Dernière soudure ${at} : ` : ""}${last.message || (last.ok ? "dans la plage" : "hors plage")}`);
  }
}

function renderStudents(students) {
  show(el.nobody, students.length === 0);
  const people = students.map((s) => [s.id, s.name, todoKey(s)]);
  if (!changed("students", people)) {
    return;
  }
  el.students.replaceChildren(
    ...students.map((s) => {
      const pieces = node("button", { cls: "mine", attrs: { type: "button", "data-student": s.id, "data-part": "pieces" } },
        icon("piece"), node("span", { text: "Mes pièces" }));
      const skills = node("button", { cls: "mine", attrs: { type: "button", "data-student": s.id, "data-part": "competences" } },
        icon("star"), node("span", { text: "Mes compétences" }));
      pieces.setAttribute("aria-label", `Mes pièces — ${s.name}`);
      skills.setAttribute("aria-label", `Mes compétences — ${s.name}`);
      return node("li", { cls: "student", attrs: { "data-student": s.id } },
        node("p", { cls: "student-name" }, icon("person"), node("span", { text: s.name })),
        todoView(s.assigned, "todo-mini"),
        node("div", { cls: "mine-buttons" }, pieces, skills),
      );
    }),
  );
  // A panel of a student who left closes.
  if (el.panel.open && !students.some((s) => s.id === el.panel.dataset.student)) {
    closePanel();
  }
  if (!el.whoami.hidden) {
    fillWhoami();
  }
}

// ---- "Mes pièces" / "Mes compétences" ---------------------------------------------------

let panelTimer = null;
let panelRequest = 0;

function closePanel() {
  clearTimeout(panelTimer);
  panelRequest += 1;
  if (el.panel.open) {
    el.panel.close();
  }
}

function armPanelTimer() {
  clearTimeout(panelTimer);
  panelTimer = setTimeout(closePanel, PANEL_IDLE_MS);
}

async function openPanel(studentId, part) {
  const student = (state.etat?.station?.students || []).find((s) => s.id === studentId);
  const name = student ? student.name : "";
  el.panel.dataset.student = studentId;
  el.panel.dataset.part = part;
  setText(el.panelTitle, part === "pieces" ? `Mes pièces — ${name}` : `Mes compétences — ${name}`);
  el.panelBody.replaceChildren(node("p", { cls: "panel-wait", text: "Un instant…" }));
  if (!el.panel.open) {
    el.panel.showModal();
  }
  el.panelClose.focus();
  armPanelTimer();
  const request = ++panelRequest;
  let data = null;
  let error = null;
  try {
    const response = await fetch(`${cfg.eleveUrl}${encodeURIComponent(studentId)}`, {
      cache: "no-store", credentials: "same-origin", headers: { Accept: "application/json" },
    });
    if (response.status === 401) {
      unauthorized();
      return;
    }
    const json = await response.json().catch(() => null);
    if (!response.ok) {
      error = json?.error?.message || "Impossible d'afficher cette page pour l'instant.";
    } else {
      data = json;
    }
  } catch (e) {
    error = "Hors ligne : réessaie quand le serveur répond.";
  }
  if (request !== panelRequest) {
    return;
  }
  if (error) {
    el.panelBody.replaceChildren(node("p", { cls: "panel-error" }, icon("cross"), node("span", { text: error })));
    return;
  }
  el.panelBody.replaceChildren(part === "pieces" ? piecesView(data) : skillsView(data));
}

// ---- « À faire » : the operations the office gave a student ------------------------------

function todoKey(student) {
  const todo = Array.isArray(student.assigned) ? student.assigned : [];
  return todo.map((t) => t.operation).join(" ");
}

// The operations given to a student (soonest due first): pictogram, step name, order and
// product, the due date. Nothing when none.
function todoView(assigned, cls) {
  const todo = Array.isArray(assigned) ? assigned : [];
  if (todo.length === 0) {
    return null;
  }
  return node("div", { cls: `todo ${cls}` },
    node("p", { cls: "todo-title" }, icon("workorder"), node("span", { text: "À faire pour toi" })),
    node("ul", { cls: "todo-list" }, ...todo.map((t) => node("li", { cls: "todo-item" },
      icon(t.pictogram || "generic"),
      node("span", { cls: "todo-name", text: t.name || "" }),
      node("span", { cls: "todo-code", text: t.operation || "" }),
      node("span", { cls: "todo-product", text: t.product || "" }),
      t.due_on ? node("span", { cls: "todo-due" }, icon("clock"),
        document.createTextNode(`pour le ${dueDay(t.due_on)}`)) : null,
    ))),
  );
}

function dueDay(isoDay) {
  const [y, m, d] = String(isoDay).split("-").map(Number);
  if (!y || !m || !d) {
    return String(isoDay);
  }
  return new Date(y, m - 1, d).toLocaleDateString("fr-FR", { weekday: "long", day: "numeric", month: "long" });
}

function piecesView(data) {
  const pieces = Array.isArray(data?.pieces) ? data.pieces : [];
  const todo = todoView(data?.assigned, "todo-panel");
  if (pieces.length === 0) {
    const empty = node("p", { cls: "panel-empty", text: "Pas encore de pièce cette semaine." });
    return todo ? node("div", { cls: "panel-part" }, todo, empty) : empty;
  }
  // One entry per operation finished; a piece worked on twice is still one piece.
  const distinct = new Set(pieces.map((p) => p.code || p)).size;
  const wrap = node("div", { cls: "panel-part" }, todo,
    node("p", { cls: "panel-count", text: `${plural(distinct, "pièce", "pièces")} cette semaine` }));
  wrap.append(node("ul", { cls: "piece-list" }, ...pieces.map((p) => {
    const finished = p.finished_at ? fmtTime(p.finished_at, dayTime) : "";
    return node("li", { cls: "piece-item" },
      node("p", { cls: "piece-top" }, icon("piece"),
        node("span", { cls: "piece-product", text: p.product || p.work_order || "" }),
        node("span", { cls: "piece-code", text: p.code || "" })),
      node("p", { cls: "piece-detail" },
        node("span", { text: p.operation || "" }),
        finished ? node("span", { cls: "piece-when" }, icon("flag"), document.createTextNode(`finie ${finished}`)) : null),
    );
  })));
  return wrap;
}

function skillsView(data) {
  const list = Array.isArray(data?.competencies) ? data.competencies : [];
  const fw = data?.framework;
  const wrap = node("div", { cls: "panel-part" });
  if (fw) {
    const title = node("p", { cls: "framework" }, node("strong", { text: fw.title || fw.id || "" }));
    if (fw.provisional) {
      title.append(node("span", { cls: "provisional", text: "référentiel provisoire" }));
    }
    wrap.append(title);
  }
  if (list.length === 0) {
    wrap.append(node("p", { cls: "panel-empty", text: "Pas encore de preuve." }));
    return wrap;
  }
  wrap.append(node("ul", { cls: "skill-list" }, ...list.map((c) => {
    const item = node("li", { cls: "skill" },
      node("p", { cls: "skill-top" },
        node("span", { cls: "skill-code", text: c.code || "" }),
        node("span", { cls: "skill-title", text: c.title || "" })),
      node("p", { cls: "skill-facts" },
        node("span", { cls: "skill-evidence" }, icon("piece"),
          document.createTextNode(c.evidence ? plural(c.evidence, "preuve", "preuves") : "aucune preuve")),
        c.level ? node("span", { cls: "skill-level" }, icon("star"), document.createTextNode(capitalise(c.level))) : null),
    );
    if (c.comment) {
      item.append(node("p", { cls: "skill-comment", text: `Le maître pro : « ${c.comment} »` }));
    }
    return item;
  })));
  return wrap;
}

// ---- After A-FIN: « Comment ça s'est passé ? » -------------------------------------------
// Asked of each student badged in (first names), one tap each, skippable: « Passer », the
// next scan, or FEELING_MS without a tap close it. Each answer is posted once to
// /borne/ressenti with an id minted here: a retry records nothing twice.

let lastRun = null; // {piece, step, students: [{id, name}]} of the run last seen going on

function rememberRun(st, students) {
  const run = st.run;
  const step = run && typeof run.operation === "object" && run.operation ? run.operation.step : null;
  if (run && run.piece && Number.isInteger(step) && students.length) {
    lastRun = { piece: run.piece, step, students: students.map((s) => ({ id: s.id, name: s.name })) };
  }
}

const feeling = {
  timeoutMs: FEELING_MS,
  queue: [], // [{piece, step, student: {id, name}}]
  shownAt: 0,
  timer: null,
  sent: [], // what was posted, for the tests: [{event_id, student, feeling, status}]
};

// What the A-FIN answer says of the run it finished, or what the page saw of it.
function finishedRun(answer) {
  const body = answer.body || {};
  const run = body.run || body.finished || null;
  if (run && run.piece && Number.isInteger(run.step) && Array.isArray(run.students)) {
    return run;
  }
  return lastRun;
}

function askFeelings(answer) {
  const run = finishedRun(answer);
  if (!run || !run.students.length) {
    return;
  }
  feeling.queue = run.students.map((student) => ({ piece: run.piece, step: run.step, student }));
  lastRun = null;
  showFeeling();
}

function showFeeling() {
  clearTimeout(feeling.timer);
  const next = feeling.queue[0];
  if (!next) {
    closeFeeling();
    return;
  }
  // Team work: the name says whose turn it is. Alone too: the kiosk speaks to one person.
  setText(el.feelingTitle, `${next.student.name}, comment ça s'est passé\u00a0?`);
  el.feeling.dataset.student = next.student.id;
  el.feeling.dataset.armed = "0";
  show(el.feeling, true);
  feeling.shownAt = Date.now();
  // The tap that finished the run, landing twice, is not an answer.
  setTimeout(() => {
    if (el.feeling.dataset.student === next.student.id && !el.feeling.hidden) {
      el.feeling.dataset.armed = "1";
    }
  }, DOUBLE_TAP_MS);
  feeling.timer = setTimeout(closeFeeling, feeling.timeoutMs);
  if (state.voiceOn) {
    voice.say(`${next.student.name}, comment ça s'est passé ? Difficile, moyen ou facile ?`);
  }
}

function closeFeeling() {
  clearTimeout(feeling.timer);
  feeling.queue = [];
  if (!el.feeling.hidden) {
    show(el.feeling, false);
  }
  delete el.feeling.dataset.student;
  el.feeling.dataset.armed = "0";
}

function nextFeeling() {
  feeling.queue.shift();
  showFeeling();
}

async function postFeeling(item, word) {
  const body = {
    event_id: mintEventId(cfg.stationCode),
    piece: item.piece,
    step: item.step,
    student: item.student.id,
    feeling: word,
  };
  const record = { event_id: body.event_id, student: body.student, feeling: word, status: 0 };
  feeling.sent.push(record);
  for (let attempt = 1; attempt <= FEELING_TRIES; attempt += 1) {
    let status = 0;
    let json = null;
    try {
      const response = await fetch(cfg.ressentiUrl, {
        method: "POST",
        credentials: "same-origin",
        cache: "no-store",
        headers: { "Content-Type": "application/json", "X-Atelier-Borne": "1", Accept: "application/json" },
        body: JSON.stringify(body),
      });
      status = response.status;
      json = await response.json().catch(() => null);
    } catch (error) {
      status = 0;
    }
    record.status = status;
    if (status === 401) {
      unauthorized();
      return;
    }
    if (status !== 0 && status !== 429 && status < 500) {
      const message = json?.message || json?.error?.message;
      if (message) {
        state.feedback = { message, ok: status < 300, error: json?.error?.code || "", at: Date.now(), code: "" };
        renderStatus();
      }
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 1000 * attempt));
  }
  console.warn("borne: ressenti non envoyé");
}

function onFeelingClick(event) {
  const button = event.target.closest("button");
  if (!button || el.feeling.hidden) {
    return;
  }
  if (event.detail > 0) {
    button.blur();
  }
  if (button === el.feelingSkip) {
    nextFeeling();
    return;
  }
  const word = button.dataset.feeling;
  const item = feeling.queue[0];
  if (!word || !item || Date.now() - feeling.shownAt < DOUBLE_TAP_MS) {
    return;
  }
  markActivity();
  postFeeling(item, word);
  nextFeeling();
}

// ---- Qui suis-je ? ---------------------------------------------------------------------

let whoamiTimer = null;

function fillWhoami() {
  const students = state.etat?.station?.students || [];
  el.whoamiNames.replaceChildren(
    ...(students.length
      ? students.map((s) => node("li", { text: s.name }))
      : [node("li", { cls: "whoami-none", text: "Personne n'est badgé ici" })]),
  );
  return students;
}

function showWhoami() {
  const students = fillWhoami();
  show(el.whoami, true);
  if (state.voiceOn) {
    voice.say(students.length ? students.map((s) => s.name).join(", ") : "Personne n'est badgé ici");
  }
  clearTimeout(whoamiTimer);
  whoamiTimer = setTimeout(() => show(el.whoami, false), WHOAMI_MS);
}

// ---- Activity and idle badge-out -------------------------------------------------------

let activityWrittenAt = 0;

function loadActivity() {
  try {
    const stored = Number(localStorage.getItem(ACTIVITY_KEY));
    if (Number.isFinite(stored) && stored > 0 && stored <= Date.now()) {
      state.lastActivity = stored;
    }
  } catch (error) {
    // no storage: counts from the page load
  }
}

function markActivity(force = true) {
  const now = Date.now();
  state.lastActivity = now;
  if (force || now - activityWrittenAt > 5000) {
    activityWrittenAt = now;
    try {
      localStorage.setItem(ACTIVITY_KEY, String(now));
    } catch (error) {
      // ignore
    }
  }
  if (!el.countdown.hidden) {
    show(el.countdown, false);
  }
}

let lastWorkKey = "";

function tickIdle() {
  if (!state.etat) {
    return;
  }
  const st = state.etat.station;
  const students = st?.students || [];
  const idleS = Number(state.etat?.kiosk?.idle_badge_out_s) || 0;
  // A change at the station (someone badged, a run started or stopped) counts as activity,
  // and so does a running operation or a burning arc: idle time starts when work stops.
  const workKey = JSON.stringify([students.map((s) => s.id), st?.run?.status || null]);
  if (workKey !== lastWorkKey) {
    if (lastWorkKey) {
      markActivity(false);
    }
    lastWorkKey = workKey;
  }
  const busy = st?.run?.status === "running" || Boolean(st?.welding?.arc_on);
  if (busy) {
    markActivity(false);
  }
  if (!students.length || busy || !idleS || state.unauthorized || !outbox) {
    show(el.countdown, false);
    return;
  }
  const left = idleS - (Date.now() - state.lastActivity) / 1000;
  if (left <= 0) {
    show(el.countdown, false);
    // Once per idle period (the state may be stale while offline).
    if (Date.now() - state.idleFiredAt > idleS * 1000) {
      state.idleFiredAt = Date.now();
      markActivity();
      submit("A-SORTIE", "touch", { auto: true });
    }
    return;
  }
  if (left <= COUNTDOWN_S) {
    const s = Math.ceil(left);
    setText(el.countdownText, `Sortie automatique dans ${s} s — scanne ou touche l'écran pour rester`);
    if (el.countdown.hidden) {
      show(el.countdown, true);
      if (state.voiceOn) {
        voice.say("Sortie automatique dans une minute. Scanne ou touche l'écran pour rester.");
      }
    }
  } else {
    show(el.countdown, false);
  }
}

// ---- Scans ----------------------------------------------------------------------------

let outbox = null;
const early = []; // scans captured before the outbox opened

async function submit(code, source, { auto = false } = {}) {
  if (!auto) {
    markActivity();
  }
  closePanel();
  closeFeeling();
  if (!outbox) {
    early.push([code, source]);
    return null;
  }
  const item = await outbox.add(code, source);
  if (isOffline()) {
    playQueued();
    renderStatus();
  }
  return item;
}

function onAnswer(answer) {
  state.offline = false;
  const { ok, message, replay } = answer;
  const error = answer.body && answer.body.error ? String(answer.body.error.code || "") : "";
  state.feedback = { message, ok, error, at: Date.now(), code: answer.item.code };
  if (!replay) {
    if (ok) {
      playSuccess();
    } else {
      playRefusal();
    }
    if (state.voiceOn) {
      // Said with the new instruction once /borne/etat answers (or alone, if it does not).
      pendingSpeech = message;
      clearTimeout(speechTimer);
      speechTimer = setTimeout(() => {
        if (pendingSpeech !== null) {
          voice.say(pendingSpeech);
          pendingSpeech = null;
        }
      }, 1500);
    }
  } else if (!ok) {
    playRefusal();
    state.refusals.push({ code: answer.item.code, message, at: Date.now() });
    renderRefusals();
  }
  body.dataset.lastAnswer = ok ? "accepted" : "refused";
  if (ok && !replay && String(answer.item.code || "").trim().toUpperCase() === "A-FIN") {
    askFeelings(answer);
  }
  renderStatus();
  // The screen follows at once; while a backlog drains, the 1 s poll is enough (polling
  // after each of 500 answers would halve the drain speed).
  if (!replay || outbox.size() === 0) {
    requestPoll();
  }
}

function onOutboxChange() {
  renderStatus();
  body.dataset.outbox = String(outbox ? outbox.size() : 0);
}

function unauthorized() {
  if (state.unauthorized) {
    return;
  }
  state.unauthorized = true;
  outbox?.stop();
  // Never a reload loop: at most one reload every 5 s (the page itself asks the server
  // afresh, so a reload after a revocation shows the enrolment screen).
  let last = 0;
  try {
    last = Number(sessionStorage.getItem(RELOAD_KEY)) || 0;
  } catch (error) {
    last = 0;
  }
  const wait = Math.max(0, RELOAD_EVERY_MS - (Date.now() - last));
  setTimeout(() => {
    try {
      sessionStorage.setItem(RELOAD_KEY, String(Date.now()));
    } catch (error) {
      // ignore
    }
    location.reload();
  }, wait);
}

// ---- Polling /borne/etat --------------------------------------------------------------

let polling = false;
let pollAgain = false;
let pollTimer = null;

function requestPoll() {
  if (polling) {
    pollAgain = true;
    return;
  }
  clearTimeout(pollTimer);
  poll();
}

async function poll() {
  if (state.unauthorized) {
    return;
  }
  polling = true;
  const controller = new AbortController();
  const abort = setTimeout(() => controller.abort(), POLL_TIMEOUT_MS);
  const sentAt = Date.now();
  try {
    const response = await fetch(cfg.etatUrl, {
      cache: "no-store",
      credentials: "same-origin",
      headers: { Accept: "application/json" },
      signal: controller.signal,
    });
    if (response.status === 401) {
      unauthorized();
      return;
    }
    if (!response.ok) {
      throw new Error(`HTTP ${response.status}`);
    }
    const etat = await response.json();
    const receivedAt = Date.now();
    state.etat = etat;
    state.fetchedAt = receivedAt;
    const now = Date.parse(etat.now);
    if (Number.isFinite(now)) {
      state.skewMs = now - (sentAt + receivedAt) / 2;
    }
    state.offline = false;
    render();
    if (outbox && outbox.size() > 0) {
      outbox.kick(); // the server answers: retry waiting scans now
    }
  } catch (error) {
    if (!state.offline) {
      console.warn("borne: état indisponible", error);
      state.offline = true;
      render(); // what was shown live (arc, timer) is not known any more
    }
  } finally {
    clearTimeout(abort);
    polling = false;
    state.polls += 1;
    renderStatus();
    tickIdle();
    if (!body.dataset.ready && outbox) {
      body.dataset.ready = "1";
    }
    if (!state.unauthorized) {
      if (pollAgain) {
        pollAgain = false;
        poll();
      } else {
        clearTimeout(pollTimer);
        pollTimer = setTimeout(poll, POLL_MS);
      }
    }
  }
}

// ---- Clock, timers -------------------------------------------------------------------

function tick() {
  setText(el.clock, hhmm.format(serverNow()));
  tickTimer();
  tickIdle();
  renderStatus();
  renderRefusals();
}

// ---- Voice toggle ----------------------------------------------------------------------

function setVoice(on, store = true) {
  state.voiceOn = Boolean(on);
  el.voiceToggle.setAttribute("aria-pressed", state.voiceOn ? "true" : "false");
  setText(el.voiceText, state.voiceOn ? "Voix : oui" : "Voix : non");
  setIcon(el.voiceIcon, state.voiceOn ? "voice" : "voice-off");
  if (store) {
    voice.store(state.voiceOn);
  }
  if (!state.voiceOn) {
    voice.hush();
  }
}

// ---- Wiring --------------------------------------------------------------------------

const wedge = createWedge({
  ...optionsFrom(body),
  onScan: (code) => submit(code, "keyboard"),
});

const lastPress = new WeakMap();

function wireButtons() {
  document.getElementById("actions").addEventListener("click", (event) => {
    const button = event.target.closest("button");
    if (!button) {
      return;
    }
    const now = Date.now();
    if (now - (lastPress.get(button) || 0) < DOUBLE_TAP_MS) {
      return;
    }
    lastPress.set(button, now);
    if (event.detail > 0) {
      button.blur(); // a pointer press: no focus left for a scanner's Enter to press again
    }
    if (button.dataset.code) {
      submit(button.dataset.code, "touch");
    } else if (button.id === "btn-whoami") {
      markActivity();
      showWhoami();
    }
  });
  el.students.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-student]");
    if (button) {
      markActivity();
      openPanel(button.dataset.student, button.dataset.part);
    }
  });
  el.panelClose.addEventListener("click", () => closePanel());
  el.feeling.addEventListener("click", onFeelingClick);
  el.panel.addEventListener("pointerdown", () => armPanelTimer());
  el.panel.addEventListener("close", () => clearTimeout(panelTimer));
  // A tap on the backdrop (outside the dialog's box) closes it too.
  el.panel.addEventListener("click", (event) => {
    if (event.target === el.panel) {
      const r = el.panel.getBoundingClientRect();
      const inside = event.clientX >= r.left && event.clientX <= r.right && event.clientY >= r.top && event.clientY <= r.bottom;
      if (!inside) {
        closePanel();
      }
    }
  });
  el.whoami.addEventListener("click", () => show(el.whoami, false));
  el.voiceToggle.addEventListener("click", () => {
    setVoice(!state.voiceOn);
    if (state.voiceOn) {
      voice.say("Voix activée.");
    }
  });
  // Any touch or key is activity: the idle badge-out waits.
  document.addEventListener("pointerdown", () => markActivity(), true);
  document.addEventListener("keydown", () => markActivity(false), true);
  window.addEventListener("online", () => requestPoll());
  window.addEventListener("offline", () => {
    state.offline = true;
    renderStatus();
  });
}

async function registerServiceWorker() {
  if (!("serviceWorker" in navigator) || !cfg.swUrl) {
    return;
  }
  try {
    await navigator.serviceWorker.register(cfg.swUrl, { scope: cfg.swScope || "/borne" });
  } catch (error) {
    console.warn("borne: service worker non installé", error);
  }
}

async function start() {
  loadActivity();
  const stored = voice.stored();
  setVoice(stored === null ? cfg.speech === "1" : stored, false);
  wireButtons();
  unlockOnGesture(document);
  wedge.attach();
  tick();
  setInterval(tick, 250);
  poll();
  try {
    outbox = await openOutbox({
      stationCode: cfg.stationCode,
      endpoint: cfg.scanUrl,
      onAnswer,
      onChange: onOutboxChange,
      onUnauthorized: unauthorized,
    });
  } catch (error) {
    console.error("borne: outbox indisponible", error);
  }
  api.outbox = outbox;
  onOutboxChange();
  for (const [code, source] of early.splice(0)) {
    await outbox?.add(code, source);
  }
  if (state.polls > 0 && !body.dataset.ready) {
    body.dataset.ready = "1";
  }
  registerServiceWorker();
}

const api = {
  outbox: null,
  feeling,
  wedge,
  state,
  submit,
  poll: requestPoll,
  duration,
  stepIcon,
};
window.atelierKiosk = api;

start();
