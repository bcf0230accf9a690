// The office's badge capture: the reader on the office's desk is a keyboard wedge (it types
// the badge's code, a character every few milliseconds, then Enter), as at the kiosk
// (kiosk/static/wedge.js, whose timing this follows). A burst of >= 3 characters ended by
// Enter or Tab whose median gap between keys is <= 30 ms, none over 100 ms, is a badge; a
// person is never that fast. The burst goes to the capture form in use — the « Donner un
// badge » one, or the « Remplacer » one opened last — which is sent at once.
// Typed into the capture form's field, keys are left alone: the field and its submit button
// are the plain form, which works without this script. A badge passed while another field
// has the focus (the student's name) goes to the capture form too, and out of that field.

const MAX_GAP_MS = 30;
const HARD_GAP_MS = 100;
const MIN_LENGTH = 3;
const MAX_LENGTH = 64;
const TERMINATORS = new Set(["Enter", "Tab"]);
const TRANSPARENT = new Set(["Shift", "CapsLock", "AltGraph", "NumLock", "Dead", "Unidentified"]);

function isEditable(target) {
  if (!target || target.nodeType !== 1) return false;
  if (target.isContentEditable) return true;
  const tag = target.tagName;
  if (tag === "TEXTAREA" || tag === "SELECT") return true;
  if (tag === "INPUT") {
    const type = (target.getAttribute("type") || "text").toLowerCase();
    return !["button", "submit", "reset", "checkbox", "radio", "range", "color", "file", "image"].includes(type);
  }
  return false;
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

const forms = [...document.querySelectorAll("form[data-badge-capture]")];
const main = forms.find((form) => !form.closest("details")) || forms[0];
let active = main;

function arm(form) {
  for (const other of forms) {
    other.classList.toggle("is-armed", other === form);
  }
  active = form;
}

function status(form, text) {
  const line = form.querySelector("[data-capture-status]");
  if (line) line.textContent = text;
}

if (forms.length) {
  arm(main);
  for (const details of document.querySelectorAll("details")) {
    const form = details.querySelector("form[data-badge-capture]");
    if (!form) continue;
    details.addEventListener("toggle", () => {
      if (details.open) {
        for (const other of document.querySelectorAll("details[open]")) {
          if (other !== details) other.open = false;
        }
        arm(form);
        status(form, "Passez maintenant le nouveau badge devant le lecteur.");
      } else if (active === form) {
        arm(main);
      }
    });
  }
  for (const form of forms) {
    form.addEventListener("focusin", () => arm(form));
    form.addEventListener("submit", () => {
      const button = form.querySelector("button[type=submit]");
      if (button) button.disabled = true;
    });
  }

  let chars = [];
  let gaps = [];
  let lastAt = -Infinity;
  let field = null;
  const reset = () => {
    chars = [];
    gaps = [];
    lastAt = -Infinity;
    field = null;
  };

  document.addEventListener(
    "keydown",
    (event) => {
      const target = event.target;
      // Typed into a capture form's own field: the plain form does the rest (Enter sends it).
      if (target.closest && target.closest("form[data-badge-capture]") && isEditable(target)) {
        reset();
        return;
      }
      const key = event.key;
      if (TRANSPARENT.has(key)) return;
      if (event.ctrlKey || event.altKey || event.metaKey || event.repeat) {
        reset();
        return;
      }
      const editable = isEditable(target);
      const at = event.timeStamp;
      const gap = at - lastAt;
      if (key.length === 1) {
        if (chars.length > 0 && gap <= HARD_GAP_MS && field === (editable ? target : null)) {
          gaps.push(gap);
        } else {
          chars = [];
          gaps = [];
          field = editable ? target : null;
        }
        if (chars.length < MAX_LENGTH) chars.push(key);
        lastAt = at;
        // Outside a field, a scanner's keys must not press the focused button. In another
        // field (a name being edited), keys are left alone: a person typing fast is never cut.
        if (!editable && chars.length > 1 && gap <= MAX_GAP_MS) event.preventDefault();
        return;
      }
      if (TERMINATORS.has(key)) {
        const code = chars.join("");
        const into = field;
        const isScan =
          chars.length >= MIN_LENGTH && gap <= HARD_GAP_MS && median([...gaps, gap]) <= MAX_GAP_MS;
        reset();
        if (!isScan || !active) return;
        // A badge passed while another field had the focus: its Enter must not send that
        // form, and the code it typed there is taken back out.
        event.preventDefault();
        event.stopPropagation();
        if (into && typeof into.value === "string" && into.value.endsWith(code)) {
          into.value = into.value.slice(0, into.value.length - code.length);
        }
        const input = active.querySelector("input[name=code]");
        input.value = code.trim().toUpperCase();
        status(active, `Badge lu : ${input.value} — enregistrement…`);
        active.requestSubmit();
        return;
      }
      reset();
    },
    true,
  );
}
