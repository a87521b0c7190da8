/* Shell behaviour shared by every page (no inline scripts: the Content-Security-Policy forbids them). */
(function () {
  "use strict";
  var summary = document.getElementById("error-summary");
  if (summary) {
    summary.focus();
  }
})();
