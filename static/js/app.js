// Small progressive enhancements; every page works without this file.
document.addEventListener("DOMContentLoaded", () => {
  // Move focus to the first invalid field so keyboard and screen-reader users land on the problem.
  const invalid = document.querySelector(".field-invalid input, .field-invalid select, .field-invalid textarea");
  if (invalid) invalid.focus();

  // A second click on "Submit" while the first is on its way does nothing (the server also
  // de-duplicates by submission key, so this is only comfort).
  document.querySelectorAll("form[data-submit-once]").forEach((form) => {
    form.addEventListener("submit", () => {
      form.querySelectorAll("button[type=submit]").forEach((button) => {
        button.setAttribute("aria-disabled", "true");
        button.addEventListener("click", (event) => event.preventDefault());
      });
    });
  });
});
