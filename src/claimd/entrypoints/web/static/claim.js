// The claim page: read a QR code from the camera or from a photo (vendored jsQR), fill the fields it
// carries, and leave one press of "Claim" to the buyer. No framework, no build step.
(function () {
  "use strict";
  var form = document.getElementById("claim-form");
  if (!form || typeof window.jsQR !== "function") return;
  var $ = function (id) { return document.getElementById(id); };
  var scanButton = $("scan"), stopButton = $("stop-scan"), camera = $("camera"), video = $("video");
  var photo = $("photo"), photoLabel = $("photo-label"), status = $("scan-status");
  var code = $("code"), appField = $("application-field");
  var canvas = document.createElement("canvas");
  var context = canvas.getContext("2d", { willReadFrequently: true });
  var stream = null;

  // A claim link opened from a label: the key is in the fields now; keep it out of the history.
  if (location.search && window.history && history.replaceState) {
    history.replaceState(null, "", location.pathname);
  }

  function isLorawan(text) { return /^LW:/i.test(text.trim()); }
  function showApplication() { appField.hidden = !isLorawan(code.value); }
  code.addEventListener("input", showApplication);
  showApplication();

  function say(text) { status.textContent = text; }

  // What a QR code says: a claim link (…/claim?deviceName=…&secretKey=…) fills the name and key;
  // anything else (a TR005 LoRaWAN text, a claim token) goes into "Code".
  function apply(text) {
    var url = null;
    try { url = new URL(text.trim()); } catch (e) { url = null; }
    if (url && /^https?:$/.test(url.protocol) && /\/claim$/.test(url.pathname) && url.searchParams.get("deviceName")) {
      $("device_name").value = url.searchParams.get("deviceName");
      $("secret_key").value = url.searchParams.get("secretKey") || "";
      code.value = "";
      say("Read the label of " + $("device_name").value + ". Press Claim.");
    } else {
      code.value = text.trim();
      $("device_name").value = "";
      $("secret_key").value = "";
      say("Read a code. Press Claim.");
    }
    showApplication();
    $("claim").focus();
  }

  function decode(source, width, height) {
    canvas.width = width;
    canvas.height = height;
    context.drawImage(source, 0, 0, width, height);
    var image = context.getImageData(0, 0, width, height);
    return window.jsQR(image.data, width, height, { inversionAttempts: "attemptBoth" });
  }

  function stop() {
    if (stream) stream.getTracks().forEach(function (t) { t.stop(); });
    stream = null;
    video.srcObject = null;
    camera.hidden = true;
    scanButton.hidden = false;
  }

  function tick() {
    if (!stream) return;
    if (video.readyState >= 2 && video.videoWidth) {
      var found = decode(video, video.videoWidth, video.videoHeight);
      if (found && found.data) { stop(); apply(found.data); return; }
    }
    setTimeout(tick, 150);
  }

  if (navigator.mediaDevices && navigator.mediaDevices.getUserMedia) {
    scanButton.hidden = false;
    scanButton.addEventListener("click", function () {
      say("Starting the camera…");
      navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false }).then(function (s) {
        stream = s;
        video.srcObject = s;
        camera.hidden = false;
        scanButton.hidden = true;
        stopButton.focus();
        say("Point the camera at the QR code on the label.");
        return video.play().then(tick);
      }).catch(function (e) {
        stop();
        say("The camera could not be started (" + e.name + "). Upload a photo or type the fields instead.");
      });
    });
    stopButton.addEventListener("click", function () { stop(); say("Scanning stopped."); scanButton.focus(); });
  }

  photo.hidden = false;
  photoLabel.hidden = false;
  photo.addEventListener("change", function () {
    var file = photo.files && photo.files[0];
    if (!file) return;
    say("Reading the photo…");
    var img = new Image();
    var url = URL.createObjectURL(file);
    img.onload = function () {
      // Large phone photos are scaled down: jsQR needs a few pixels per module, not 12 megapixels.
      var scale = Math.min(1, 1600 / Math.max(img.naturalWidth, img.naturalHeight));
      var found = decode(img, Math.round(img.naturalWidth * scale), Math.round(img.naturalHeight * scale));
      URL.revokeObjectURL(url);
      photo.value = "";
      if (found && found.data) apply(found.data);
      else say("No QR code was found in the photo. Try a sharper photo, or type the fields.");
    };
    img.onerror = function () { URL.revokeObjectURL(url); say("This file is not an image."); };
    img.src = url;
  });
})();
