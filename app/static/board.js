/* Atelier — the workshop board refreshes itself without reloading the page.
 *
 * It polls the board's live fragment (the same template the page was rendered with) and
 * swaps in only the station cards and panels whose HTML changed: an unchanged card keeps
 * its element, so the glow of a station with its arc on keeps pulsing instead of jumping
 * every few seconds. It ticks the clock and the arc durations, and when the server stops
 * answering it says so across the screen rather than leaving stale data on the wall.
 */
(() => {
  "use strict";

  const board = document.getElementById("board");
  if (!board) {
    return;
  }
  const feedUrl = board.dataset.feed;
  const pollMs = Number(board.dataset.pollMs) || 2500;
  const staleS = Number(board.dataset.staleS) || 10;
  const TIMEOUT_MS = 5000;
  const MAX_RETRY_MS = 10000;
  const SESSION_RELOAD_MS = 3000;

  const clock = document.getElementById("board-clock");
  const dateLine = document.getElementById("board-date");
  const freshness = document.getElementById("board-freshness");
  const freshnessText = document.getElementById("board-freshness-text");
  const lost = document.getElementById("board-lost");
  const lostTitle = lost.querySelector("strong");
  const lostDetail = document.getElementById("board-lost-detail");

  function formatter(options) {
    try {
      return new Intl.DateTimeFormat("fr-FR", { timeZone: board.dataset.tz, ...options });
    } catch (error) {
      // An unknown zone name on an old browser: the screen's own zone is better than nothing.
      return new Intl.DateTimeFormat("fr-FR", options);
    }
  }
  const timeOfDay = formatter({ hour: "2-digit", minute: "2-digit" });
  const longDate = formatter({ weekday: "long", day: "numeric", month: "long" });

  // The server's clock, not the screen's: the clock on the wall must agree with weld times.
  let skewMs = 0;
  let lastOkAt = Date.now();
  let failures = 0;
  // The HTML each swappable element was built from (the script rewrites some of its text).
  const sources = new WeakMap();

  function remember(root) {
    root.querySelectorAll("[data-key], [data-unit]").forEach((el) => {
      sources.set(el, el.outerHTML);
    });
  }

  function adopt(el) {
    const node = document.importNode(el, true);
    sources.set(node, el.outerHTML);
    node.querySelectorAll("[data-key]").forEach((child) => sources.set(child, child.outerHTML));
    return node;
  }

  function names(root, attribute) {
    return Array.from(root.querySelectorAll(`[${attribute}]`), (el) =>
      el.getAttribute(attribute),
    ).join("|");
  }

  function patchList(liveList, freshList) {
    const byKey = new Map();
    for (const el of liveList.children) {
      byKey.set(el.dataset.key, el);
    }
    const next = Array.from(freshList.children, (el) => {
      const old = byKey.get(el.dataset.key);
      return old && sources.get(old) === el.outerHTML ? old : adopt(el);
    });
    // Remove first, then insert: the cards kept are never detached, so never restarted.
    const keep = new Set(next);
    for (const el of Array.from(liveList.children)) {
      if (!keep.has(el)) {
        el.remove();
      }
    }
    next.forEach((el, index) => {
      const current = liveList.children[index] || null;
      if (current !== el) {
        liveList.insertBefore(el, current);
      }
    });
  }

  function patchUnit(liveUnit, freshUnit) {
    if (sources.get(liveUnit) !== freshUnit.outerHTML) {
      liveUnit.replaceWith(adopt(freshUnit));
    }
  }

  function apply(fresh) {
    const live = document.getElementById("board-live");
    const sameShape =
      names(live, "data-list") === names(fresh, "data-list") &&
      names(live, "data-unit") === names(fresh, "data-unit");
    if (!sameShape) {
      const node = document.importNode(fresh, true);
      remember(node);
      live.replaceWith(node);
      return;
    }
    fresh.querySelectorAll("[data-list]").forEach((list) => {
      patchList(live.querySelector(`[data-list="${list.dataset.list}"]`), list);
    });
    fresh.querySelectorAll("[data-unit]").forEach((unit) => {
      patchUnit(live.querySelector(`[data-unit="${unit.dataset.unit}"]`), unit);
    });
  }

  // The station cards take the room there is: larger when few stations are busy (easier to
  // read from afar), smaller rather than cut off when many are. Only where the board fills
  // the screen unscrolled (a wall screen); a tablet scrolls instead.
  const MAX_FIT = 1.3;
  const MIN_FIT = 0.7;
  function fit() {
    const stations = document.querySelector(".stations");
    if (!stations) {
      return;
    }
    if (getComputedStyle(document.body).overflowY !== "hidden") {
      stations.style.removeProperty("--fit");
      return;
    }
    const fits = (scale) => {
      stations.style.setProperty("--fit", scale.toFixed(3));
      return stations.scrollHeight <= stations.clientHeight + 1;
    };
    // Bisection: a handful of layouts, done before the next paint, so nothing flickers.
    let low = MIN_FIT;
    let high = MAX_FIT;
    if (!fits(high)) {
      for (let step = 0; step < 7; step += 1) {
        const middle = (low + high) / 2;
        if (fits(middle)) {
          low = middle;
        } else {
          high = middle;
        }
      }
      fits(low);
    }
    // Older welds that do not fit are left out whole rather than shown cut in half.
    const panel = document.querySelector(".welds");
    if (panel) {
      const bottom = panel.getBoundingClientRect().bottom;
      panel.querySelectorAll(".weld").forEach((item) => {
        item.classList.toggle("is-cut", item.getBoundingClientRect().bottom > bottom);
      });
    }
  }

  function duration(seconds) {
    const s = Math.max(0, Math.floor(seconds));
    if (s < 60) {
      return `${s} s`;
    }
    if (s < 3600) {
      return `${Math.floor(s / 60)} min`;
    }
    return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}`;
  }

  function arcDuration(seconds) {
    const s = Math.max(0, Math.floor(seconds));
    if (s < 60) {
      return `${s} s`;
    }
    return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, "0")}`;
  }

  function tick() {
    const now = Date.now() + skewMs;
    clock.textContent = timeOfDay.format(now);
    dateLine.textContent = longDate.format(now);
    document.querySelectorAll("[data-since]").forEach((el) => {
      el.textContent = `depuis ${arcDuration(now / 1000 - Number(el.dataset.since))}`;
    });
    const age = (Date.now() - lastOkAt) / 1000;
    freshnessText.textContent =
      age < 1 ? "Mis à jour à l'instant" : `Mis à jour il y a ${duration(age)}`;
    const stale = failures > 0 || age > staleS;
    freshness.classList.toggle("is-stale", stale);
    document.body.classList.toggle("board-stale", stale);
    if (failures > 0) {
      lostDetail.textContent = `Dernières informations reçues il y a ${duration(age)}.`;
    }
  }

  function showLost(title) {
    lost.hidden = title === null;
    if (title !== null) {
      lostTitle.textContent = title;
    }
  }

  let timer = null;
  function schedule(delayMs) {
    clearTimeout(timer);
    timer = setTimeout(poll, delayMs);
  }

  async function poll() {
    const controller = new AbortController();
    const abort = setTimeout(() => controller.abort(), TIMEOUT_MS);
    const sentAt = Date.now();
    try {
      const response = await fetch(feedUrl, {
        cache: "no-store",
        credentials: "same-origin",
        headers: { Accept: "text/html" },
        signal: controller.signal,
      });
      if (response.status === 401) {
        // The school requires a staff sign-in and the session ended: go to the sign-in page.
        failures += 1;
        showLost("Session terminée — reconnexion nécessaire…");
        setTimeout(() => window.location.reload(), SESSION_RELOAD_MS);
        return;
      }
      if (!response.ok) {
        throw new Error(`HTTP ${response.status}`);
      }
      const html = await response.text();
      const receivedAt = Date.now();
      const fresh = new DOMParser().parseFromString(html, "text/html").getElementById("board-live");
      if (!fresh) {
        throw new Error("the answer has no live part");
      }
      const serverNow = Number(fresh.dataset.nowMs);
      if (serverNow) {
        skewMs = serverNow - (sentAt + receivedAt) / 2;
      }
      apply(fresh);
      fit();
      lastOkAt = receivedAt;
      failures = 0;
      showLost(null);
      schedule(pollMs);
    } catch (error) {
      failures += 1;
      showLost("Connexion perdue — nouvel essai…");
      console.warn("board refresh failed:", error);
      schedule(Math.min(pollMs * failures, MAX_RETRY_MS));
    } finally {
      clearTimeout(abort);
      tick();
    }
  }

  const initial = document.getElementById("board-live");
  const renderedAt = Number(initial.dataset.nowMs);
  if (renderedAt) {
    skewMs = renderedAt - Date.now();
  }
  remember(initial);
  board.classList.add("is-live");
  fit();
  window.addEventListener("resize", fit);
  tick();
  setInterval(tick, 1000);
  schedule(pollMs);
})();
