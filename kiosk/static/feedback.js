// Sound and voice of the kiosk. Tones are generated (WebAudio), no sound files.
// The AudioContext is created on the first user gesture (browsers' autoplay policy): a
// scanner's keydown counts as one.

let context = null;
let unlocked = false;

function audio() {
  if (!context) {
    const Ctor = globalThis.AudioContext || globalThis.webkitAudioContext;
    if (!Ctor) {
      return null;
    }
    try {
      context = new Ctor();
    } catch (error) {
      return null;
    }
  }
  if (context.state === "suspended") {
    context.resume().catch(() => {});
  }
  return context;
}

export function unlockOnGesture(target = globalThis.document) {
  let later = null;
  const unlock = () => {
    if (unlocked) {
      return;
    }
    const ctx = audio();
    if (ctx && ctx.state !== "suspended") {
      unlocked = true;
      target.removeEventListener("pointerdown", unlock, true);
      target.removeEventListener("keydown", onKey, true);
    }
  };
  // Creating an AudioContext blocks the page for ~100 ms: never in the middle of a
  // scanner's burst (it would split the scan). On Enter (a burst's end) or once the keys
  // stop; a key press gives the page the user activation the autoplay policy asks for.
  const onKey = (event) => {
    clearTimeout(later);
    if (event.key === "Enter") {
      setTimeout(unlock, 0);
    } else {
      later = setTimeout(unlock, 300);
    }
  };
  target.addEventListener("pointerdown", unlock, true);
  target.addEventListener("keydown", onKey, true);
}

function tone(ctx, { freq, start, duration, type = "triangle", gain = 0.35 }) {
  const osc = ctx.createOscillator();
  const amp = ctx.createGain();
  osc.type = type;
  osc.frequency.value = freq;
  // Short ramps: no click at the start and the end of a note.
  amp.gain.setValueAtTime(0.0001, start);
  amp.gain.exponentialRampToValueAtTime(gain, start + 0.01);
  amp.gain.setValueAtTime(gain, start + duration - 0.03);
  amp.gain.exponentialRampToValueAtTime(0.0001, start + duration);
  osc.connect(amp).connect(ctx.destination);
  osc.start(start);
  osc.stop(start + duration + 0.02);
}

let lastRefusalAt = 0;

// Accepted: two rising notes, 660 then 880 Hz, 120 ms each.
export function playSuccess() {
  const ctx = context && audio();
  if (!ctx) {
    return false;
  }
  const t = ctx.currentTime + 0.01;
  tone(ctx, { freq: 660, start: t, duration: 0.12 });
  tone(ctx, { freq: 880, start: t + 0.12, duration: 0.12 });
  return true;
}

// Refused: one low square-ish note, 220 Hz, 400 ms (not twice within 300 ms: a replay of
// many refusals must not make a noise wall).
export function playRefusal() {
  const ctx = context && audio();
  const now = Date.now();
  if (!ctx || now - lastRefusalAt < 300) {
    return false;
  }
  lastRefusalAt = now;
  tone(ctx, { freq: 220, start: ctx.currentTime + 0.01, duration: 0.4, type: "square", gain: 0.22 });
  return true;
}

// ---- Voice ------------------------------------------------------------------------------

const VOICE_KEY = "atelier.borne.voix";
let frenchVoice = null;

function pickVoice() {
  const synth = globalThis.speechSynthesis;
  if (!synth) {
    return;
  }
  const voices = synth.getVoices();
  frenchVoice =
    voices.find((v) => v.lang === "fr-FR" && v.localService) ||
    voices.find((v) => v.lang === "fr-FR") ||
    voices.find((v) => (v.lang || "").toLowerCase().startsWith("fr")) ||
    null;
}

if (globalThis.speechSynthesis) {
  pickVoice();
  globalThis.speechSynthesis.addEventListener?.("voiceschanged", pickVoice);
}

export const voice = {
  // null = not chosen on this kiosk: follow the server's default.
  stored() {
    try {
      const value = globalThis.localStorage.getItem(VOICE_KEY);
      return value === null ? null : value === "1";
    } catch (error) {
      return null;
    }
  },
  store(on) {
    try {
      globalThis.localStorage.setItem(VOICE_KEY, on ? "1" : "0");
    } catch (error) {
      // private mode: the choice lasts until reload
    }
  },
  available() {
    return Boolean(globalThis.speechSynthesis && globalThis.SpeechSynthesisUtterance);
  },
  // Says the sentences in order, cutting what was being said.
  say(...sentences) {
    const synth = globalThis.speechSynthesis;
    if (!synth || !globalThis.SpeechSynthesisUtterance) {
      return;
    }
    synth.cancel();
    for (const text of sentences) {
      if (!text) {
        continue;
      }
      const utterance = new SpeechSynthesisUtterance(text);
      utterance.lang = "fr-FR";
      if (frenchVoice) {
        utterance.voice = frenchVoice;
      }
      utterance.rate = 0.95;
      synth.speak(utterance);
    }
  },
  hush() {
    globalThis.speechSynthesis?.cancel();
  },
};

// Kept for later (the server could not be reached): one short neutral note, so a student
// does not scan again thinking nothing happened.
export function playQueued() {
  const ctx = context && audio();
  if (!ctx) {
    return false;
  }
  tone(ctx, { freq: 520, start: ctx.currentTime + 0.01, duration: 0.09, type: "sine", gain: 0.3 });
  return true;
}
