// Swagger UI over this server's OpenAPI document. No validator badge (it would call
// validator.swagger.io) and no outside requests: everything is same-origin.
'use strict'
window.addEventListener('DOMContentLoaded', function () {
  window.SwaggerUIBundle({
    url: '/openapi.json',
    dom_id: '#swagger-ui',
    deepLinking: false, // its links would sit inside the operation buttons (nested controls)
    validatorUrl: null,
    presets: [window.SwaggerUIBundle.presets.apis],
    layout: 'BaseLayout',
    docExpansion: 'list',
    defaultModelsExpandDepth: 0,
    tryItOutEnabled: false,
  })
})
