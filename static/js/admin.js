// The Django admin's own markup, made readable to assistive technology where it is not.
window.addEventListener("load", () => {
  // SelectFilter2 (the two-list picker of filter_horizontal) names its search icon with aria-label on a
  // bare <span>, which has no role to name: as an image it is read out. (It builds the picker on this
  // same event, registered before this script's.)
  document.querySelectorAll("span.search-label-icon[aria-label]:not([role])").forEach((icon) => {
    icon.setAttribute("role", "img");
  });
});
