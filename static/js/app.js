// Small progressive enhancements; every page works without this file.
document.addEventListener("DOMContentLoaded", () => {
  // Move focus to the first invalid field so keyboard and screen-reader users land on the problem.
  const invalid = document.querySelector(".field-invalid input, .field-invalid select, .field-invalid textarea");
  if (invalid) invalid.focus();
});
