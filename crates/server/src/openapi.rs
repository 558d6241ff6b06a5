//! The OpenAPI 3.1 description of the API, served at `/api/openapi.json`.

use serde_json::{json, Value};

pub fn document() -> Value {
    // Every answer carries it; the server's log line for the request has the same id.
    let request_id = json!({ "schema": { "type": "string" }, "description": "Names this request in the server log: the one the client or a load balancer sent, when it is 1-64 of A-Za-z0-9._-, else 16 hex digits" });
    let error = |description: &str| {
        json!({
            "description": description,
            "headers": { "X-Request-Id": request_id },
            "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } }
        })
    };
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "stylize",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Repaint a photo in the style of a painting. Uploads are processed in memory and never stored."
        },
        "paths": {
            "/api/stylize": { "post": {
                "summary": "Stylize a photo with a gallery style or an uploaded painting",
                "requestBody": { "required": true, "content": { "multipart/form-data": { "schema": {
                    "type": "object",
                    "required": ["image"],
                    "properties": {
                        "image": { "type": "string", "format": "binary", "description": "The photo (JPEG, PNG, WebP, TIFF, BMP or GIF; the format is read from the bytes)" },
                        "style": { "type": "string", "description": "A style id from GET /api/styles (give this or style_image)" },
                        "semantic": { "type": "string", "description": "Match regions: true (4 regions), false, or 1-8 regions; each region of the photo takes the style of the painting's matching region (one painting, not a collection)" },
                        "mask": { "type": "string", "format": "binary", "description": "Stylize only where this image is white (black keeps the photo); the photo's aspect ratio; a bad mask is 422" },
                        "style_image": { "type": "string", "format": "binary", "description": "Your own painting (give this or style)" },
                        "strength": { "type": "number", "minimum": 0, "maximum": 1, "default": 1, "description": "0 = the photo, 1 = full style" },
                        "preserve_color": { "type": "boolean", "default": false, "description": "Keep the photo's colours" },
                        "size": { "type": "integer", "minimum": 16, "description": "The result's longer side at most this many pixels (default and maximum in GET /api/styles limits); smaller photos keep their size" },
                        "format": { "type": "string", "enum": ["png", "jpeg"], "default": "png" }
                    }
                } } } },
                "responses": {
                    "200": {
                        "description": "The stylized image",
                        "headers": {
                            "X-Stylize-Seconds": { "schema": { "type": "number" }, "description": "Time spent on the request" },
                            "X-Request-Id": request_id
                        },
                        "content": { "image/png": {}, "image/jpeg": {} }
                    },
                    "400": error("Malformed request: not multipart, a missing or unknown field"),
                    "408": error("The upload was not received within the read timeout"),
                    "413": error("Upload larger than the limit (--max-upload-mb)"),
                    "415": error("An upload is not an image (content sniffed from the bytes)"),
                    "422": error("A bad value, an unknown style id, a corrupt image, more pixels than --max-pixels, or an image too small (or too thin) once resized"),
                    "429": error("All workers busy and the queue full; see Retry-After"),
                    "500": error("An internal failure: a fixed message and request_id (the details are in the server log under that id)"),
                    "503": error("Not done within --timeout, or shutting down; see Retry-After"),
                }
            } },
            "/api/styles": { "get": {
                "summary": "The style gallery and the upload limits",
                "responses": { "200": { "description": "Styles and limits", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Styles" } } } } }
            } },
            "/api/styles/{id}/thumbnail": { "get": {
                "summary": "A gallery style's thumbnail",
                "parameters": [{ "name": "id", "in": "path", "required": true, "schema": { "type": "string" } }],
                "responses": { "200": { "description": "JPEG thumbnail", "content": { "image/jpeg": {} } }, "404": error("No style with this id") }
            } },
            "/healthz": { "get": {
                "summary": "Liveness and load",
                "responses": { "200": { "description": "status (ok or shutting_down), workers, queue, pending jobs, styles" } }
            } },
            "/api/openapi.json": { "get": { "summary": "This document", "responses": { "200": { "description": "OpenAPI 3.1" } } } }
        },
        "components": { "schemas": {
            "Error": { "type": "object", "required": ["error"], "properties": {
                "error": { "type": "string", "description": "One line, for people" },
                "request_id": { "type": "string", "description": "On 500 only: the X-Request-Id to quote" }
            } },
            "Styles": { "type": "object", "properties": {
                "styles": { "type": "array", "items": { "type": "object", "properties": {
                    "id": { "type": "string" }, "name": { "type": "string" },
                    "kind": { "type": "string", "enum": ["painting", "collection"], "description": "collection: the served model's own paintings, mixed (a fine-tune's)" },
                    "thumbnail": { "type": "string", "description": "URL path" }
                } } },
                "limits": { "type": "object", "properties": {
                    "max_upload_bytes": { "type": "integer" }, "max_pixels": { "type": "integer" },
                    "max_size": { "type": "integer" }, "default_size": { "type": "integer" }
                } }
            } }
        } }
    })
}
