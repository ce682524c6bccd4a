// /docs: swagger-ui from this server's own copy (reelforge.service.api_docs). Without the
// copy, a plain list of every route read from /openapi.json, and how to install it.
(function () {
  "use strict";
  const root = document.getElementById("swagger-ui");
  if (window.SwaggerUIBundle) {
    window.ui = window.SwaggerUIBundle({ url: "/openapi.json", dom_id: "#swagger-ui", deepLinking: true });
    return;
  }
  const el = (tag, text, cls) => {
    const node = document.createElement(tag);
    if (text) node.textContent = text;
    if (cls) node.className = cls;
    return node;
  };
  root.className = "fallback";
  root.append(
    el("h1", "reelforge API"),
    el("p", "swagger-ui is not installed on this server (run: python -m reelforge.service.api_docs install). The routes, from /openapi.json:"),
  );
  fetch("/openapi.json")
    .then((r) => r.json())
    .then((spec) => {
      const list = el("ul");
      for (const [path, methods] of Object.entries(spec.paths)) {
        for (const [method, op] of Object.entries(methods)) {
          const item = el("li");
          item.append(el("code", `${method.toUpperCase()} ${path}`), el("span", ` ${op.summary || ""}`));
          list.append(item);
        }
      }
      root.append(list);
    });
})();
