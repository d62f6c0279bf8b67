// Camera QR scanner for the verifier page. It is an enhancement only: where
// the browser has no BarcodeDetector or no camera, the button stays hidden
// and the certificate is pasted instead. Nothing leaves the page but the
// form submission the verifier would make by hand.
(function () {
  "use strict";
  var button = document.getElementById("scan-start");
  var area = document.getElementById("verify-text");
  var video = document.getElementById("scan-video");
  if (!button || !area || !video || !("BarcodeDetector" in window) ||
      !navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    return;
  }
  button.hidden = false;
  button.addEventListener("click", function () {
    var detector = new window.BarcodeDetector({ formats: ["qr_code"] });
    navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" } }).then(function (stream) {
      video.srcObject = stream;
      video.hidden = false;
      button.hidden = true;
      video.play();
      var stop = function () {
        stream.getTracks().forEach(function (t) { t.stop(); });
        video.hidden = true;
      };
      var timer = window.setInterval(function () {
        detector.detect(video).then(function (codes) {
          if (codes.length > 0 && codes[0].rawValue) {
            window.clearInterval(timer);
            stop();
            area.value = codes[0].rawValue;
            area.form.submit();
          }
        }).catch(function () {});
      }, 300);
    }).catch(function () {
      button.hidden = true;
    });
  });
})();
