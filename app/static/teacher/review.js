/* The teacher's review pages, enhanced: every form also works without this file.
 *
 * - The queue's filters apply as soon as one is chosen.
 * - « Tout au niveau N » sets every level of the form here instead of a round trip.
 * - Each weld is drawn with uPlot (vendor/uplot): current and voltage over time, the WPS
 *   band behind them, the stretches out of range in red. Data comes from the page's
 *   <script type="application/json" id="weld-charts"> (no inline script: CSP).
 * - A photo of the piece is shrunk here before it is sent (a tablet's camera gives 3–8 MB,
 *   the server takes 2 MB): turned upright (its EXIF orientation), 1600 px on its longest
 *   side, JPEG 0.85; a preview and its size are shown, then it is posted with fetch
 *   (FormData with the form's CSRF token and event key, Accept: application/json). The
 *   server answers {"status": "ok", "location"} (the page to go to, its message flashed)
 *   or {"status": "error", "error": {"message"}}, said here. The preview is a canvas:
 *   the CSP allows no blob: images.
 */
(function () {
  "use strict";

  function autosubmit() {
    document.querySelectorAll("select[data-autosubmit]").forEach(function (select) {
      select.addEventListener("change", function () {
        if (select.form) select.form.submit();
      });
    });
  }

  function fillButtons() {
    document.querySelectorAll("button[data-fill]").forEach(function (button) {
      button.addEventListener("click", function (event) {
        var form = button.form;
        if (!form) return;
        event.preventDefault();
        var level = button.getAttribute("data-fill");
        var scope = button.closest("[data-fill-scope]") || form;
        scope.querySelectorAll('input[type="radio"][name^="level:"]').forEach(function (input) {
          if (input.value === level) input.checked = true;
        });
        var status = form.querySelector("[data-fill-status]");
        if (status) status.textContent = "Tous les élèves au niveau " + level + ". Vérifiez puis validez.";
        var submit = form.querySelector('button[name="action"]');
        if (submit && submit.scrollIntoView) submit.scrollIntoView({ block: "nearest" });
      });
    });
  }

  var CURRENT = "#1d4f91";
  var VOLTAGE = "#b35c00";

  function padded(low, high, band) {
    if (band) {
      low = Math.min(low, band[0]);
      high = Math.max(high, band[1]);
    }
    var pad = Math.max((high - low) * 0.12, 1);
    return [Math.floor(low - pad), Math.ceil(high + pad)];
  }

  function drawBehind(chart) {
    return function (u) {
      var ctx = u.ctx;
      var box = u.bbox;
      ctx.save();
      // Out-of-range stretches: red columns over the whole height.
      ctx.fillStyle = "rgba(160, 27, 27, 0.22)";
      (chart.out || []).forEach(function (stretch) {
        var x0 = u.valToPos(stretch[0], "x", true);
        var x1 = u.valToPos(stretch[1], "x", true);
        ctx.fillRect(x0, box.top, Math.max(x1 - x0, 2), box.height);
      });
      if (chart.band) {
        // The WPS current band, filled; the voltage band, dashed lines.
        var top = u.valToPos(chart.band.i[1], "A", true);
        var bottom = u.valToPos(chart.band.i[0], "A", true);
        ctx.fillStyle = "rgba(23, 102, 58, 0.16)";
        ctx.fillRect(box.left, top, box.width, bottom - top);
        ctx.strokeStyle = VOLTAGE;
        ctx.lineWidth = 1.5 * (window.devicePixelRatio || 1);
        ctx.setLineDash([8, 6]);
        chart.band.u.forEach(function (value) {
          var y = u.valToPos(value, "V", true);
          ctx.beginPath();
          ctx.moveTo(box.left, y);
          ctx.lineTo(box.left + box.width, y);
          ctx.stroke();
        });
      }
      ctx.restore();
    };
  }

  function drawCharts() {
    var source = document.getElementById("weld-charts");
    if (!source || typeof window.uPlot !== "function") return;
    var charts;
    try {
      charts = JSON.parse(source.textContent || "{}");
    } catch (error) {
      return;
    }
    var plots = [];
    document.querySelectorAll("[data-chart]").forEach(function (holder) {
      var chart = charts[holder.getAttribute("data-chart")];
      if (!chart || !chart.t || !chart.t.length) return;
      var band = chart.band;
      var options = {
        width: Math.max(holder.clientWidth, 280),
        height: 230,
        legend: { show: false },
        cursor: { drag: { x: false, y: false } },
        scales: {
          x: { time: false },
          A: { range: function (u, low, high) { return padded(low, high, band && band.i); } },
          V: { range: function (u, low, high) { return padded(low, high, band && band.u); } },
        },
        series: [
          { label: "Temps (s)" },
          { label: "Intensité (A)", scale: "A", stroke: CURRENT, width: 2 },
          { label: "Tension (V)", scale: "V", stroke: VOLTAGE, width: 2 },
        ],
        axes: [
          { label: "secondes", size: 40 },
          { scale: "A", label: "Intensité (A)", stroke: CURRENT, labelSize: 24, size: 48 },
          {
            scale: "V",
            label: "Tension (V)",
            side: 1,
            stroke: VOLTAGE,
            grid: { show: false },
            labelSize: 24,
            size: 48,
          },
        ],
        hooks: { drawClear: [drawBehind(chart)] },
      };
      var plot = new window.uPlot(options, [chart.t, chart.i, chart.u], holder);
      holder.setAttribute("data-drawn", "true");
      plots.push([plot, holder]);
    });
    var pending = null;
    window.addEventListener("resize", function () {
      if (pending) window.clearTimeout(pending);
      pending = window.setTimeout(function () {
        plots.forEach(function (pair) {
          pair[0].setSize({ width: Math.max(pair[1].clientWidth, 280), height: 230 });
        });
      }, 150);
    });
  }

  var PHOTO_SIDE = 1600;
  var PHOTO_QUALITIES = [0.85, 0.75, 0.6, 0.45];
  var PHOTO_MAX = 2 * 1024 * 1024; // what the server accepts
  var PHOTO_TARGET = PHOTO_MAX - 64 * 1024; // room for the form's other fields
  var PREVIEW_SIDE = 320;

  function megabytes(bytes) {
    var value = bytes / (1024 * 1024);
    return (value < 0.1 ? "0,1" : value.toFixed(1).replace(".", ",")) + "\u00a0Mo"; // no-break space
  }

  function decodeWithImage(file) {
    // Without createImageBitmap's orientation: an <img> from a data: URL (the CSP allows
    // data: images, not blob: ones) is drawn upright by the browser.
    return new Promise(function (resolve, reject) {
      var reader = new FileReader();
      reader.onerror = function () {
        reject(reader.error);
      };
      reader.onload = function () {
        var image = new Image();
        image.onload = function () {
          resolve(image);
        };
        image.onerror = function () {
          reject(new Error("not an image"));
        };
        image.src = String(reader.result);
      };
      reader.readAsDataURL(file);
    });
  }

  function decode(file) {
    if (typeof window.createImageBitmap !== "function") return decodeWithImage(file);
    return window.createImageBitmap(file, { imageOrientation: "from-image" }).catch(function () {
      return decodeWithImage(file);
    });
  }

  function encode(canvas, index) {
    return new Promise(function (resolve) {
      canvas.toBlob(resolve, "image/jpeg", PHOTO_QUALITIES[index]);
    }).then(function (blob) {
      if (!blob) throw new Error("no JPEG");
      if (blob.size > PHOTO_TARGET && index + 1 < PHOTO_QUALITIES.length) {
        return encode(canvas, index + 1);
      }
      return blob;
    });
  }

  function shrink(file) {
    return decode(file).then(function (image) {
      var width = image.naturalWidth || image.width;
      var height = image.naturalHeight || image.height;
      if (!width || !height) throw new Error("empty image");
      var scale = Math.min(1, PHOTO_SIDE / Math.max(width, height));
      var canvas = document.createElement("canvas");
      canvas.width = Math.max(1, Math.round(width * scale));
      canvas.height = Math.max(1, Math.round(height * scale));
      var context = canvas.getContext("2d");
      context.imageSmoothingEnabled = true;
      context.imageSmoothingQuality = "high";
      context.drawImage(image, 0, 0, canvas.width, canvas.height);
      if (typeof image.close === "function") image.close();
      return encode(canvas, 0).then(function (blob) {
        return { blob: blob, canvas: canvas };
      });
    });
  }

  function previewOf(canvas) {
    var scale = Math.min(1, PREVIEW_SIDE / Math.max(canvas.width, canvas.height));
    var thumb = document.createElement("canvas");
    thumb.width = Math.max(1, Math.round(canvas.width * scale));
    thumb.height = Math.max(1, Math.round(canvas.height * scale));
    thumb.getContext("2d").drawImage(canvas, 0, 0, thumb.width, thumb.height);
    thumb.setAttribute("role", "img");
    thumb.setAttribute("aria-label", "Aperçu de la photo choisie");
    return thumb;
  }

  function goTo(location) {
    // The page of the piece again, with the message the server flashed: a reload when only
    // the #fragment differs (assigning it would merely scroll).
    var target = new URL(location, window.location.href);
    var here = new URL(window.location.href);
    if (target.pathname + target.search !== here.pathname + here.search) {
      window.location.assign(target.href);
      return;
    }
    if (target.hash && target.hash !== here.hash) window.history.replaceState(null, "", target.hash);
    window.location.reload();
  }

  function photoForm(form) {
    var input = form.querySelector('input[type="file"][name="photo"]');
    var preview = form.querySelector("[data-photo-preview]");
    var status = form.querySelector("[data-photo-status]");
    var send = form.querySelector("[data-photo-send]");
    if (!input || !status || !send || typeof window.fetch !== "function") return;
    if (typeof window.FormData !== "function") return;
    form.classList.add("is-enhanced");
    var ready = null; // the promise of {blob, name} for the photo chosen
    var busy = false;

    function say(text, bad) {
      status.textContent = text;
      status.classList.toggle("is-bad", Boolean(bad));
      status.setAttribute("role", bad ? "alert" : "status");
    }

    say("Aucune photo choisie.");

    input.addEventListener("change", function () {
      var file = input.files && input.files[0];
      if (preview) {
        preview.hidden = true;
        preview.textContent = "";
      }
      send.classList.remove("is-main");
      if (!file) {
        ready = null;
        say("Aucune photo choisie.");
        return;
      }
      say("Préparation de la photo (" + megabytes(file.size) + ")…");
      ready = shrink(file).then(
        function (done) {
          if (preview) {
            preview.appendChild(previewOf(done.canvas));
            preview.hidden = false;
          }
          say(
            "Photo prête : " + done.canvas.width + " × " + done.canvas.height + " px, " +
              megabytes(done.blob.size) + " (photo d'origine : " + megabytes(file.size) +
              "). Touchez «\u00a0Ajouter la photo\u00a0»."
          );
          send.classList.add("is-main");
          return { blob: done.blob, name: "photo.jpg" };
        },
        function () {
          // Not decodable here (a format this browser does not read): the server decides.
          say("Aperçu impossible : la photo sera envoyée telle quelle (" + megabytes(file.size) + ").");
          return { blob: file, name: file.name || "photo" };
        }
      );
    });

    function refused(response) {
      return response.json().then(
        function (body) {
          if (body && body.key && form.elements.key) form.elements.key.value = body.key;
          var error = body && body.error;
          if (error && error.message) return error.message;
          throw new Error("no message");
        }
      ).catch(function () {
        if (response.status === 400) {
          return "Le formulaire a expiré : rechargez la page, puis recommencez. Rien n'a été enregistré.";
        }
        if (response.status === 413) {
          return "Photo trop lourde : la limite est de " + megabytes(PHOTO_MAX) + ". Rien n'a été enregistré.";
        }
        return "La photo n'a pas été enregistrée (erreur " + response.status + "). Réessayez.";
      });
    }

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      if (busy) return;
      if (!ready) {
        say("Choisissez d'abord une photo de la pièce.", true);
        return;
      }
      busy = true;
      send.disabled = true;
      send.setAttribute("aria-busy", "true");
      ready
        .then(function (photo) {
          say("Envoi de la photo (" + megabytes(photo.blob.size) + ")…");
          var data = new FormData();
          data.append("csrf_token", form.elements.csrf_token.value);
          data.append("key", form.elements.key.value);
          data.append("photo", photo.blob, photo.name);
          return window.fetch(form.action, {
            method: "POST",
            body: data,
            credentials: "same-origin",
            headers: { Accept: "application/json", "X-CSRFToken": form.elements.csrf_token.value },
          });
        })
        .then(function (response) {
          if (response.ok) {
            return response.json().then(function (body) {
              goTo((body && body.location) || window.location.href);
              return null;
            });
          }
          return refused(response).then(function (message) {
            say(message, true);
          });
        })
        .catch(function () {
          say("La photo n'a pas pu être envoyée (réseau ?). Réessayez : elle ne sera enregistrée qu'une fois.", true);
        })
        .then(function () {
          busy = false;
          send.disabled = false;
          send.removeAttribute("aria-busy");
        });
    });
  }

  function photoForms() {
    document.querySelectorAll("form[data-photo-form]").forEach(photoForm);
  }

  function start() {
    autosubmit();
    fillButtons();
    photoForms();
    drawCharts();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
