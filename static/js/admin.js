// The Django admin's own markup, made readable to assistive technology where it is not.

// An autocomplete field (select2) is a combobox named by its rendered choice alone: with none chosen
// ("Organisation" left empty) it has no name at all. Its label names it first, as it names the <select>
// it stands in for.
function nameAutocompletes(root) {
  root.querySelectorAll("select.admin-autocomplete[id]").forEach((select) => {
    const label = document.querySelector(`label[for="${select.id}"]`);
    const box = select.nextElementSibling && select.nextElementSibling.querySelector(".select2-selection[role=combobox]");
    if (!label || !box) return;
    label.id = label.id || `${select.id}-label`;
    const names = (box.getAttribute("aria-labelledby") || "").split(" ").filter(Boolean);
    if (!names.includes(label.id)) box.setAttribute("aria-labelledby", [label.id, ...names].join(" "));
    // The choice shown inside it is a read-only text box of its own, as nameless.
    const shown = box.querySelector("[role=textbox]");
    if (shown && !shown.hasAttribute("aria-labelledby")) shown.setAttribute("aria-labelledby", label.id);
  });
}

window.addEventListener("load", () => {
  // SelectFilter2 (the two-list picker of filter_horizontal) names its search icon with aria-label on a
  // bare <span>, which has no role to name: as an image it is read out. (It builds the picker on this
  // same event, registered before this script's.)
  document.querySelectorAll("span.search-label-icon[aria-label]:not([role])").forEach((icon) => {
    icon.setAttribute("role", "img");
  });
});
// The admin makes its autocompletes when jQuery is ready, which jQuery runs later than the page's load
// event at times: queued behind that, this runs after it.
if (window.django && window.django.jQuery) window.django.jQuery(() => nameAutocompletes(document));
// A row added to an inline ("Add another") gets its autocompletes after this event's own handlers.
document.addEventListener("formset:added", (event) => setTimeout(() => nameAutocompletes(event.target), 0));
