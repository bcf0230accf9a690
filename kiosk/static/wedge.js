// Keyboard-wedge capture: a USB barcode scanner or RFID reader "types" its code like a
// keyboard, then Enter. The kiosk page has no text field, so the keys land on `document`.
//
// Timing (measured, not guessed):
//   - USB wedge scanners send one character every ~2-10 ms (HID report rate; the fastest
//     people never get near that). Desktop RFID readers in keyboard mode type their tag the
//     same way, 4-10 ms per character, ended by Enter.
//   - People type at >= 60-80 ms between keys even when fast (≈ 150-200 ms usually), and a
//     key held down gives `repeat` events we ignore.
//   - Odoo's `barcodes` module uses at most 50 ms between characters, 3 characters minimum.
// So a burst of >= 3 single characters ended by Enter (or Tab, which some scanners send as
// suffix) is one scan when the typical (median) gap between its keys, Enter included, is
// <= 30 ms and no gap exceeds 100 ms; anything slower is a person and is left alone.
// The median, not the maximum: one late key (the page busy for 40 ms while the scanner
// types, seen with automated browsers and slow tablets) must not cut a code in two, and a
// person, even fast, never has a median gap under 60 ms. 30 ms keeps a wide margin on both
// sides; `data-wedge-gap-ms` / `data-wedge-min-length` on <body> change it.
//
// Keys are only ever prevented when they are part of a scan burst: a lone Enter or Space on
// a focused button (keyboard navigation) still presses it, but the scan's final Enter does
// not press the button that happens to have the focus.
//
// The wrong-layout case (AZERTY OS, QWERTY scanner: `&é"'(-è_çà` for digits) is left to the
// server (422 keyboard_layout): those are single-character keys and are captured as typed.

export const DEFAULT_MAX_GAP_MS = 30;
export const DEFAULT_MIN_LENGTH = 3;
export const MAX_LENGTH = 200;

const TERMINATORS = new Set(["Enter", "Tab"]);
// Keys that come between the characters of a scan (Shift for capitals, AltGr…) without being
// characters: they neither end nor break a burst.
const TRANSPARENT = new Set([
  "Shift", "CapsLock", "AltGraph", "NumLock", "Dead", "Unidentified", "Process",
]);

function isEditable(target) {
  if (!target || target.nodeType !== 1) {
    return false;
  }
  if (target.isContentEditable) {
    return true;
  }
  const tag = target.tagName;
  if (tag === "TEXTAREA" || tag === "SELECT") {
    return true;
  }
  if (tag === "INPUT") {
    const type = (target.getAttribute("type") || "text").toLowerCase();
    return !["button", "submit", "reset", "checkbox", "radio", "range", "color", "file", "image"].includes(type);
  }
  return false;
}

// The pure part: feed it (key, time in ms, flags), it says what to do with the key.
// Returns {action: "ignore" | "char" | "scan" | "reset", prevent: bool, code?: string}.
export class WedgeBuffer {
  constructor({ maxGapMs = DEFAULT_MAX_GAP_MS, minLength = DEFAULT_MIN_LENGTH, hardGapMs = null } = {}) {
    this.maxGapMs = maxGapMs;
    this.minLength = minLength;
    // Above this, a gap always starts a new burst.
    this.hardGapMs = hardGapMs ?? Math.max(100, 3 * maxGapMs);
    this.reset();
  }

  reset() {
    this.chars = [];
    this.gaps = [];
    this.lastAt = -Infinity;
  }

  feed(key, at, { ctrl = false, alt = false, meta = false, altGraph = false, repeat = false } = {}) {
    if (TRANSPARENT.has(key)) {
      return { action: "ignore", prevent: false };
    }
    // Ctrl/Alt/Meta shortcuts are a person's (AltGr reports ctrl+alt on Windows: still a char).
    if (((ctrl || alt) && !altGraph) || meta || repeat) {
      this.reset();
      return { action: "reset", prevent: false };
    }
    const gap = at - this.lastAt;
    if (typeof key === "string" && key.length === 1) {
      if (this.chars.length > 0 && gap <= this.hardGapMs) {
        this.gaps.push(gap);
      } else {
        this.chars = [];
        this.gaps = [];
      }
      if (this.chars.length < MAX_LENGTH) {
        this.chars.push(key);
      }
      this.lastAt = at;
      // A key hot on the heels of the previous one is the scanner's: a space in a code must
      // not press the focused button, nor scroll the page.
      return { action: "char", prevent: this.chars.length > 1 && gap <= this.maxGapMs };
    }
    if (TERMINATORS.has(key)) {
      const code = this.chars.join("");
      const gaps = [...this.gaps, gap];
      const isScan =
        this.chars.length >= this.minLength && gap <= this.hardGapMs && median(gaps) <= this.maxGapMs;
      this.reset();
      if (isScan) {
        return { action: "scan", prevent: true, code };
      }
      return { action: "reset", prevent: false };
    }
    // Arrows, Escape, Backspace…: a person.
    this.reset();
    return { action: "reset", prevent: false };
  }
}

export function median(values) {
  if (values.length === 0) {
    return Infinity;
  }
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

// Listens on `target` (document) and calls onScan(code) for each scan.
// `options.enabled()` can pause it (e.g. while the page is not ready).
export function createWedge({
  target = globalThis.document,
  maxGapMs = DEFAULT_MAX_GAP_MS,
  minLength = DEFAULT_MIN_LENGTH,
  onScan = () => {},
  now = null,
} = {}) {
  const buffer = new WedgeBuffer({ maxGapMs, minLength });
  const scans = [];

  function onKeydown(event) {
    if (event.isComposing || isEditable(event.target)) {
      return;
    }
    const at = now ? now() : event.timeStamp;
    const altGraph = typeof event.getModifierState === "function" && event.getModifierState("AltGraph");
    const result = buffer.feed(event.key, at, {
      ctrl: event.ctrlKey, alt: event.altKey, meta: event.metaKey, altGraph, repeat: event.repeat,
    });
    if (result.prevent) {
      event.preventDefault();
    }
    if (result.action === "scan") {
      event.stopPropagation();
      scans.push(result.code);
      if (scans.length > 20) {
        scans.shift();
      }
      onScan(result.code);
    }
  }

  let attached = false;
  const wedge = {
    buffer,
    get maxGapMs() { return buffer.maxGapMs; },
    get minLength() { return buffer.minLength; },
    // The last scans captured (for tests), newest last.
    scans,
    attach() {
      if (!attached) {
        // Capture phase: seen before any handler of a focused element.
        target.addEventListener("keydown", onKeydown, true);
        attached = true;
      }
      return wedge;
    },
    detach() {
      target.removeEventListener("keydown", onKeydown, true);
      attached = false;
      buffer.reset();
      return wedge;
    },
    handle: onKeydown,
  };
  return wedge;
}

// Reads data-wedge-gap-ms / data-wedge-min-length from an element (the <body>).
export function optionsFrom(element) {
  const gap = Number(element?.dataset?.wedgeGapMs);
  const min = Number(element?.dataset?.wedgeMinLength);
  return {
    maxGapMs: Number.isFinite(gap) && gap > 0 ? gap : DEFAULT_MAX_GAP_MS,
    minLength: Number.isFinite(min) && min > 0 ? min : DEFAULT_MIN_LENGTH,
  };
}
