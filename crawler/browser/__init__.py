"""Browser capture: pages built by script rendered in headless Chromium, every request the
page makes fetched by evidence's own client (archived, paced, address-guarded), the result
kept as a screenshot, the rendered DOM and its text (``Rendered``)."""
