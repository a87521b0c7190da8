/* Shell behaviour shared by every page (no inline scripts: the Content-Security-Policy forbids them). */
(function () {
  "use strict";
  var summary = document.getElementById("error-summary");
  if (summary) {
    summary.focus();
  }

  /* Menus: Escape closes the open one (focus back on its title); a click elsewhere closes them all. */
  var menus = document.querySelectorAll("details.menu");
  function closeAll(except) {
    menus.forEach(function (menu) {
      if (menu !== except) {
        menu.open = false;
      }
    });
  }
  menus.forEach(function (menu) {
    menu.addEventListener("toggle", function () {
      if (menu.open) {
        closeAll(menu);
      }
    });
  });
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") {
      return;
    }
    menus.forEach(function (menu) {
      if (menu.open) {
        menu.open = false;
        menu.querySelector("summary").focus();
      }
    });
  });
  document.addEventListener("click", function (event) {
    if (!event.target.closest("details.menu")) {
      closeAll(null);
    }
  });
})();
