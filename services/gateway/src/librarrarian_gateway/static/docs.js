// The API's documentation page: Swagger UI on the gateway's own OpenAPI document. Its requests ("Try it
// out") carry the page's session, like the dashboard's own.
(function () {
  "use strict";
  window.addEventListener("load", function () {
    window.SwaggerUIBundle({ url: "/api/v1/openapi.json", dom_id: "#swagger-ui", deepLinking: true });
  });
})();
