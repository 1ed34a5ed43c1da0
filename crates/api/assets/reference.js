// Starts Swagger UI on ferry's generated OpenAPI document. A file of its
// own, not an inline script: ferry's Content Security Policy allows
// scripts from its own origin only.
(function () {
  "use strict";
  var root = document.getElementById("swagger-ui");
  // Relative to the page, so a ferry served under a path prefix works.
  var spec = new URL(root.getAttribute("data-spec"), document.baseURI).href;
  window.ui = SwaggerUIBundle({
    url: spec,
    domNode: root,
    deepLinking: true,
    // "Try it out" sends requests to this ferry; a token goes in
    // "Authorize" (bearer), a signed-in browser session works for reads.
    tryItOutEnabled: false,
    withCredentials: true,
    // No third-party validator badge: nothing leaves for another origin.
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
  });
})();
