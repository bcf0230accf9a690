// The kiosk's outbox: every scan (scanner or touch) is written to IndexedDB with its
// event_id BEFORE the first attempt, then sent to POST /api/v1/scans strictly in order, one
// at a time, and removed only once the server gave a final answer. It survives reloads and
// network cuts; the server makes retries safe (same event_id → 200 duplicate).
//
// Stored: codes only (event_id, code, source, scanned_at, attempts) — never a name.
// Final answers (removed): 2xx, and 4xx other than 401/429. Retried (kept): network error,
// timeout, 5xx, 429. 401: the kiosk credential is gone: stop, keep the queue.

import { openDB } from "./vendor/idb/index.js";

const DB_NAME = "atelier-borne";
const STORE = "outbox";
const BACKOFF_START_MS = 500;
const BACKOFF_CAP_MS = 10000;
const REQUEST_TIMEOUT_MS = 8000;
const MAX_EVENT_ID = 80;

function uuid() {
  const c = globalThis.crypto;
  // randomUUID needs a secure context (http://localhost is one, http://192.168.x.y is not).
  if (c && typeof c.randomUUID === "function") {
    try {
      return c.randomUUID();
    } catch (error) {
      // fall through
    }
  }
  const bytes = new Uint8Array(16);
  if (c && typeof c.getRandomValues === "function") {
    c.getRandomValues(bytes);
  } else {
    for (let i = 0; i < 16; i += 1) {
      bytes[i] = Math.floor(Math.random() * 256);
    }
  }
  bytes[6] = (bytes[6] & 0x0f) | 0x40; // version 4
  bytes[8] = (bytes[8] & 0x3f) | 0x80; // variant
  const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

export function mintEventId(stationCode) {
  const prefix = stationCode ? `${stationCode}-` : "";
  return `${prefix}${uuid()}`.slice(0, MAX_EVENT_ID);
}

// What to do with an HTTP status: "final", "retry" or "unauthorized".
export function classify(status) {
  if (status === 401) {
    return "unauthorized";
  }
  if (status === 429 || status >= 500) {
    return "retry";
  }
  if (status >= 200 && status < 500) {
    return "final";
  }
  return "retry";
}

export function backoffDelay(failures, random = Math.random) {
  const base = Math.min(BACKOFF_CAP_MS, BACKOFF_START_MS * 2 ** Math.max(0, failures - 1));
  // "Equal jitter": between half and the whole delay, so kiosks do not retry in step.
  return Math.round(base / 2 + random() * (base / 2));
}

function messageOf(body, status) {
  if (body && typeof body.message === "string" && body.message) {
    return body.message;
  }
  if (body && body.error && typeof body.error.message === "string" && body.error.message) {
    return body.error.message;
  }
  if (status >= 200 && status < 300) {
    return "Scan enregistré.";
  }
  return "Scan refusé.";
}

// The same calls as idb's, in memory.
function memoryStore() {
  const rows = new Map();
  let next = 1;
  const clone = (v) => JSON.parse(JSON.stringify(v));
  return {
    async count() { return rows.size; },
    async add(_store, value) { const seq = next++; rows.set(seq, clone({ ...value, seq })); return seq; },
    async put(_store, value) { rows.set(value.seq, clone(value)); return value.seq; },
    async delete(_store, seq) { rows.delete(seq); },
    async getAll() { return [...rows.values()].map(clone); },
    async first() { const v = rows.values().next().value; return v ? clone(v) : null; },
    close() {},
  };
}

// Opens the outbox. Callbacks:
//   onAnswer({item, status, ok, body, message, replay}) for each final answer;
//   onChange({size, offline, waiting}) whenever the queue or the connection state changes;
//   onUnauthorized() on a 401 (the outbox has stopped itself, the queue is kept).
export async function openOutbox({
  stationCode = "",
  endpoint = "/api/v1/scans",
  onAnswer = () => {},
  onChange = () => {},
  onUnauthorized = () => {},
  fetchImpl = (...args) => globalThis.fetch(...args),
  dbName = DB_NAME,
} = {}) {
  let db;
  try {
    db = await openDB(dbName, 1, {
      upgrade(database) {
        if (!database.objectStoreNames.contains(STORE)) {
          database.createObjectStore(STORE, { keyPath: "seq", autoIncrement: true });
        }
      },
    });
  } catch (error) {
    // No IndexedDB (a private window of some browsers): keep the scans in memory, so the
    // kiosk still works; they are lost on reload only.
    console.warn("outbox: IndexedDB indisponible, file en mémoire", error);
    db = memoryStore();
  }

  let size = await db.count(STORE);
  let stopped = false;
  let pumping = false;
  let again = false;
  let failures = 0;
  let offline = false;
  // Items sent while a backlog built up (the server was unreachable, or the page reloaded
  // with items left) are "replays": the kiosk shows their refusals in a list.
  let backlog = size > 0;
  let wake = null;
  let waitTimer = null;
  let sent = 0;

  let told = "";
  function changed() {
    const now = `${size}|${offline}`;
    if (now === told) {
      return;
    }
    told = now;
    try {
      onChange({ size, offline, waiting: size > 0 && offline });
    } catch (error) {
      console.error(error);
    }
  }

  async function first() {
    if (db.first) {
      return db.first();
    }
    const cursor = await db.transaction(STORE).store.openCursor();
    return cursor ? cursor.value : null;
  }

  function sleep(ms) {
    return new Promise((resolve) => {
      wake = resolve;
      waitTimer = setTimeout(resolve, ms);
    }).finally(() => {
      clearTimeout(waitTimer);
      wake = null;
    });
  }

  async function sendOne(item) {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), REQUEST_TIMEOUT_MS);
    try {
      const response = await fetchImpl(endpoint, {
        method: "POST",
        credentials: "same-origin",
        cache: "no-store",
        headers: { "Content-Type": "application/json", "X-Atelier-Borne": "1", Accept: "application/json" },
        body: JSON.stringify({
          event_id: item.event_id, code: item.code, source: item.source, scanned_at: item.scanned_at,
        }),
        signal: controller.signal,
      });
      let body = null;
      try {
        body = await response.json();
      } catch (error) {
        body = null;
      }
      return { status: response.status, body, retryAfter: response.headers.get("Retry-After") };
    } catch (error) {
      return { status: 0, body: null, error };
    } finally {
      clearTimeout(timer);
    }
  }

  // Removes a sent item and reads the next one in the same transaction (the drain's speed:
  // 500 scans in a few seconds). A delete lost in a crash only resends a scan: the server
  // answers it as a duplicate, so "relaxed" durability is fine here (not for add()).
  async function removeAndPeek(seq) {
    if (db.first) {
      await db.delete(STORE, seq);
      return db.first();
    }
    const tx = db.transaction(STORE, "readwrite", { durability: "relaxed" });
    tx.store.delete(seq);
    const cursor = await tx.store.openCursor();
    const value = cursor ? cursor.value : null;
    await tx.done;
    return value;
  }

  async function drain() {
    let peeked;
    while (!stopped) {
      const item = peeked !== undefined ? peeked : await first();
      peeked = undefined;
      if (!item) {
        size = 0;
        backlog = false;
        offline = false;
        changed();
        return;
      }
      const answer = await sendOne(item);
      if (stopped) {
        return;
      }
      const verdict = answer.status === 0 ? "retry" : classify(answer.status);
      if (verdict === "unauthorized") {
        stopped = true;
        onUnauthorized(answer);
        return;
      }
      if (verdict === "retry") {
        failures += 1;
        backlog = true;
        offline = true;
        item.attempts = (item.attempts || 0) + 1;
        await db.put(STORE, item);
        changed();
        let delay = backoffDelay(failures);
        const retryAfter = Number(answer.retryAfter);
        if (answer.status && Number.isFinite(retryAfter) && retryAfter > 0) {
          delay = Math.min(BACKOFF_CAP_MS, Math.max(delay, retryAfter * 1000));
        }
        await sleep(delay);
        continue;
      }
      // A final answer: remove, then tell.
      peeked = await removeAndPeek(item.seq);
      const replay = backlog || (item.attempts || 0) > 0;
      failures = 0;
      sent += 1;
      size = Math.max(0, size - 1);
      offline = false;
      const ok = answer.status >= 200 && answer.status < 300;
      try {
        onAnswer({
          item, status: answer.status, ok, body: answer.body,
          message: messageOf(answer.body, answer.status), replay,
        });
      } catch (error) {
        console.error(error);
      }
      // Every answer: the page's count (body[data-outbox]) must follow the queue as it
      // drains, not stay at the first answer's until the last one (a DOM write, no request).
      changed();
    }
  }

  async function pump() {
    if (stopped) {
      return;
    }
    if (pumping) {
      again = true;
      return;
    }
    pumping = true;
    try {
      do {
        again = false;
        // One sender per browser, even with two tabs open (Web Locks: secure contexts only;
        // without it, a double send is still safe: same event_id).
        if (navigator.locks && typeof navigator.locks.request === "function") {
          await navigator.locks.request("atelier-borne-outbox", () => drain());
        } else {
          await drain();
        }
      } while (again && !stopped);
    } catch (error) {
      console.error("outbox:", error);
    } finally {
      pumping = false;
    }
  }

  // Retry now (the `online` event, a successful probe, a new scan).
  function kick() {
    if (stopped) {
      return;
    }
    if (wake) {
      wake();
    } else {
      pump();
    }
  }

  async function add(code, source = "keyboard") {
    const item = {
      event_id: mintEventId(stationCode),
      code,
      source,
      scanned_at: new Date().toISOString(),
      attempts: 0,
    };
    if (db.first) {
      item.seq = await db.add(STORE, item);
    } else {
      // "strict": the scan is on disk before anything else happens.
      const tx = db.transaction(STORE, "readwrite", { durability: "strict" });
      item.seq = await tx.store.add(item);
      await tx.done;
    }
    size += 1;
    changed();
    kick();
    return item;
  }

  const online = () => kick();
  globalThis.addEventListener?.("online", online);

  const outbox = {
    add,
    kick,
    size: () => size,
    isOffline: () => offline,
    isStopped: () => stopped,
    sentCount: () => sent,
    items: () => db.getAll(STORE),
    async count() {
      size = await db.count(STORE);
      return size;
    },
    stop() {
      stopped = true;
      if (wake) {
        wake();
      }
    },
    start() {
      if (stopped) {
        stopped = false;
        pump();
      }
    },
    // For tests: mark offline without a request (the kiosk calls it when a poll fails).
    setOffline(value) {
      if (offline !== value) {
        offline = value;
        changed();
      }
    },
    close() {
      outbox.stop();
      globalThis.removeEventListener?.("online", online);
      db.close();
    },
  };

  // Drain what a previous page left.
  if (size > 0) {
    changed();
    pump();
  }
  return outbox;
}
