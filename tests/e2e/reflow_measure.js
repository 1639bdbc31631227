// What tests/e2e/test_reflow.py measures of a page: its width, clipped text, crowded small targets.
(() => {
  const vw = window.innerWidth;
  const describe = (el) => {
    let s = el.tagName.toLowerCase();
    if (el.id) s += '#' + el.id;
    if (el.classList.length) s += '.' + [...el.classList].join('.');
    const name = el.getAttribute('name') || el.getAttribute('for');
    if (name) s += `[${el.hasAttribute('for') ? 'for' : 'name'}=${name}]`;
    return s;
  };
  const path = (el) => { const parts = []; for (let e = el; e && e !== document.body && parts.length < 4; e = e.parentElement) parts.unshift(describe(e)); return parts.join(' > '); };
  const visible = (el) => { const r = el.getBoundingClientRect(); const st = getComputedStyle(el); return r.width > 0 && r.height > 0 && st.visibility !== 'hidden'; };
  const scrollsX = (el) => { for (let e = el.parentElement; e && e !== document.documentElement; e = e.parentElement) { const o = getComputedStyle(e).overflowX; if (o === 'auto' || o === 'scroll') return true; } return false; };
  const hidden = (el) => el.closest('.visually-hidden, [hidden], dialog:not([open]), details:not([open]) > :not(summary)');
  const all = [...document.body.querySelectorAll('*')].filter((el) => !hidden(el) && visible(el));
  // 1. Elements running past the right edge of the window, outside any scroll box.
  const wide = [];
  for (const el of all) {
    const r = el.getBoundingClientRect();
    if (r.right > vw + 1 + window.scrollX && !scrollsX(el)) {
      if (!wide.some((w) => w.el.contains(el))) wide.push({el, right: Math.round(r.right)});
    }
  }
  // 2. Clipped text: overflow hidden/clip with more content than box; or text spilling out of a box.
  const clipped = [];
  for (const el of all) {
    const st = getComputedStyle(el);
    if (!el.innerText || !el.innerText.trim()) continue;
    const clipX = ['hidden', 'clip'].includes(st.overflowX), clipY = ['hidden', 'clip'].includes(st.overflowY);
    if ((clipX && el.scrollWidth > el.clientWidth + 1) || (clipY && el.scrollHeight > el.clientHeight + 1))
      clipped.push(`${path(el)} clipped: scroll ${el.scrollWidth}x${el.scrollHeight} in ${el.clientWidth}x${el.clientHeight}`);
    if (st.textOverflow === 'ellipsis' && el.scrollWidth > el.clientWidth + 1)
      clipped.push(`${path(el)} ellipsis`);
  }
  // Text spilling out of its own box (visible overflow): buttons, badges, chips, cells, labels.
  const spills = [];
  for (const el of all) {
    if (el.children.length > 3) continue;
    const st = getComputedStyle(el);
    if (st.overflowX !== 'visible' || st.display === 'inline' || st.display === 'contents') continue;
    if (!el.innerText || !el.innerText.trim()) continue;
    if (el.scrollWidth > el.clientWidth + 2 && el.clientWidth > 0)
      spills.push(`${path(el)} spills: ${el.scrollWidth} > ${el.clientWidth} "${el.innerText.trim().slice(0, 40)}"`);
  }
  // 3. Targets under 24x24 whose 24 px circle meets another target.
  const targets = [...document.querySelectorAll('a[href], button, input:not([type=hidden]), select, textarea, summary, [role=button], label:has(> input)')]
    .filter((el) => !hidden(el) && visible(el) && !el.closest('.skip-link'));
  const rects = targets.map((el) => el.getBoundingClientRect());
  const small = [];
  targets.forEach((el, i) => {
    const r = rects[i];
    if (r.width >= 24 && r.height >= 24) return;
    // Inside a sentence (an inline link with text around it) is exempt.
    const st = getComputedStyle(el);
    const block = el.parentElement;
    const inline = st.display === 'inline' && block && block.innerText.trim().length > (el.innerText || '').trim().length + 2;
    const cx = r.left + r.width / 2, cy = r.top + r.height / 2;
    const near = [];
    targets.forEach((other, j) => {
      if (j === i || other.contains(el) || el.contains(other)) return;
      const o = rects[j];
      const dx = Math.max(o.left - cx, 0, cx - o.right), dy = Math.max(o.top - cy, 0, cy - o.bottom);
      const undersized = o.width < 24 || o.height < 24;
      const ox = o.left + o.width / 2, oy = o.top + o.height / 2;
      if (Math.hypot(dx, dy) < 12 || (undersized && Math.hypot(ox - cx, oy - cy) < 24)) near.push(describe(other) + ' "' + (other.innerText || other.value || '').trim().slice(0, 20) + '"');
    });
    if (near.length) small.push(`${path(el)} "${(el.innerText || el.value || el.getAttribute('aria-label') || '').trim().slice(0, 30)}" ${Math.round(r.width)}x${Math.round(r.height)}${inline ? ' (inline)' : ''} near ${near.slice(0, 3).join(', ')}`);
  });
  return {
    width: document.documentElement.scrollWidth, viewport: vw,
    wide: wide.map((w) => `${path(w.el)} right=${w.right}`).slice(0, 12),
    clipped, spills: spills.slice(0, 20), small,
  };
})
