"""In-page checks of what the views look like: overflow, WCAG contrast, run-together text, themes."""

from __future__ import annotations

from playwright.sync_api import Locator, Page, expect

THEMES = {"light": "JupyterLab Light", "dark": "JupyterLab Dark",
          "high-contrast": "JupyterLab Dark High Contrast"}

# Every top-level output area whose content is wider than the area itself (it would be cut off
# or scroll the whole output), and every view element that sticks out of its output area.
OVERFLOW_JS = """() => {
  const bad = [];
  for (const out of document.querySelectorAll('.jp-Notebook .jp-OutputArea-output')) {
    if (!out.getClientRects().length) continue;
    const box = out.getBoundingClientRect();
    if (out.scrollWidth > out.clientWidth + 1) bad.push({what: 'output area', scroll: out.scrollWidth,
        client: out.clientWidth, text: out.innerText.slice(0, 80)});
    for (const el of out.querySelectorAll('.lw-root *')) {
      if (!el.getClientRects().length || el.closest('.lw-scroll, .lw-logs, .lw-code, .lw-result pre')
          && !el.matches('.lw-scroll, .lw-logs, .lw-code, .lw-result pre')) continue;
      const r = el.getBoundingClientRect();
      if (r.width > 0 && r.right > box.right + 1) {
        bad.push({what: el.tagName.toLowerCase() + '.' + [...el.classList].join('.'),
                  right: Math.round(r.right), limit: Math.round(box.right), text: (el.textContent || '').slice(0, 60)});
        break;
      }
    }
  }
  return bad;
}"""

# WCAG 2 contrast of every text in the views against what is really behind it: the colours of the
# text and of every translucent background up to the first opaque one are composited.
CONTRAST_JS = """(selector) => {
  const parse = (c) => {
    const m = c && c.match(/rgba?\\(([^)]+)\\)/);
    if (!m) return null;
    const p = m[1].split(/[\\s,\\/]+/).filter(Boolean).map(Number);
    return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1];
  };
  const over = (top, below) => {
    const a = top[3] + below[3] * (1 - top[3]);
    return [0, 1, 2].map(i => (top[i] * top[3] + below[i] * below[3] * (1 - top[3])) / (a || 1)).concat([a]);
  };
  const background = (el) => {
    const layers = [];
    for (let e = el; e && e.nodeType === 1; e = e.parentElement) {
      const c = parse(getComputedStyle(e).backgroundColor);
      if (c && c[3] > 0) { layers.push(c); if (c[3] >= 1) break; }
    }
    let acc = [255, 255, 255, 1];
    for (let i = layers.length - 1; i >= 0; i--) acc = over(layers[i], acc);
    return acc;
  };
  const lum = (c) => {
    const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
    return 0.2126 * f(c[0]) + 0.7152 * f(c[1]) + 0.0722 * f(c[2]);
  };
  const ratio = (a, b) => { const x = lum(a), y = lum(b); return (Math.max(x, y) + 0.05) / (Math.min(x, y) + 0.05); };
  const out = [];
  let checked = 0;
  for (const el of document.querySelectorAll(selector + ' *')) {
    const own = [...el.childNodes].filter(n => n.nodeType === 3 && n.textContent.trim()).map(n => n.textContent.trim());
    if (!own.length || !el.getClientRects().length) continue;
    const cs = getComputedStyle(el);
    if (cs.visibility === 'hidden' || cs.display === 'none') continue;
    const svg = el.closest('svg');
    let fg, bg;
    if (svg) {
      bg = background(svg);
      const node = el.closest('g');
      const rect = node && node.querySelector(':scope > rect');
      if (rect) { const f = parse(getComputedStyle(rect).fill); if (f) bg = over(f, bg); }
      fg = parse(cs.fill);
    } else {
      bg = background(el);
      fg = parse(cs.color);
    }
    if (!fg) continue;
    fg = over(fg, bg);
    const size = parseFloat(cs.fontSize), weight = parseInt(cs.fontWeight, 10) || 400;
    const large = size >= 24 || (size >= 18.66 && weight >= 700);
    const need = large || weight >= 700 ? 3 : 4.5;
    const r = ratio(fg, bg);
    checked++;
    if (r < need) out.push({text: own.join(' ').slice(0, 40), ratio: Math.round(r * 100) / 100, need,
                            tag: el.tagName.toLowerCase() + '.' + [...el.classList].join('.'),
                            fg: fg.map(Math.round).join(','), bg: bg.map(Math.round).join(',')});
  }
  return {checked, failures: out};
}"""

# Leaf elements whose text is glued to a neighbour's in the rendered text ("doublev1function").
RUN_TOGETHER_JS = """(selector) => {
  const glued = [];
  let checked = 0;
  for (const area of document.querySelectorAll(selector)) {
    const text = area.innerText;
    for (const el of area.querySelectorAll('span, b, code, small, a, i, strong, em, th, td, li, div')) {
      if (el.children.length || !el.getClientRects().length) continue;
      const t = el.innerText.trim();
      if (!t || !/^[\\w#]/.test(t) || !/\\w$/.test(t)) continue;
      checked++;
      const esc = t.replace(/[.*+?^${}()|[\\]\\\\]/g, '\\\\$&');
      if (!new RegExp('(^|[^\\\\w])' + esc + '($|[^\\\\w])').test(text)) glued.push(t.slice(0, 40));
    }
  }
  return {checked, glued};
}"""


def set_theme(page: Page, theme: str) -> None:
    """Switch the app's theme ("light" / "dark") and wait until the page shows it."""
    name = THEMES[theme]
    page.evaluate("(name) => { window.jupyterapp.commands.execute('apputils:change-theme', {theme: name}); }", name)
    page.wait_for_function(
        "(dark) => document.body.dataset.jpThemeLight === (dark ? 'false' : 'true')", arg=theme != "light",
        timeout=30_000)
    page.wait_for_function("(name) => document.body.dataset.jpThemeName === name", arg=name, timeout=30_000)
    page.wait_for_timeout(300)  # the theme's stylesheet is applied; let the layout settle


def overflowing(page: Page) -> list[dict]:
    return page.evaluate(OVERFLOW_JS)


def low_contrast(page: Page, selector: str = ".jp-Notebook .jp-OutputArea-output .lw-root") -> dict:
    return page.evaluate(CONTRAST_JS, selector)


def run_together(page: Page, selector: str = ".jp-Notebook .jp-OutputArea-output") -> dict:
    return page.evaluate(RUN_TOGETHER_JS, selector)


def play_to_the_end(out: Locator) -> None:
    """In the first invocation view under `out`: First, then Play; the stepper must walk every
    step to the last (two views of one Play model stop after one step: ipywidgets 3967)."""
    view = out.locator(".lw-invocation", has=out.page.locator(".lw-stepper")).first
    last = int(view.locator(".lw-step-table tbody tr").last.get_attribute("data-step"))
    assert last >= 7
    view.locator(".lw-stepper .lw-first").click()
    current = view.locator(".lw-step-table tr.lw-current").first
    expect(current).to_have_attribute("data-step", "1")
    view.locator(".widget-play button").first.click()
    expect(current).to_have_attribute("data-step", "3", timeout=10_000)  # it went on after one step
    expect(current).to_have_attribute("data-step", str(last), timeout=(last + 4) * 1_000)
    expect(view.locator(".lw-flow .lw-flow-current")).to_have_count(1)
